// In-process DPDK for tests and benchmarks: EAL without hugepages or PCI, a
// mbuf pool, net_ring ports to inject frames into and capture answers from,
// and a shared-memory segment with a control side that publishes state.
#pragma once

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/port.h"
#include "dataplane/shm/segment.h"
#include "dataplane/worker.h"
#include "hwclock/timebase.h"

namespace linetime::test {

inline std::int64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// EAL is initialised once per process; returns false (with the reason
// printed) when it cannot be.
inline bool eal_up() {
  static int state = 0;  // 0 untried, 1 up, -1 failed
  if (state == 0) {
    const char* args[] = {"linetime-test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf", "--no-telemetry",
                          "--log-level=lib.eal:error", "-l", "0", "--file-prefix", "lt-test"};
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    state = rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0 ? 1 : -1;
  }
  return state == 1;
}

inline rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create("lt_test_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  return p;
}

// A net_ring port: frames enqueued on `rx` are what the port receives; what
// the worker transmits lands on `tx`.
struct RingPort {
  rte_ring* rx = nullptr;
  rte_ring* tx = nullptr;
  std::uint16_t port = 0;
  dataplane::PortInfo info;

  static RingPort create(const std::string& name) {
    RingPort p;
    p.rx = rte_ring_create((name + "_rx").c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx = rte_ring_create((name + "_tx").c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    const int id = rte_eth_from_rings(name.c_str(), &p.rx, 1, &p.tx, 1, 0);
    p.port = static_cast<std::uint16_t>(id);
    auto info = dataplane::start_port(dataplane::PortRequest{p.port, 1, pool()});
    if (info) p.info = *info;
    return p;
  }

  bool inject(const std::uint8_t* frame, std::size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    if (m == nullptr) return false;
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(len)), frame, len);
    if (rte_ring_enqueue(rx, m) != 0) {
      rte_pktmbuf_free(m);
      return false;
    }
    return true;
  }

  // The frames transmitted so far, as byte vectors.
  std::vector<std::vector<std::uint8_t>> capture() {
    std::vector<std::vector<std::uint8_t>> out;
    void* obj = nullptr;
    while (rte_ring_dequeue(tx, &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
      out.emplace_back(d, d + rte_pktmbuf_data_len(m));
      rte_pktmbuf_free(m);
    }
    return out;
  }
};

// A fitted timebase for workers, from the real clocks.
inline void fit_timebase(shm::Seqlock<hwclock::Timebase>& lock) {
  hwclock::TimebaseEstimator est(static_cast<double>(rte_get_tsc_hz()));
  for (int r = 0; r < 4; ++r) {
    dataplane::sample_timebase(est);
    usleep(2000);
  }
  lock.store(est.timebase());
}

// A segment with its control side publishing a synchronized stratum-2 state.
struct ControlSide {
  std::string name;
  shm::Segment control;
  shm::Segment dataplane;

  explicit ControlSide(const std::string& suffix)
      : name("/linetime-dpdk-test-" + std::to_string(::getpid()) + "-" + suffix) {
    shm::Segment::unlink(name);
    control = *shm::Segment::open(name, shm::Side::kControl);
    dataplane = *shm::Segment::open(name, shm::Side::kDataplane);
    // Both sides are mapped: the name can go now, so nothing is left behind
    // even when the process never runs its destructors.
    shm::Segment::unlink(name);
    publish(2);
  }

  void publish(std::uint8_t stratum) {
    auto s = shm::local_reference_state(hwclock::UtcTime(clock_ns(CLOCK_REALTIME)), stratum, -20);
    s.reference_id = 0xC6120063;  // 198.18.0.99
    control.server_state().store(s);
    control.heartbeat(hwclock::MonoTime(clock_ns(CLOCK_MONOTONIC)));
  }
};

// What a Worker under test needs besides its addresses: a net_ring port
// ("lt_ring_" + name), the control's side of the shared memory and a fitted
// timebase. Tests bind its parts to names of their own:
//   auto& [port, control, timebase, wc] = rig;
struct WorkerRig {
  RingPort port;
  ControlSide control;
  shm::Seqlock<hwclock::Timebase> timebase;
  dataplane::WorkerConfig config;  // on `port`

  explicit WorkerRig(const std::string& name) : port(RingPort::create("lt_ring_" + name)), control(name) {
    fit_timebase(timebase);
    config.port = port.port;
  }
};

}  // namespace linetime::test
