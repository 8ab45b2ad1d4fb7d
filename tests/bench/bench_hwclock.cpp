// Clock mappings: converting one timestamp (TSC -> UTC, NIC -> UTC) and a
// refit of the line estimator; and the TSC timebase's error against
// clock_gettime(CLOCK_REALTIME) on this machine, reported as counters.
#include <benchmark/benchmark.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hwclock/nic_clock.h"
#include "hwclock/timebase.h"

using namespace linetime::hwclock;

namespace {

std::uint64_t rdtscp() {
  unsigned aux = 0;  // the CPU id the instruction reports
  return __rdtscp(&aux);
}

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

// A rough TSC frequency over 20 ms: the estimator's nominal rate.
double tsc_hz() {
  const std::int64_t m0 = monotonic_ns();
  const std::uint64_t t0 = __rdtsc();
  while (monotonic_ns() - m0 < 20'000'000) {
  }
  return static_cast<double>(__rdtsc() - t0) * 1e9 / static_cast<double>(monotonic_ns() - m0);
}

void round_from_real_clocks(TimebaseEstimator& est) {
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t before = rdtscp();
    const std::int64_t utc = realtime_ns();
    const std::uint64_t after = rdtscp();
    est.sample(TscTime(static_cast<std::int64_t>(before)), UtcTime(utc), TscTime(static_cast<std::int64_t>(after)));
  }
  est.end_round();
}

void BM_TimebaseToUtc(benchmark::State& st) {
  Timebase tb;
  tb.tsc0 = 1'000'000;
  tb.utc0_ns = 1'790'000'000LL * kNsPerSec;
  tb.ns_per_tick_q32 = slope_to_q32(0.4166667);
  std::int64_t tsc = 5'000'000;
  for (auto _ : st) {
    benchmark::DoNotOptimize(tb.to_utc(TscTime(tsc)));
    tsc += 977;
  }
}
BENCHMARK(BM_TimebaseToUtc);

void BM_NicToUtc(benchmark::State& st) {
  NicTimebase m;
  m.nic0 = 1'000'000;
  m.utc0_ns = 1'790'000'000LL * kNsPerSec;
  m.ns_per_tick_q32 = slope_to_q32(1.00008);
  std::int64_t nic = 5'000'000;
  for (auto _ : st) {
    benchmark::DoNotOptimize(rx_trailer_time(m.to_utc(NicTime(nic)), 90, 10'000));
    nic += 977;
  }
}
BENCHMARK(BM_NicToUtc);

// One round of 8 synthetic triplets and the refit over a full window.
void BM_TimebaseRefit(benchmark::State& st) {
  TimebaseEstimator est(2.4e9);
  std::int64_t tsc = 1'000'000;
  auto round = [&] {
    for (int i = 0; i < 8; ++i) {
      est.sample(TscTime(tsc), UtcTime(tsc * 5 / 12), TscTime(tsc + 60 + (i * 37) % 50));
      tsc += 300;
    }
    est.end_round();
    tsc += 240'000'000;
  };
  for (std::size_t i = 0; i < TimebaseEstimator::kWindow; ++i) round();
  for (auto _ : st) round();
}
BENCHMARK(BM_TimebaseRefit);

// The timebase fitted from the real clocks every 10 ms, then checked against
// clock_gettime bracketed by TSC reads: error_rms_ns / error_max_ns are the
// measured error, reported_ns what the timebase says of itself.
void BM_TimebaseErrorOnThisMachine(benchmark::State& st) {
  TimebaseEstimator est(tsc_hz());
  for (int i = 0; i < 40; ++i) {
    round_from_real_clocks(est);
    const std::int64_t until = monotonic_ns() + 10'000'000;
    while (monotonic_ns() < until) {
    }
  }
  std::vector<double> errs;
  for (auto _ : st) {
    std::int64_t best_err = 0, best_width = INT64_MAX;
    for (int i = 0; i < 8; ++i) {
      const std::uint64_t before = rdtscp();
      const std::int64_t utc = realtime_ns();
      const std::uint64_t after = rdtscp();
      const auto width = static_cast<std::int64_t>(after - before);
      if (width < best_width) {
        best_width = width;
        const std::int64_t mid = static_cast<std::int64_t>(before) + width / 2;
        best_err = est.timebase().to_utc(TscTime(mid)).ticks() - utc;
      }
    }
    errs.push_back(static_cast<double>(best_err));
    round_from_real_clocks(est);
  }
  double sq = 0, worst = 0;
  for (double e : errs) {
    sq += e * e;
    worst = std::max(worst, std::fabs(e));
  }
  st.counters["error_rms_ns"] = errs.empty() ? 0 : std::sqrt(sq / static_cast<double>(errs.size()));
  st.counters["error_max_ns"] = worst;
  st.counters["reported_ns"] = static_cast<double>(est.timebase().error_ns);
  st.counters["skipped"] = static_cast<double>(est.rounds_skipped());
}
BENCHMARK(BM_TimebaseErrorOnThisMachine)->Iterations(2000);

}  // namespace

BENCHMARK_MAIN();
