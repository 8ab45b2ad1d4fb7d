#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "discipline/filter.h"

namespace linetime::discipline {
namespace {

UtcTime at_s(double s) { return UtcTime(0) + Duration::from_seconds(1e6 + s); }

Sample sample(double t_s, double offset_s, double delay_s) {
  return Sample{at_s(t_s), Duration::from_seconds(offset_s), Duration::from_seconds(delay_s), Duration::from_ns(100)};
}

TEST(Measure, OffsetAndDelayFromFourTimestamps) {
  // Server 5 ms ahead, 1 ms each way, 0.2 ms in the server.
  const UtcTime t1 = at_s(0);
  const UtcTime t2 = at_s(0.001 + 0.005);
  const UtcTime t3 = at_s(0.0012 + 0.005);
  const UtcTime t4 = at_s(0.0022);
  const Sample s = measure(t1, t2, t3, t4, Duration::from_ns(50));
  EXPECT_EQ(s.offset, Duration::from_ms(5));
  EXPECT_EQ(s.delay, Duration::from_ms(2));
  EXPECT_EQ(s.time, at_s(0.0011));
  EXPECT_NEAR(s.dispersion.seconds(), 50e-9 + 15e-6 * 0.0022, 1e-9);
}

TEST(ClockFilter, PicksTheMinimumDelaySample) {
  ClockFilter f;
  const double delays[] = {500e-6, 300e-6, 200e-6, 800e-6};
  const double offsets[] = {100e-6, 50e-6, 10e-6, -300e-6};
  for (int i = 0; i < 4; ++i) f.add(sample(i * 64, offsets[i], delays[i]), at_s(i * 64), 64, 1e-7);
  ASSERT_TRUE(f.estimate().has_value());
  EXPECT_NEAR(f.estimate()->offset_s, 10e-6, 1e-9);
  EXPECT_NEAR(f.estimate()->delay_s, 200e-6, 1e-9);
  EXPECT_EQ(f.valid_stages(), 4);
  // Jitter: RMS of the other offsets around the chosen one, over m - 1.
  const double j = std::sqrt((40e-6 * 40e-6 + 90e-6 * 90e-6 + 310e-6 * 310e-6) / 3);
  EXPECT_NEAR(f.estimate()->jitter_s, j, 1e-9);
}

TEST(ClockFilter, DispersionOfOneSampleIsMostlyEmptyStages) {
  ClockFilter f;
  f.add(sample(0, 0, 100e-6), at_s(0), 64, 1e-7);
  // Seven empty stages at MAXDISP weigh 1/4 + ... + 1/256 of 16 s.
  EXPECT_NEAR(f.estimate()->dispersion_s, 16.0 * (0.5 - 1.0 / 256) + 100e-9 / 2, 1e-6);
  EXPECT_GT(f.dispersion_at(at_s(1000)), f.estimate()->dispersion_s);
}

TEST(ClockFilter, UsesASampleOnlyOnceAndNeverAnOlderOne) {
  ClockFilter f;
  EXPECT_EQ(f.add(sample(0, 0, 100e-6), at_s(0), 64, 1e-7), FilterVerdict::kNewEstimate);
  // Larger delay: the old minimum stays, nothing new to pass on.
  EXPECT_EQ(f.add(sample(64, 5e-6, 900e-6), at_s(64), 64, 1e-7), FilterVerdict::kNoNewer);
  EXPECT_NEAR(f.estimate()->offset_s, 0, 1e-12);
}

TEST(ClockFilter, SuppressesAPopcornSpikeButNotAPersistentChange) {
  ClockFilter f;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> noise(-5e-6, 5e-6);
  double t = 0;
  for (int i = 0; i < 8; ++i, t += 64) f.add(sample(t, noise(rng), 300e-6 - 10e-6 * i), at_s(t), 64, 1e-7);
  const double before = f.estimate()->offset_s;
  // A low-delay sample 1 ms off: a spike within two polls is suppressed.
  EXPECT_EQ(f.add(sample(t, 1e-3, 100e-6), at_s(t), 64, 1e-7), FilterVerdict::kPopcorn);
  EXPECT_NEAR(f.estimate()->offset_s, before, 1e-12);
  // Much later, the same jump is taken as real.
  t += 1000;
  EXPECT_EQ(f.add(sample(t, 1e-3, 90e-6), at_s(t), 64, 1e-7), FilterVerdict::kNewEstimate);
  EXPECT_NEAR(f.estimate()->offset_s, 1e-3, 1e-12);
}

TEST(ClockFilter, SlewSamplesReexpressesHistoryAgainstTheAdjustedClock) {
  ClockFilter f;
  f.add(sample(0, 1e-3, 100e-6), at_s(0), 64, 1e-7);
  f.add(sample(100, 1e-3, 200e-6), at_s(100), 64, 1e-7);
  // At t=100 the clock is stepped forward by 0.5 ms and made 10 ppm faster.
  f.slew_samples(at_s(100), 10e-6, 0.5e-3);
  // The t=0 sample: offset - 0.5 ms - 10 ppm * (0 - 100 s) = 1 ms - 0.5 ms + 1 ms.
  EXPECT_NEAR(f.estimate()->offset_s, 1.5e-3, 1e-9);
  const auto samples = f.samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_NEAR(samples[0].offset.seconds(), 0.5e-3, 1e-9);  // newest, at `when`
  EXPECT_NEAR(samples[1].offset.seconds(), 1.5e-3, 1e-9);
}

TEST(ClockFilter, MissedPollsGrowDispersionUntilUnusable) {
  ClockFilter f;
  for (int i = 0; i < 8; ++i) f.add(sample(i * 64, 0, 100e-6), at_s(i * 64), 64, 1e-7);
  const double d0 = f.estimate()->dispersion_s;
  for (int i = 0; i < 6; ++i) f.add_missing(at_s(512 + i * 64));
  EXPECT_GT(f.estimate()->dispersion_s, 1.5);
  EXPECT_LT(d0, 0.01);
  EXPECT_EQ(f.valid_stages(), 2);
}

}  // namespace
}  // namespace linetime::discipline
