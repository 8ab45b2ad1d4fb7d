// Requests per second through the whole dataplane loop on one lcore: net_ring
// port, mbufs in (rx_burst), classify + answer in place, software TX stamp,
// answers out (tx_burst). The harness recycles the answers as new requests
// (one 90-byte copy each); BM_HarnessOnly measures that part alone in the
// same run so the loop's own cost can be stated.
#include <benchmark/benchmark.h>

#include "tests/dpdk/dpdk_env.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

struct Rig {
  test::RingPort port;
  std::unique_ptr<test::ControlSide> control;
  shm::Seqlock<hwclock::Timebase> timebase;
  std::unique_ptr<Worker> worker;
  test::Frame request;
  std::vector<rte_mbuf*> mbufs;
};

Rig* rig() {
  static Rig* r = [] {
    if (!test::eal_up()) return static_cast<Rig*>(nullptr);
    auto* g = new Rig;
    g->port = test::RingPort::create("lt_bench");
    g->control = std::make_unique<test::ControlSide>("bench");
    test::fit_timebase(g->timebase);
    LocalConfig local;
    local.mac = g->port.info.mac;
    local.ipv4 = {test::kServerIp};
    WorkerConfig wc;
    wc.port = g->port.port;
    g->worker = std::make_unique<Worker>(wc, local, g->control->dataplane, g->timebase, hwclock::Duration::from_s(300));
    const auto req = test::ntp_request();
    g->request = test::udp4(req, 50000, 123, test::kClientIp, test::kServerIp, g->port.info.mac);
    g->mbufs.resize(kBurst);
    return g;
  }();
  return r;
}

void refill(Rig& g, rte_mbuf** m, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    rte_pktmbuf_reset(m[i]);
    std::memcpy(rte_pktmbuf_append(m[i], static_cast<std::uint16_t>(g.request.length)), g.request.buf.data(), g.request.length);
  }
  rte_ring_enqueue_bulk(g.port.rx, reinterpret_cast<void**>(m), n, nullptr);
}

// The rig and a burst of mbufs, or nullptr with the benchmark skipped.
Rig* prepare(benchmark::State& st, rte_mbuf** m) {
  Rig* g = rig();
  if (g == nullptr) {
    st.SkipWithError("DPDK EAL cannot start here (needs root)");
  } else if (rte_pktmbuf_alloc_bulk(test::pool(), m, kBurst) != 0) {
    st.SkipWithError("no mbufs");
    g = nullptr;
  }
  return g;
}

void set_rate(benchmark::State& st, std::uint64_t requests) {
  st.SetItemsProcessed(static_cast<std::int64_t>(requests));
  st.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DataplaneLoop(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  refill(*g, m, kBurst);
  std::uint64_t answered = 0;
  for (auto _ : st) {
    g->worker->poll_once();
    const unsigned n = rte_ring_dequeue_burst(g->port.tx, reinterpret_cast<void**>(m), kBurst, nullptr);
    answered += n;
    refill(*g, m, n);
  }
  rte_ring_dequeue_burst(g->port.rx, reinterpret_cast<void**>(m), kBurst, nullptr);
  rte_pktmbuf_free_bulk(m, kBurst);
  set_rate(st, answered);
}
BENCHMARK(BM_DataplaneLoop)->MinTime(1.0);
// Fixed numbers of bursts, for instruction counts under valgrind, which are
// repeatable where this VM's timings are not. The difference of the two runs
// is 10,000 bursts without the set-up: scripts/count-instructions.sh.
BENCHMARK(BM_DataplaneLoop)->Iterations(10'000);
BENCHMARK(BM_DataplaneLoop)->Iterations(20'000);

void BM_HarnessOnly(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  std::uint64_t n = 0;
  for (auto _ : st) {
    refill(*g, m, kBurst);
    n += rte_ring_dequeue_burst(g->port.rx, reinterpret_cast<void**>(m), kBurst, nullptr);
  }
  rte_pktmbuf_free_bulk(m, kBurst);
  set_rate(st, n);
}
BENCHMARK(BM_HarnessOnly)->MinTime(1.0);
BENCHMARK(BM_HarnessOnly)->Iterations(10'000);
BENCHMARK(BM_HarnessOnly)->Iterations(20'000);

}  // namespace

BENCHMARK_MAIN();
