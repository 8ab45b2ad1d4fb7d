#include <gtest/gtest.h>

#include <type_traits>

#include "hwclock/time.h"

using namespace linetime::hwclock;

TEST(Duration, UnitsAndRounding) {
  EXPECT_EQ(Duration::from_us(3).ns(), 3'000);
  EXPECT_EQ(Duration::from_ms(2).ns(), 2'000'000);
  EXPECT_EQ(Duration::from_s(-4).ns(), -4'000'000'000);
  EXPECT_EQ(Duration::from_seconds(1.5e-9).ns(), 2);
  EXPECT_EQ(Duration::from_seconds(-1.5e-9).ns(), -2);
  EXPECT_EQ(Duration::from_seconds(0.25).ns(), 250'000'000);
  EXPECT_DOUBLE_EQ(Duration::from_ms(1500).seconds(), 1.5);
  EXPECT_EQ(Duration::from_seconds(1e300).ns(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Duration::from_seconds(-1e300).ns(), std::numeric_limits<std::int64_t>::min());
}

TEST(Instant, ArithmeticStaysInDomain) {
  const UtcTime a(1'000);
  const UtcTime b = a + Duration::from_ns(500);
  EXPECT_EQ(b.ticks(), 1'500);
  EXPECT_EQ((b - a).ns(), 500);
  EXPECT_LT(a, b);

  const TscTime t0(100);
  const TscTime t1 = t0 + TscCycles(50);
  EXPECT_EQ((t1 - t0).count(), 50);

  // Differences of different domains are different types.
  static_assert(std::is_same_v<decltype(b - a), Duration>);
  static_assert(std::is_same_v<decltype(t1 - t0), TscCycles>);
  static_assert(!std::is_convertible_v<TscCycles, Duration>);
  static_assert(!std::is_convertible_v<UtcTime, MonoTime>);
  static_assert(!std::is_convertible_v<NicTime, UtcTime>);
}
