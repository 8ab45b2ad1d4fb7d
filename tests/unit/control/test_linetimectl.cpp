// The linetimectl executable end to end: its output and exit codes against a
// management socket served in this process (answers from golden/), with no
// daemon at all, and the dataplane counters from a shared-memory segment this
// test creates and removes.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "control/json.h"
#include "control/management.h"
#include "dataplane/counters.h"
#include "dataplane/shm/segment.h"

using namespace linetime;
using namespace linetime::control;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
std::string golden(const std::string& name) { return read_file(std::string(LINETIME_GOLDEN_DIR) + "/" + name); }

struct CtlRun {
  std::string out;  // standard output and error
  int exit_code = -1;
};

CtlRun linetimectl(const std::string& args) {
  CtlRun r;
  const std::string cmd = std::string("'") + LINETIMECTL + "' " + args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

// A management socket answering "status"/"peers" with `answer`.
class FakeDaemon {
 public:
  explicit FakeDaemon(std::string answer) : answer_(std::move(answer)) {
    path_ = "/tmp/linetimectl-test-" + std::to_string(::getpid()) + ".sock";
    auto s = ManagementServer::open(path_, [this](std::string_view c) {
      if (c == "status" || c == "peers") return answer_;
      if (c == "metrics") return std::string("linetime_stratum 2\n");
      return "error: unknown request '" + std::string(c) + "'\n";
    });
    EXPECT_TRUE(s.has_value()) << s.error();
    if (s) server_ = std::move(*s);
    thread_ = std::thread([this] {
      std::vector<pollfd> fds;
      while (!stop_ && server_) {
        fds.clear();
        server_->pollfds(fds);
        ::poll(fds.data(), fds.size(), 20);
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        server_->service(std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000);
      }
    });
  }
  ~FakeDaemon() {
    stop_ = true;
    thread_.join();
    server_.reset();  // removes the socket file
  }
  std::string args() const { return "-s " + path_; }

 private:
  std::string answer_;
  std::string path_;
  std::unique_ptr<ManagementServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST(Linetimectl, StatusSynchronisedExitsZero) {
  FakeDaemon d(golden("synced.json"));
  const CtlRun r = linetimectl(d.args() + " status");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, golden("synced.status.txt"));
}

TEST(Linetimectl, StatusUnsynchronisedExitsOne) {
  FakeDaemon d(golden("unsynced.json"));
  const CtlRun r = linetimectl(d.args() + " status");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, golden("unsynced.status.txt"));
}

TEST(Linetimectl, StatusWithoutDaemonExitsTwo) {
  const CtlRun r = linetimectl("-s /tmp/linetimectl-test-nobody-" + std::to_string(::getpid()) + ".sock status");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("cannot reach linetime-control at"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-s SOCKET"), std::string::npos) << r.out;
}

TEST(Linetimectl, StatusOfGarbageExitsTwo) {
  FakeDaemon d("{\"system\":{}}\n");
  const CtlRun r = linetimectl(d.args() + " status");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("system.mode is missing"), std::string::npos) << r.out;
}

TEST(Linetimectl, PeersTableAndJson) {
  FakeDaemon d(golden("synced.json"));
  CtlRun r = linetimectl(d.args() + " peers");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, golden("synced.peers.txt"));
  r = linetimectl(d.args() + " peers --json");
  EXPECT_EQ(r.exit_code, 0);
  auto back = status_from_json(r.out);
  ASSERT_TRUE(back.has_value()) << back.error() << "\n" << r.out;
  EXPECT_EQ(r.out, to_json(*status_from_json(golden("synced.json"))) + "\n");
  r = linetimectl(d.args() + " status --json");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(status_from_json(r.out).has_value());
}

TEST(Linetimectl, Metrics) {
  FakeDaemon d(golden("synced.json"));
  const CtlRun r = linetimectl(d.args() + " metrics");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "linetime_stratum 2\n");
}

TEST(Linetimectl, UsageErrorsExitTwo) {
  CtlRun r = linetimectl("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("give a command"), std::string::npos);
  r = linetimectl("query");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("query needs at least one HOST"), std::string::npos);
  r = linetimectl("counters");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("--shm NAME"), std::string::npos);
  r = linetimectl("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  r = linetimectl("--help");
  EXPECT_EQ(r.exit_code, 0);
}

TEST(Linetimectl, CheckConfig) {
  const std::string path = "/tmp/linetimectl-test-" + std::to_string(::getpid()) + ".conf";
  std::ofstream(path) << "server 198.18.0.1 iburst\nrestrict default nomodify\n";
  CtlRun r = linetimectl("check-config " + path);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("configuration OK"), std::string::npos) << r.out;
  std::ofstream(path) << "server\n";
  r = linetimectl("check-config " + path);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  ::unlink(path.c_str());
}

TEST(Linetimectl, CountersFromSharedMemory) {
  using dataplane::Counter;
  const std::string name = "/linetime-ctl-test-" + std::to_string(::getpid());
  shm::Segment::unlink(name);
  struct Unlink {  // also when an assertion ends the test early
    const std::string& name;
    ~Unlink() { shm::Segment::unlink(name); }
  } unlink_at_end{name};
  {
    auto seg = shm::Segment::open(name, shm::Side::kDataplane);
    ASSERT_TRUE(seg.has_value()) << seg.error().message;
    seg->self().lcores.store(2);
    seg->counters()[0].add(dataplane::index(Counter::kRxFrames), 40);
    seg->counters()[1].add(dataplane::index(Counter::kRxFrames), 2);
    seg->counters()[1].add(dataplane::index(dataplane::counter_for(dataplane::NtpOutcome::kAnswered)), 7);
    const CtlRun r = linetimectl("counters --shm " + name);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out,
              "counter                               total      lcore 0      lcore 1\n"
              "rx-frames                                42           40            2\n"
              "answered                                  7            0            7\n");
    const CtlRun rates = linetimectl("counters --shm " + name + " --interval 0.2");
    EXPECT_EQ(rates.exit_code, 0) << rates.out;
    EXPECT_NE(rates.out.find("per second"), std::string::npos) << rates.out;
    EXPECT_NE(rates.out.find("\nrx-frames                                42          0.0           40            2\n"),
              std::string::npos)
        << rates.out;
  }
  shm::Segment::unlink(name);
  const CtlRun missing = linetimectl("counters --shm " + name);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(missing.out.empty());
}
