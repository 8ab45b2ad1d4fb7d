// Control and dataplane sides as two real processes (tests/unit/shm/shm_peer):
// millions of ring messages, a full-speed seqlock writer against a reader, and
// SIGKILL of either side at random points (fixed seed) followed by recovery.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/shm/segment.h"
#include "tests/unit/shm/shm_test_util.h"

extern char** environ;

using namespace linetime::shm;

namespace {

const char* peer_path() {
  const char* p = std::getenv("LT_SHM_PEER");
  return p != nullptr ? p : "tests/unit/shm/shm_peer";
}

// A peer process, killed (SIGKILL) if still running when it goes out of scope.
class Peer {
 public:
  explicit Peer(std::vector<std::string> args) {
    out_ = "/tmp/lt-shm-peer-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".out";
    args.insert(args.begin(), peer_path());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Peer() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(out_.c_str());
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  bool started() const { return pid_ > 0; }
  // Kills the peer; returns -1 when it was still running (healthy), or the
  // status it had already exited with (a peer that found a fault exits 1).
  int kill9() {
    ::kill(pid_, SIGKILL);
    return wait();
  }
  // Exit status, or -1 when killed by a signal; waits at most `limit`.
  int wait(std::chrono::seconds limit = std::chrono::seconds(90)) {
    if (done_) return status_;
    const auto until = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    done_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return status_;
  }
  std::string output() const {
    std::ifstream in(out_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  static inline int counter_ = 0;
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = -1;
  std::string out_;
};

long long field(const std::string& out, const std::string& key) {
  const auto at = out.find(key + "=");
  return at == std::string::npos ? -1 : std::atoll(out.c_str() + at + key.size() + 1);
}

}  // namespace

TEST(ShmProcesses, TwoMillionRingMessagesArriveWholeAndInOrder) {
  test::ShmName name;
  ASSERT_TRUE(Segment::open(name.str(), Side::kObserver, {}).error().code == SegmentError::Code::kNotFound);
  const std::string until = "2000000";
  Peer consumer({"consume", name.str(), until});
  Peer producer({"produce", name.str(), until});
  ASSERT_TRUE(consumer.started() && producer.started());
  EXPECT_EQ(producer.wait(), 0);
  EXPECT_EQ(consumer.wait(), 0) << consumer.output();
  EXPECT_EQ(field(consumer.output(), "consumed-until"), 2'000'000);
}

TEST(ShmProcesses, SeqlockReaderNeverSeesATornState) {
  test::ShmName name;
  auto seg = Segment::open(name.str(), Side::kControl);  // created first, so both peers attach
  ASSERT_TRUE(seg);
  Peer reader({"read-state", name.str(), "1500"});
  Peer writer({"write-state", name.str(), "1400", "1"});
  EXPECT_EQ(writer.wait(), 0);
  ASSERT_EQ(reader.wait(), 0) << reader.output();
  EXPECT_GT(field(writer.output(), "stored"), 100'000);
  EXPECT_GT(field(reader.output(), "reads"), 10'000) << reader.output();
}

TEST(ShmProcesses, WriterKilledAtRandomPointsNeverTearsOrBlocksTheReader) {
  test::ShmName name;
  auto seg = Segment::open(name.str(), Side::kControl);
  ASSERT_TRUE(seg);
  Peer reader({"read-state", name.str(), "3000"});
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> life_ms(5, 60);
  constexpr std::int64_t kEpoch = 1'000'000'000'000LL;
  constexpr int kWriters = 8;
  auto epoch_now = [&] {
    ServerState s;
    return seg->server_state().try_load(s) != 0 ? s.reference_time_ns / kEpoch : -1;
  };
  for (int i = 1; i <= kWriters; ++i) {
    // Each incarnation stores from a higher base; it is killed at a random
    // point after its first store, most likely in the middle of one.
    Peer writer({"write-state", name.str(), "5000", std::to_string(i * kEpoch)});
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (epoch_now() != i && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    ASSERT_EQ(epoch_now(), i) << "writer " << i << " never stored";
    std::this_thread::sleep_for(std::chrono::milliseconds(life_ms(rng)));
    EXPECT_EQ(writer.kill9(), -1) << writer.output();
  }
  Peer last({"write-state", name.str(), "300", std::to_string((kWriters + 1) * kEpoch)});
  EXPECT_EQ(last.wait(), 0);
  ASSERT_EQ(reader.wait(), 0) << reader.output();
  // The reader was never blocked by a writer killed mid-store, and it
  // followed the incarnation that came after the kills.
  EXPECT_EQ(field(reader.output(), "last-epoch"), kWriters + 1) << reader.output();
  EXPECT_GE(field(reader.output(), "epochs"), 2) << reader.output();
  EXPECT_EQ(epoch_now(), kWriters + 1);
}

TEST(ShmProcesses, RingSurvivesKillsOfEitherSide) {
  test::ShmName name;
  auto seg = Segment::open(name.str(), Side::kObserver, {});
  ASSERT_FALSE(seg);
  constexpr std::uint64_t kTotal = 3'000'000;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> life_ms(10, 80);
  // Kill the producer a few times while the consumer runs, then the consumer
  // a few times while the producer runs; each restart resumes from the
  // indices in shared memory and the sequence must continue exactly.
  {
    Peer consumer({"consume", name.str(), std::to_string(kTotal)});
    for (int i = 0; i < 4; ++i) {
      Peer producer({"produce", name.str(), std::to_string(kTotal)});
      std::this_thread::sleep_for(std::chrono::milliseconds(life_ms(rng)));
      EXPECT_EQ(producer.kill9(), -1) << producer.output();
    }
    Peer producer({"produce", name.str(), std::to_string(kTotal / 2)});
    EXPECT_EQ(producer.wait(), 0);
    EXPECT_EQ(consumer.kill9(), -1) << consumer.output();
  }
  {
    Peer producer({"produce", name.str(), std::to_string(kTotal)});
    for (int i = 0; i < 4; ++i) {
      Peer consumer({"consume", name.str(), std::to_string(kTotal)});
      std::this_thread::sleep_for(std::chrono::milliseconds(life_ms(rng)));
      ASSERT_EQ(consumer.kill9(), -1) << consumer.output();
    }
    Peer consumer({"consume", name.str(), std::to_string(kTotal)});
    EXPECT_EQ(consumer.wait(), 0) << consumer.output();
    EXPECT_EQ(producer.wait(), 0);
    EXPECT_EQ(field(consumer.output(), "consumed-until"), static_cast<long long>(kTotal));
  }
}
