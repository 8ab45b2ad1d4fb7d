// Shared-memory costs: ServerState reads, and ring messages per second on one
// core and across cores, for our SPSC ring and for DPDK's rte_ring (elem API,
// initialised with rte_ring_init on plain memory, as it would be on the shared
// segment) with the same message and burst size.
//
// Cross-core figures on a 2-vCPU VM swing with where the hypervisor places the
// two vCPUs; run with --benchmark_repetitions and compare the distributions.
#include <benchmark/benchmark.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>

#include "dataplane/shm/ring.h"
#include "dataplane/shm/segment.h"
#include "dataplane/shm/state_reader.h"

using namespace linetime;
using namespace linetime::shm;

namespace {

constexpr unsigned kBurst = 32;
constexpr std::uint32_t kCapacity = 4096;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
std::unique_ptr<void, AlignedFree> aligned_block(std::size_t bytes) {
  return std::unique_ptr<void, AlignedFree>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
}

void BM_StateTryLoad(benchmark::State& st) {
  Seqlock<ServerState> lock;
  lock.store(local_reference_state(hwclock::UtcTime(1), 2, -20));
  ServerState s;
  for (auto _ : st) {
    benchmark::DoNotOptimize(lock.try_load(s));
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_StateTryLoad);

// What an lcore pays per burst when nothing changed.
void BM_StateRefreshUnchanged(benchmark::State& st) {
  Seqlock<ServerState> lock;
  Party control;
  control.heartbeat_mono_ns.store(1'000);
  lock.store(local_reference_state(hwclock::UtcTime(1), 2, -20));
  StateReader reader(lock, control, hwclock::Duration::from_s(300));
  hwclock::MonoTime now(2'000);
  for (auto _ : st) {
    benchmark::DoNotOptimize(reader.refresh(now));
  }
}
BENCHMARK(BM_StateRefreshUnchanged);

// Our ring: fill in place, publish once per burst.
template <class M>
void BM_RingSameCore(benchmark::State& st) {
  auto mem = aligned_block(RingLayout<M>::bytes_for(kCapacity));
  RingControl* ctl = RingLayout<M>::init(mem.get(), kCapacity);
  RingProducer<M> p(ctl);
  RingConsumer<M> c(ctl);
  std::uint64_t seq = 0, sum = 0;
  for (auto _ : st) {
    for (unsigned i = 0; i < kBurst; ++i) p.claim()->cookie = seq++;
    p.publish();
    const std::uint64_t n = c.available();
    for (std::uint64_t i = 0; i < n; ++i) sum += c.peek(i)->cookie;
    c.pop(n);
  }
  benchmark::DoNotOptimize(sum);
  st.SetItemsProcessed(st.iterations() * kBurst);
}
BENCHMARK_TEMPLATE(BM_RingSameCore, TxCompletion);
BENCHMARK_TEMPLATE(BM_RingSameCore, UpstreamRequest);

template <class M>
void BM_RingCrossCore(benchmark::State& st) {
  auto mem = aligned_block(RingLayout<M>::bytes_for(kCapacity));
  RingControl* ctl = RingLayout<M>::init(mem.get(), kCapacity);
  const std::uint64_t total = static_cast<std::uint64_t>(st.max_iterations) * kBurst;
  std::atomic<std::uint64_t> received{0};
  std::thread consumer([&] {
    RingConsumer<M> c(ctl);
    std::uint64_t got = 0, expect = 0;
    bool ordered = true;
    while (got < total) {
      const std::uint64_t n = c.available();
      for (std::uint64_t i = 0; i < n; ++i) ordered &= c.peek(i)->cookie == expect++;
      c.pop(n);
      got += n;
    }
    received.store(ordered ? got : 0);
  });
  RingProducer<M> p(ctl);
  std::uint64_t seq = 0;
  for (auto _ : st) {
    for (unsigned i = 0; i < kBurst; ++i) {
      M* m;
      while ((m = p.claim()) == nullptr) p.publish();
      m->cookie = seq++;
      if constexpr (sizeof(M) > 64) m->length = 48;
    }
    p.publish();
  }
  consumer.join();
  if (received.load() != total) st.SkipWithError("messages lost or out of order");
  st.SetItemsProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK_TEMPLATE(BM_RingCrossCore, TxCompletion)->Iterations(2'000'000)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RingCrossCore, UpstreamRequest)->Iterations(500'000)->UseRealTime();

// DPDK's rte_ring, SP/SC, same element size, burst of 32, copy in and out.
void BM_RteRingCrossCore(benchmark::State& st) {
  constexpr unsigned kSize = sizeof(TxCompletion);
  const ssize_t bytes = rte_ring_get_memsize_elem(kSize, kCapacity);
  auto mem = aligned_block(static_cast<std::size_t>(bytes));
  auto* r = static_cast<rte_ring*>(mem.get());
  if (rte_ring_init(r, "bench", kCapacity, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
    st.SkipWithError("rte_ring_init failed");
    return;
  }
  const std::uint64_t total = static_cast<std::uint64_t>(st.max_iterations) * kBurst;
  std::atomic<std::uint64_t> received{0};
  std::thread consumer([&] {
    TxCompletion out[kBurst];
    std::uint64_t got = 0, expect = 0;
    bool ordered = true;
    while (got < total) {
      const unsigned n = rte_ring_dequeue_burst_elem(r, out, kSize, kBurst, nullptr);
      for (unsigned i = 0; i < n; ++i) ordered &= out[i].cookie == expect++;
      got += n;
    }
    received.store(ordered ? got : 0);
  });
  TxCompletion in[kBurst] = {};
  std::uint64_t seq = 0;
  for (auto _ : st) {
    for (unsigned i = 0; i < kBurst; ++i) in[i].cookie = seq++;
    unsigned sent = 0;
    while (sent < kBurst) sent += rte_ring_enqueue_burst_elem(r, in + sent, kSize, kBurst - sent, nullptr);
  }
  consumer.join();
  if (received.load() != total) st.SkipWithError("messages lost or out of order");
  st.SetItemsProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_RteRingCrossCore)->Iterations(2'000'000)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
