// The management socket: one question, one answer per connection; a second
// daemon on the same path is refused, a stale socket file is replaced, and the
// status JSON carries every field the tools print.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "control/management.h"
#include "control/status.h"

namespace linetime::control {
namespace {

std::int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

std::string temp_socket_path() {
  return "/tmp/lt-mgmt-test-" + std::to_string(::getpid()) + ".sock";
}

// Runs the server's poll loop on a thread while the test asks it questions.
class Serving {
 public:
  explicit Serving(ManagementServer& s) : thread_([this, &s] {
      while (!stop_) {
        std::vector<pollfd> fds;
        s.pollfds(fds);
        ::poll(fds.data(), fds.size(), 5);
        s.service(mono_ms());
      }
    }) {}
  ~Serving() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(Management, AnswersOneQuestionPerConnection) {
  const std::string path = temp_socket_path();
  auto server = ManagementServer::open(path, [](std::string_view cmd) { return "you said " + std::string(cmd) + "\n"; });
  ASSERT_TRUE(server) << server.error();
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  {
    Serving serving(**server);
    auto a = ask_management(path, "peers", std::chrono::milliseconds(2000));
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(*a, "you said peers\n");
    auto b = ask_management(path, "status", std::chrono::milliseconds(2000));
    ASSERT_TRUE(b) << b.error();
    EXPECT_EQ(*b, "you said status\n");
    // A second daemon on the same path is refused while this one answers.
    auto second = ManagementServer::open(path, [](std::string_view) { return std::string(); });
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("already answering"), std::string::npos) << second.error();
  }
  server->reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed on shutdown
}

TEST(Management, LargeAnswersArriveWhole) {
  const std::string path = temp_socket_path();
  const std::string big(300'000, 'x');
  auto server = ManagementServer::open(path, [&](std::string_view) { return big; });
  ASSERT_TRUE(server) << server.error();
  Serving serving(**server);
  auto a = ask_management(path, "peers", std::chrono::milliseconds(5000));
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->size(), big.size());
}

TEST(Management, StaleSocketFileIsReplaced) {
  const std::string path = temp_socket_path();
  {
    auto first = ManagementServer::open(path, [](std::string_view) { return std::string("a\n"); });
    ASSERT_TRUE(first);
    // Simulate a crash: the file stays behind, nobody listens.
    const std::string keep = path + ".keep";
    ASSERT_EQ(::link(path.c_str(), keep.c_str()), 0);
    first->reset();
    ASSERT_EQ(::rename(keep.c_str(), path.c_str()), 0);
  }
  auto second = ManagementServer::open(path, [](std::string_view) { return std::string("b\n"); });
  ASSERT_TRUE(second) << second.error();
}

TEST(Management, ErrorsSayWhatToDo) {
  auto a = ask_management("/tmp/lt-no-such-daemon.sock", "status", std::chrono::milliseconds(200));
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().find("is the daemon running?"), std::string::npos) << a.error();
  auto b = ManagementServer::open("/tmp/lt-no-such-dir/x.sock", [](std::string_view) { return std::string(); });
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("create its directory first"), std::string::npos) << b.error();
}

TEST(Status, JsonCarriesEveryField) {
  Status s;
  s.system.mode = "synchronized";
  s.system.stratum = 2;
  s.system.refid = "198.18.1.1";
  s.system.offset_ms = -0.0125;
  SourceRow r;
  r.tally = '*';
  r.remote = "198.18.1.1";
  r.refid = "LOCL";
  r.stratum = 1;
  r.when_s = 12.7;
  r.poll_log2 = 6;
  r.reach = 0377;
  r.delay_ms = 0.25;
  r.state = "sys.peer \"quoted\"";
  s.sources.push_back(r);
  const std::string j = to_json(s);
  EXPECT_NE(j.find("\"mode\":\"synchronized\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"offset_ms\":-0.0125"), std::string::npos) << j;
  EXPECT_NE(j.find("\"tally\":\"*\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"when_s\":12,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"reach\":255"), std::string::npos) << j;
  EXPECT_NE(j.find("\"state\":\"sys.peer \\\"quoted\\\"\""), std::string::npos) << j;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
}

}  // namespace
}  // namespace linetime::control
