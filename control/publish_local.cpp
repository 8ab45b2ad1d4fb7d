// linetime-publish-local: publishes a local-reference server state into the
// dataplane's shared memory and keeps beating, the way the seeds' ntpd serves
// `server 127.127.1.0` + `fudge 127.127.1.0 stratum 10` when nothing upstream
// answers. It adjusts no clock. linetime-control supersedes it.
//
//   linetime-publish-local [--shm NAME] [--stratum N] [--duration SECONDS]
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dataplane/shm/segment.h"
#include "hwclock/ntp_time.h"

using namespace linetime;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::int64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec * hwclock::kNsPerSec + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "linetime-publish-local: %s\n", msg.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = shm::kDefaultName;
  int stratum = 10;
  double duration = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc && a != "--help") die(a + " needs a value");
    if (a == "--shm") {
      name = argv[++i];
    } else if (a == "--stratum") {
      stratum = std::atoi(argv[++i]);
      if (stratum < 1 || stratum > 15) die("--stratum takes 1 to 15");
    } else if (a == "--duration") {
      duration = std::atof(argv[++i]);
    } else {
      std::puts("usage: linetime-publish-local [--shm NAME] [--stratum N] [--duration SECONDS]");
      return a == "--help" ? 0 : 2;
    }
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  auto seg = shm::Segment::open(name, shm::Side::kControl);
  if (!seg) die(seg.error().message);
  seg->drain_stale();
  timespec res{};
  clock_getres(CLOCK_REALTIME, &res);
  const auto precision = hwclock::precision_log2(hwclock::Duration(res.tv_nsec > 0 ? res.tv_nsec : 1));
  std::fprintf(stderr, "linetime-publish-local: serving the local clock at stratum %d through %s\n", stratum, name.c_str());

  const std::int64_t start = clock_ns(CLOCK_MONOTONIC);
  while (!g_stop) {
    // The local clock is its own reference: the reference time moves with it,
    // so the served root dispersion stays at the clock's own precision.
    shm::ServerState s = shm::local_reference_state(hwclock::UtcTime(clock_ns(CLOCK_REALTIME)),
                                                    static_cast<std::uint8_t>(stratum), precision);
    seg->server_state().store(s);
    seg->heartbeat(hwclock::MonoTime(clock_ns(CLOCK_MONOTONIC)));
    if (duration > 0 && clock_ns(CLOCK_MONOTONIC) - start > static_cast<std::int64_t>(duration * 1e9)) break;
    usleep(100'000);
  }
  return 0;
}
