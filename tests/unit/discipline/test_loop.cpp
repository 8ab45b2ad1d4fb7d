#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "discipline/loop.h"

namespace linetime::discipline {
namespace {

UtcTime at_s(double s) { return UtcTime(0) + Duration::from_seconds(1e6 + s); }

// A clock whose frequency error is `freq` and which the test never steers:
// the applied correction is 0 and the offset grows as freq * t.
TEST(LoopFilter, EstimatesOffsetAndFrequencyOfAFreeRunningClock) {
  LoopFilter lf;
  lf.start(at_s(0), 0, 1e-6, 0, 1e-8);
  const double freq = 20e-6;  // the clock must run 20 ppm faster
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 10e-6);
  for (int i = 1; i <= 200; ++i) {
    const double t = i * 16.0;
    lf.predict(at_s(t), 0);
    lf.measure(freq * t + noise(rng), 10e-6 * 10e-6);
  }
  EXPECT_NEAR(lf.freq(), freq, 0.15e-6);
  EXPECT_NEAR(lf.offset_s(), freq * 3200, 10e-6);
  EXPECT_LT(std::sqrt(lf.offset_var_s2()), 8e-6);
}

TEST(LoopFilter, AccountsForTheAppliedCorrection) {
  // The clock is steered at exactly the needed frequency: the offset stays put.
  LoopFilter lf;
  lf.start(at_s(0), 1e-3, 1e-12, 50e-6, 1e-16);
  lf.predict(at_s(100), 50e-6);
  EXPECT_NEAR(lf.offset_s(), 1e-3, 1e-12);
  // Slewing at 100 ppm above the need removes 10 ms in 100 s.
  lf.predict(at_s(200), 150e-6);
  EXPECT_NEAR(lf.offset_s(), 1e-3 - 100e-6 * 100, 1e-12);
  lf.stepped(-0.5);
  EXPECT_NEAR(lf.offset_s(), 1e-3 - 1e-2 + 0.5, 1e-12);
}

TEST(LoopFilter, RejectsASpikeAndFollowsAStep) {
  LoopFilter lf;
  lf.start(at_s(0), 0, 1e-12, 0, 1e-18);
  for (int i = 1; i <= 20; ++i) {
    lf.predict(at_s(i * 16.0), 0);
    EXPECT_EQ(lf.measure(0, 1e-12), MeasureResult::kAccepted);
  }
  lf.predict(at_s(21 * 16.0), 0);
  EXPECT_EQ(lf.measure(1e-3, 1e-12), MeasureResult::kOutlier);
  lf.predict(at_s(22 * 16.0), 0);
  EXPECT_EQ(lf.measure(0, 1e-12), MeasureResult::kAccepted);
  EXPECT_NEAR(lf.offset_s(), 0, 1e-7);
  // The same jump three times in a row is a change: followed.
  MeasureResult r{};
  for (int i = 23; i <= 25; ++i) {
    lf.predict(at_s(i * 16.0), 0);
    r = lf.measure(1e-3, 1e-12);
  }
  EXPECT_EQ(r, MeasureResult::kAcceptedAfterChange);
  EXPECT_NEAR(lf.offset_s(), 1e-3, 1e-5);
}

TEST(LoopFilter, LearnsTheWanderAndLengthensThePoll) {
  // A clock with 1e-9/sqrt(s) random-walk frequency and 20 us white noise:
  // starting from q = 1e-16 the filter moves to within a factor of 16 of the
  // true q = 1e-18, polls longer than minpoll, and tracks the offset.
  LoopConfig cfg;
  cfg.min_poll_log2 = 4;
  cfg.max_poll_log2 = 10;
  LoopFilter lf(cfg);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01(0, 1);
  double x = 0, v = 30e-6;
  lf.start(at_s(0), 0, 1e-8, 0, 1e-8);
  double t = 0;
  double err2 = 0;
  int n = 0;
  while (t < 10 * 86400) {
    const double dt = std::ldexp(1.0, lf.poll_log2()) / 4;  // four sources
    for (int k = 0; k < static_cast<int>(dt); ++k) {
      v += 1e-9 * n01(rng);
      x += v;
    }
    t += std::floor(dt);
    lf.predict(at_s(t), 0);
    lf.measure(x + 20e-6 * n01(rng), 20e-6 * 20e-6);
    if (t > 86400) {
      err2 += (lf.offset_s() - x) * (lf.offset_s() - x);
      ++n;
    }
  }
  EXPECT_GT(lf.wander_per_s(), 1e-18 / 16);
  EXPECT_LT(lf.wander_per_s(), 1e-18 * 16);
  EXPECT_GT(lf.poll_log2(), 4);
  EXPECT_LT(std::sqrt(err2 / n), 15e-6);
}


TEST(LoopFilter, CarriesAnAgedMeasurementToThePresent) {
  // A free-running clock 20 ppm off, measured once per 16 s, each measurement
  // describing the clock 16 s earlier (interleaved mode): the estimate is of
  // the present, not of the measurement's time.
  LoopFilter lf;
  lf.start(at_s(0), 0, 1e-6, 0, 1e-8);
  const double freq = 20e-6;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 1e-6);
  for (int i = 2; i <= 200; ++i) {
    const double t = i * 16.0;
    lf.predict(at_s(t), 0);
    lf.measure(freq * (t - 16) + noise(rng), 1e-6 * 1e-6, 16);
  }
  EXPECT_NEAR(lf.freq(), freq, 0.05e-6);
  EXPECT_NEAR(lf.offset_s(), freq * 3200, 1e-6);
}

TEST(LoopFilter, SteersOnAgedMeasurementsWithoutRinging) {
  // Closed loop: every 16 s the correction is set to remove the estimated
  // offset over the next interval, and the measurement that arrives describes
  // the clock just after the previous change. The offset settles within a few
  // measurement noises and the frequency within a few ppb.
  LoopFilter lf;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 100e-9);
  const double need = -35e-6;  // the oscillator needs -35 ppm
  double x = 20e-6;            // true offset
  double u = 0;                // applied correction
  lf.start(at_s(0), x + noise(rng), 100e-9 * 100e-9, 0, 1e-8);
  double x_then = x;  // the true offset the next measurement will see
  double err2 = 0, ferr2 = 0;
  int n = 0;
  for (int i = 1; i <= 400; ++i) {
    x += (need - u) * 16;
    lf.predict(at_s(i * 16.0), u);
    lf.measure(x_then + noise(rng), 100e-9 * 100e-9, 16);
    u = lf.freq() + lf.offset_s() / 16;
    x_then = x;
    if (i > 100) {
      err2 += x * x;
      ferr2 += (lf.freq() - need) * (lf.freq() - need);
      ++n;
    }
  }
  EXPECT_LT(std::sqrt(err2 / n), 300e-9);
  EXPECT_LT(std::sqrt(ferr2 / n), 5e-9);
}

}  // namespace
}  // namespace linetime::discipline
