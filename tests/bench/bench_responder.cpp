// The pure responder's cost per request: a batch of 32 requests answered in
// place, warm caches, as one lcore handles a burst. Argument 0: software
// timestamps (one receive instant per burst, transmit instant taken once just
// before tx_burst); argument 1: hardware-like stamps, distinct per packet.
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "dataplane/responder.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

constexpr std::size_t kBurst = 32;

shm::ServerState state() {
  auto s = shm::local_reference_state(hwclock::UtcTime(1'800'000'000LL * hwclock::kNsPerSec), 2, -24);
  s.root_dispersion_ns = 1'000'000;
  return s;
}

void BM_ResponderBurst(benchmark::State& st) {
  const bool per_packet = st.range(0) != 0;
  Responder responder;
  responder.update(state());
  std::vector<std::array<std::uint8_t, 48>> bufs(kBurst);
  std::array<std::uint8_t, 48> request{};
  request[0] = wire::ntp_li_vn_mode(0, 4, 3);
  request[2] = 6;
  hwclock::UtcTime rx(1'800'000'100LL * hwclock::kNsPerSec);
  std::size_t answered = 0;
  for (auto _ : st) {
    for (auto& b : bufs) std::memcpy(b.data(), request.data(), b.size());  // a fresh burst of requests
    hwclock::UtcTime tx = rx + hwclock::Duration::from_ns(700);
    hwclock::UtcTime packet_rx = rx;
    for (auto& b : bufs) {
      const auto r = responder.handle(NtpRequest{b, 40'000, packet_rx}, wire::MutableBytes(b), [tx] { return tx; });
      answered += r.length != 0;
      if (per_packet) {
        packet_rx += hwclock::Duration::from_ns(67);
        tx += hwclock::Duration::from_ns(67);
      }
    }
    benchmark::DoNotOptimize(bufs.data());
    benchmark::ClobberMemory();
    rx += hwclock::Duration::from_ns(3'000);
  }
  if (answered != kBurst * static_cast<std::size_t>(st.iterations())) st.SkipWithError("requests were not answered");
  st.SetItemsProcessed(st.iterations() * kBurst);
  st.counters["ns_per_request"] =
      benchmark::Counter(static_cast<double>(st.iterations() * kBurst), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ResponderBurst)->ArgName("per_packet_stamps")->Arg(0)->Arg(1);

// The harness alone (refilling a burst of requests), to subtract from the above.
void BM_HarnessOnly(benchmark::State& st) {
  std::vector<std::array<std::uint8_t, 48>> bufs(kBurst);
  std::array<std::uint8_t, 48> request{};
  request[0] = wire::ntp_li_vn_mode(0, 4, 3);
  for (auto _ : st) {
    for (auto& b : bufs) std::memcpy(b.data(), request.data(), b.size());
    benchmark::DoNotOptimize(bufs.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * kBurst);
  st.counters["ns_per_request"] =
      benchmark::Counter(static_cast<double>(st.iterations() * kBurst), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_HarnessOnly);

void BM_ServerStateUpdate(benchmark::State& st) {
  Responder responder;
  const auto s = state();
  for (auto _ : st) {
    responder.update(s);
    benchmark::DoNotOptimize(responder);
  }
}
BENCHMARK(BM_ServerStateUpdate);

}  // namespace

BENCHMARK_MAIN();
