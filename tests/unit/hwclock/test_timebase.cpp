#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
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
  // A slew of the system clock: `slew_ppm` faster from TSC `slew_from` for
  // `slew_ticks` ticks.
  double slew_ppm = 0, slew_from = 0, slew_ticks = 0;
  double preempt_p = 0.2;
  std::mt19937_64 rng{42};

  std::int64_t utc_at(double tsc) const {
    const double slewed = std::fmin(std::fmax(tsc - slew_from, 0.0), slew_ticks);
    return utc0 + step_ns + static_cast<std::int64_t>(tsc / hz * 1e9 * (1 + ppm * 1e-6) + slewed / hz * 1e9 * slew_ppm * 1e-6);
  }
  void round(TimebaseEstimator& est, double& tsc) {
    std::uniform_int_distribution<int> jitter(40, 120);
    std::bernoulli_distribution preempted(preempt_p);
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

namespace {
std::int64_t error_at(const Timebase& tb, const Synthetic& s, double tsc) {
  return tb.to_utc(TscTime(static_cast<std::int64_t>(tsc))).ticks() - s.utc_at(tsc);
}
}  // namespace

TEST(Timebase, SkipsARoundWhoseEveryReadWasPreempted) {
  Synthetic s;
  s.ppm = -12;
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  for (int r = 0; r < 20; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;
  }
  const Timebase before = est.timebase();
  s.preempt_p = 1.0;  // every read of the round waited 100 us for the CPU
  s.round(est, tsc);
  EXPECT_EQ(est.last_round(), LineEstimator::Round::kSkipped);
  EXPECT_EQ(est.rounds_skipped(), 1u);
  EXPECT_EQ(est.steps_seen(), 0u);
  EXPECT_EQ(est.timebase().utc0_ns, before.utc0_ns);
  EXPECT_EQ(est.timebase().ns_per_tick_q32, before.ns_per_tick_q32);
  // A machine that stays that slow is followed after a few skipped rounds.
  for (int r = 0; r < LineEstimator::kMaxSkipped + 3; ++r) {
    tsc += s.hz * 0.1;
    s.round(est, tsc);
  }
  EXPECT_EQ(est.rounds_skipped(), static_cast<std::uint64_t>(LineEstimator::kMaxSkipped));
  EXPECT_EQ(est.last_round(), LineEstimator::Round::kAccepted);
  EXPECT_LT(static_cast<std::int64_t>(std::llabs(error_at(est.timebase(), s, tsc))), 100'000);
}

TEST(Timebase, BendsWithASlewOfTheSystemClock) {
  Synthetic s;
  s.ppm = 20;
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  for (int r = 0; r < 40; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;
  }
  // The control slews the clock at 500 ppm for 3 s (a 1.5 ms one-shot correction).
  s.slew_ppm = 500;
  s.slew_from = tsc;
  s.slew_ticks = 3 * s.hz;
  std::int64_t worst_in_slew = 0;
  for (int r = 0; r < 30; ++r) {
    s.round(est, tsc);
    if (r >= 3) worst_in_slew = std::max(worst_in_slew, static_cast<std::int64_t>(std::llabs(error_at(est.timebase(), s, tsc))));
    tsc += s.hz * 0.1;
  }
  std::int64_t worst_after = 0;
  for (int r = 0; r < 40; ++r) {
    s.round(est, tsc);
    if (r >= 3) worst_after = std::max(worst_after, static_cast<std::int64_t>(std::llabs(error_at(est.timebase(), s, tsc))));
    tsc += s.hz * 0.1;
  }
  EXPECT_GE(est.bends_seen(), 2u);  // the slew's start and its end
  EXPECT_EQ(est.steps_seen(), 0u);
  EXPECT_LT(worst_in_slew, 300);
  EXPECT_LT(worst_after, 300);
  const double ns_per_tick = static_cast<double>(est.timebase().ns_per_tick_q32) / 4294967296.0;
  EXPECT_NEAR(ns_per_tick / (1e9 / s.hz) - 1, 20e-6, 0.2e-6);
  std::printf("timebase slew 500 ppm: worst error %lld ns during, %lld ns after\n",
              static_cast<long long>(worst_in_slew), static_cast<long long>(worst_after));
}

TEST(Timebase, AStepTheCallerMadeMovesTheHistory) {
  Synthetic s;
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  for (int r = 0; r < 20; ++r) {
    s.round(est, tsc);
    tsc += s.hz * 0.1;
  }
  s.step_ns = 2 * kNsPerSec;
  est.on_clock_step(Duration::from_s(2));
  EXPECT_LT(static_cast<std::int64_t>(std::llabs(error_at(est.timebase(), s, tsc))), 200);
  s.round(est, tsc);
  EXPECT_EQ(est.steps_seen(), 0u);
  EXPECT_EQ(est.rounds(), 21u);
}

TEST(Timebase, ReportedErrorCoversTheTrueError) {
  Synthetic s;
  s.ppm = 3.3;
  TimebaseEstimator est(s.hz);
  double tsc = 1e6;
  int covered = 0, total = 0;
  double sum_sq = 0;
  std::int64_t worst = 0;
  for (int r = 0; r < 400; ++r) {
    s.round(est, tsc);
    if (r >= 8) {
      const std::int64_t err = error_at(est.timebase(), s, tsc);
      ++total;
      if (std::llabs(err) <= est.timebase().error_ns) ++covered;
      sum_sq += static_cast<double>(err) * static_cast<double>(err);
      worst = std::max<std::int64_t>(worst, std::llabs(err));
    }
    tsc += s.hz * 0.05;
  }
  EXPECT_GE(covered, total * 95 / 100);
  EXPECT_EQ(est.bends_seen() + est.steps_seen(), 0u);
  const double rms = std::sqrt(sum_sq / total);
  EXPECT_LT(rms, 30);
  std::printf("timebase 2 GHz, 20-60 ns brackets, 20%% preempted reads: RMS error %.1f ns, worst %lld ns, reported %lld ns\n",
              rms, static_cast<long long>(worst), static_cast<long long>(est.timebase().error_ns));
}
