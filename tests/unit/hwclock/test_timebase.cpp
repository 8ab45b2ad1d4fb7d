#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "hwclock/timebase.h"

using namespace linetime::hwclock;

namespace {

// A synthetic TSC at `hz` against a UTC clock that runs at (1 + ppm) of true
// time; reads are bracketed by `bracket` ticks, with occasional preemption.
struct Synthetic {
  double hz = 2.0e9;
  double ppm = 0;
  std::int64_t utc0 = 1'800'000'000LL * kNsPerSec;
  std::int64_t step_ns = 0;  // added to UTC from the moment it is set
  std::mt19937_64 rng{42};

  std::int64_t utc_at(double tsc) const { return utc0 + step_ns + static_cast<std::int64_t>(tsc / hz * 1e9 * (1 + ppm * 1e-6)); }
  void round(TimebaseEstimator& est, double& tsc) {
    std::uniform_int_distribution<int> jitter(40, 120);
    std::bernoulli_distribution preempted(0.2);
    for (int i = 0; i < 8; ++i) {
      const double before = tsc;
      double after = before + jitter(rng);
      if (preempted(rng)) after += 200'000;  // 100 us off-CPU between the reads
      const double read_at = before + (after - before) * std::uniform_real_distribution<double>(0, 1)(rng);
      est.sample(TscTime(static_cast<std::int64_t>(before)), UtcTime(utc_at(read_at)), TscTime(static_cast<std::int64_t>(after)));
      tsc = after + 1000;
    }
    est.end_round();
  }
};

}  // namespace

TEST(Timebase, ConvertsWithFixedPoint) {
  Timebase tb;
  tb.tsc0 = 1000;
  tb.utc0_ns = 5'000;
  tb.ns_per_tick_q32 = std::uint64_t{1} << 31;  // 0.5 ns per tick: a 2 GHz TSC
  EXPECT_EQ(tb.to_utc(TscTime(3000)).ticks(), 6'000);
  EXPECT_EQ(tb.to_utc(TscTime(0)).ticks(), 4'500);
  EXPECT_EQ(tb.ticks_for(Duration::from_us(1)).count(), 2'000);
}

TEST(Timebase, FitsFrequencyErrorAndRejectsPreemptedReads) {
  Synthetic s;
  s.ppm = 37.5;  // the system clock runs 37.5 ppm fast against the TSC's nominal rate
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  for (int r = 0; r < 40; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;  // a round every 100 ms
  }
  const Timebase& tb = est.timebase();
  // Conversion error at the last sample and 100 ms later (extrapolated).
  for (double ahead : {0.0, 0.1 * s.hz}) {
    const double at = tsc + ahead;
    const std::int64_t err = tb.to_utc(TscTime(static_cast<std::int64_t>(at))).ticks() - s.utc_at(at);
    EXPECT_LT(std::llabs(err), 100) << "ahead " << ahead;
  }
  const double ns_per_tick = static_cast<double>(tb.ns_per_tick_q32) / 4294967296.0;
  EXPECT_NEAR(ns_per_tick / (1e9 / s.hz) - 1, 37.5e-6, 0.1e-6);
  EXPECT_LT(tb.error_ns, 100);
  EXPECT_EQ(est.steps_seen(), 0u);
}

TEST(Timebase, FollowsAStepOfTheSystemClock) {
  Synthetic s;
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  for (int r = 0; r < 20; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;
  }
  s.step_ns = -250'000'000;  // the clock is stepped back 250 ms
  for (int r = 0; r < 5; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;
  }
  EXPECT_EQ(est.steps_seen(), 1u);
  const std::int64_t err = est.timebase().to_utc(TscTime(static_cast<std::int64_t>(tsc))).ticks() - s.utc_at(tsc);
  EXPECT_LT(std::llabs(err), 200);
}
