// A peer process for the shared-memory tests: plays one side of the segment,
// checks everything it reads, and exits non-zero on the first inconsistency.
//
//   shm_peer produce NAME UNTIL      push ring messages until the ring's head reaches UNTIL
//   shm_peer consume NAME UNTIL      read and verify messages until the tail reaches UNTIL
//   shm_peer write-state NAME MS K0  store ServerStates k = K0, K0+1, ... for MS milliseconds
//   shm_peer read-state NAME MS      read ServerStates for MS milliseconds, check none is torn
//
// Producer and consumer resume from the indices in shared memory, so a peer
// killed with SIGKILL can be restarted and the sequence must continue exactly.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "dataplane/shm/segment.h"
#include "tests/unit/shm/shm_test_util.h"

using namespace linetime;
using namespace linetime::shm;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kBound = std::chrono::seconds(60);  // no peer ever runs longer

Segment open_or_die(const std::string& name, Side side) {
  auto seg = Segment::open(name, side);
  if (!seg) {
    std::fprintf(stderr, "shm_peer: %s\n", seg.error().message.c_str());
    std::exit(3);
  }
  return std::move(*seg);
}

int produce(const std::string& name, std::uint64_t until) {
  Segment seg = open_or_die(name, Side::kControl);
  RingControl* ctl = seg.upstream_tx();
  RingProducer<UpstreamRequest> p(ctl);
  std::uint64_t seq = ctl->head.load();
  const auto deadline = Clock::now() + kBound;
  while (seq < until) {
    UpstreamRequest* m = p.claim();
    if (m == nullptr) {
      if (Clock::now() > deadline) return 2;
      std::this_thread::yield();
      continue;
    }
    test::fill(*m, seq++);
    p.publish();
  }
  return 0;
}

int consume(const std::string& name, std::uint64_t until) {
  Segment seg = open_or_die(name, Side::kDataplane);
  RingControl* ctl = seg.upstream_tx();
  RingConsumer<UpstreamRequest> c(ctl);
  std::uint64_t seq = ctl->tail.load();
  const auto deadline = Clock::now() + kBound;
  while (seq < until) {
    const std::uint64_t n = c.available();
    if (n == 0) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "shm_peer: consumer timed out at %llu\n", static_cast<unsigned long long>(seq));
        return 2;
      }
      std::this_thread::yield();
      continue;
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::string bad = test::verify(*c.peek(i), seq + i);
      if (!bad.empty()) {
        std::fprintf(stderr, "shm_peer: ring message broken: %s\n", bad.c_str());
        return 1;
      }
    }
    c.pop(n);
    seq += n;
  }
  std::printf("consumed-until=%llu\n", static_cast<unsigned long long>(seq));
  return 0;
}

int write_state(const std::string& name, int ms, std::int64_t k0) {
  Segment seg = open_or_die(name, Side::kControl);
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  std::int64_t k = k0;
  while (Clock::now() < until) {
    for (int i = 0; i < 1000; ++i) seg.server_state().store(test::state_for(k++));
  }
  std::printf("stored=%lld\n", static_cast<long long>(k - k0));
  return 0;
}

int read_state(const std::string& name, int ms) {
  Segment seg = open_or_die(name, Side::kDataplane);
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  long long reads = 0, epochs = 0;
  std::int64_t last = -1, epoch = -1;
  while (Clock::now() < until) {
    ServerState s;
    if (seg.server_state().try_load(s) == 0) continue;
    ++reads;
    if (!test::consistent(s)) {
      std::fprintf(stderr, "shm_peer: torn ServerState read (k=%lld)\n", static_cast<long long>(s.reference_time_ns));
      return 1;
    }
    if (s.reference_time_ns < last) {
      std::fprintf(stderr, "shm_peer: ServerState went back from %lld to %lld\n", static_cast<long long>(last),
                   static_cast<long long>(s.reference_time_ns));
      return 1;
    }
    last = s.reference_time_ns;
    const std::int64_t e = s.reference_time_ns / 1'000'000'000'000LL;
    if (e != epoch) {
      epoch = e;
      ++epochs;
    }
  }
  std::printf("reads=%lld epochs=%lld last-epoch=%lld\n", reads, epochs, static_cast<long long>(epoch));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: shm_peer produce|consume|write-state|read-state NAME ARGS...\n");
    return 2;
  }
  const std::string mode = argv[1], name = argv[2];
  if (mode == "produce") return produce(name, std::strtoull(argv[3], nullptr, 10));
  if (mode == "consume") return consume(name, std::strtoull(argv[3], nullptr, 10));
  if (mode == "write-state" && argc == 5) return write_state(name, std::atoi(argv[3]), std::atoll(argv[4]));
  if (mode == "read-state") return read_state(name, std::atoi(argv[3]));
  std::fprintf(stderr, "shm_peer: unknown mode '%s'\n", mode.c_str());
  return 2;
}
