#include "dataplane/loadgen/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "hwclock/ntp_time.h"

namespace linetime::loadgen {
namespace {

TEST(Histogram, SmallValuesAreExact) {
  auto h = std::make_unique<Histogram>();
  for (std::uint64_t v = 0; v < 256; ++v) h->add(v);
  EXPECT_EQ(h->count(), 256u);
  for (std::uint64_t r = 1; r <= 256; ++r) EXPECT_EQ(h->at_rank(r), r - 1);
  EXPECT_EQ(h->quantile(0.5), 127u);
  EXPECT_EQ(h->quantile(1.0), 255u);
  EXPECT_EQ(h->quantile(0.0), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 255u);
}

TEST(Histogram, BucketsTileTheRange) {
  // Every bucket starts where the previous one ends, up to 2^64.
  std::uint64_t next = 0;
  for (unsigned i = 0; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::lower_bound(i), next) << i;
    ASSERT_EQ(Histogram::index(next), i);
    ASSERT_EQ(Histogram::index(next + Histogram::width(i) - 1), i);
    next += Histogram::width(i);
  }
  EXPECT_EQ(next, 0u);  // wrapped: the last bucket ends at 2^64
  EXPECT_EQ(Histogram::index(~std::uint64_t{0}), Histogram::kBuckets - 1);
}

TEST(Histogram, QuantilesWithinRelativeErrorOfExact) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(3, 10);  // 1 us to 10 s in ns
  std::vector<std::uint64_t> v;
  auto h = std::make_unique<Histogram>();
  for (int i = 0; i < 100'000; ++i) {
    const auto x = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
    v.push_back(x);
    h->add(x);
  }
  std::sort(v.begin(), v.end());
  for (const double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    const double exact = static_cast<double>(v[rank - 1]);
    const double got = static_cast<double>(h->quantile(q));
    EXPECT_LE(std::fabs(got - exact), exact / 256) << "q " << q;
  }
  EXPECT_EQ(h->min(), v.front());
  EXPECT_EQ(h->max(), v.back());
}

TEST(Histogram, MergeAndClear) {
  auto a = std::make_unique<Histogram>();
  auto b = std::make_unique<Histogram>();
  for (std::uint64_t i = 1; i <= 100; ++i) a->add(i);
  for (std::uint64_t i = 101; i <= 200; ++i) b->add(i);
  a->merge(*b);
  EXPECT_EQ(a->count(), 200u);
  EXPECT_EQ(a->quantile(0.5), 100u);
  EXPECT_EQ(a->min(), 1u);
  EXPECT_EQ(a->max(), 200u);
  a->clear();
  EXPECT_EQ(a->count(), 0u);
  EXPECT_EQ(a->quantile(0.5), 0u);
  a->add(7);
  EXPECT_EQ(a->min(), 7u);
  EXPECT_EQ(a->max(), 7u);
}

TEST(SignedHistogram, RanksNegativeBeforePositive) {
  auto h = std::make_unique<SignedHistogram>();
  for (std::int64_t v = -100; v <= 100; ++v) h->add(v);
  EXPECT_EQ(h->count(), 201u);
  EXPECT_EQ(h->at_rank(1), -100);
  EXPECT_EQ(h->at_rank(100), -1);
  EXPECT_EQ(h->at_rank(101), 0);
  EXPECT_EQ(h->at_rank(201), 100);
  EXPECT_EQ(h->quantile(0.5), 0);
  EXPECT_EQ(h->min(), -100);
  EXPECT_EQ(h->max(), 100);
  auto neg = std::make_unique<SignedHistogram>();
  neg->add(-5);
  neg->add(-3);
  EXPECT_EQ(neg->min(), -5);
  EXPECT_EQ(neg->max(), -3);
  EXPECT_EQ(neg->quantile(1.0), -3);
}

std::uint64_t ntp(std::int64_t utc_ns) { return hwclock::NtpTimestamp::from_utc(hwclock::UtcTime(utc_ns)).raw(); }

TEST(Measure, OffsetDelayAndResidence) {
  // Server 5 us ahead, 10 us each way, 2 us in the server.
  const std::int64_t t1 = 1'700'000'000'000'000'000;
  const std::int64_t t2 = t1 + 10'000 + 5'000;
  const std::int64_t t3 = t2 + 2'000;
  const std::int64_t t4 = t3 - 5'000 + 10'000;
  const Exchange e = measure(ntp(t1), ntp(t2), ntp(t3), ntp(t4));
  EXPECT_NEAR(e.offset_ns, 5'000, 1);
  EXPECT_NEAR(e.delay_ns, 20'000, 1);
  EXPECT_NEAR(e.residence_ns, 2'000, 1);
}

TEST(Measure, NegativeOffsetAndAsymmetry) {
  // Server 3 ms behind, 30 us out and 10 us back: the asymmetry shows as -10 us.
  const std::int64_t t1 = 1'700'000'000'123'456'789;
  const std::int64_t t2 = t1 + 30'000 - 3'000'000;
  const std::int64_t t3 = t2 + 700;
  const std::int64_t t4 = t3 + 3'000'000 + 10'000;
  const Exchange e = measure(ntp(t1), ntp(t2), ntp(t3), ntp(t4));
  EXPECT_NEAR(e.offset_ns, -3'000'000 + 10'000, 1);
  EXPECT_NEAR(e.delay_ns, 40'000, 1);
  EXPECT_NEAR(e.residence_ns, 700, 1);
}

TEST(Measure, AcrossTheEraRollover) {
  // 2036-02-07T06:28:16Z is NTP second 2^32: T1 before it, the rest after.
  const std::int64_t rollover = (std::int64_t{1} << 32) - hwclock::kNtpUnixEpochOffsetS;
  const std::int64_t t1 = rollover * 1'000'000'000 - 4'000;
  const Exchange e = measure(ntp(t1), ntp(t1 + 6'000), ntp(t1 + 7'000), ntp(t1 + 12'000));
  EXPECT_NEAR(e.offset_ns, 500, 1);
  EXPECT_NEAR(e.delay_ns, 11'000, 1);
  EXPECT_NEAR(e.residence_ns, 1'000, 1);
}

TEST(Tally, LossAndMerge) {
  auto a = std::make_unique<Tally>();
  auto b = std::make_unique<Tally>();
  EXPECT_EQ(a->loss(), 0.0);
  a->sent = 1000;
  a->answered = 999;
  a->add(Exchange{-10, 100, 5});
  b->sent = 1000;
  b->answered = 1000;
  b->interleaved = 3;
  b->add(Exchange{20, 300, 7});
  a->merge(*b);
  EXPECT_EQ(a->sent, 2000u);
  EXPECT_EQ(a->interleaved, 3u);
  EXPECT_NEAR(a->loss(), 1.0 / 2000, 1e-12);
  EXPECT_EQ(a->delay_ns.count(), 2u);
  EXPECT_EQ(a->offset_ns.min(), -10);
  EXPECT_EQ(a->residence_ns.max(), 7u);
  a->clear();
  EXPECT_EQ(a->sent, 0u);
  EXPECT_EQ(a->offset_ns.count(), 0u);
}

}  // namespace
}  // namespace linetime::loadgen
