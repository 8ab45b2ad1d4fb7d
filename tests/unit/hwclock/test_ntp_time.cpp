#include <gtest/gtest.h>

#include <random>

#include "hwclock/ntp_time.h"

using namespace linetime::hwclock;

namespace {
constexpr std::int64_t kS = kNsPerSec;
// 2036-02-07T06:28:16Z: the first second of NTP era 1.
constexpr std::int64_t kEra1UnixS = 2'085'978'496;
}  // namespace

TEST(NtpTimestamp, UnixEpochAndKnownDate) {
  const auto epoch = NtpTimestamp::from_utc(UtcTime(0));
  EXPECT_EQ(epoch.seconds(), 2'208'988'800u);
  EXPECT_EQ(epoch.fraction(), 0u);
  // 2024-01-01T00:00:00.5Z
  const auto t = NtpTimestamp::from_utc(UtcTime(1'704'067'200 * kS + 500'000'000));
  EXPECT_EQ(t.seconds(), 3'913'056'000u);
  EXPECT_EQ(t.fraction(), 0x8000'0000u);
}

TEST(NtpTimestamp, FractionRoundTripIsExactToTheNanosecond) {
  std::mt19937_64 rng(20361);
  std::uniform_int_distribution<std::int64_t> any(-2'000'000'000LL * kS, 4'000'000'000LL * kS);
  for (int i = 0; i < 100'000; ++i) {
    const UtcTime t(any(rng));
    ASSERT_EQ(NtpTimestamp::from_utc(t).to_utc(t).ticks(), t.ticks());
    ASSERT_EQ(NtpDate::from_utc(t).to_utc().ticks(), t.ticks());
  }
}

TEST(NtpTimestamp, EraRollover2036) {
  const UtcTime last_of_era0((kEra1UnixS - 1) * kS + 999'999'999);
  const UtcTime first_of_era1(kEra1UnixS * kS);
  EXPECT_EQ(NtpDate::from_utc(last_of_era0).era, 0);
  EXPECT_EQ(NtpDate::from_utc(last_of_era0).era_offset_s, 0xFFFF'FFFFu);
  EXPECT_EQ(NtpDate::from_utc(first_of_era1).era, 1);
  EXPECT_EQ(NtpDate::from_utc(first_of_era1).era_offset_s, 0u);
  EXPECT_EQ(NtpTimestamp::from_utc(first_of_era1).raw(), 0u);

  // A timestamp from just after the rollover, interpreted by a clock just
  // before it (and the other way round), lands in the right era.
  const UtcTime after(first_of_era1 + Duration::from_s(3600));
  const UtcTime before(first_of_era1 - Duration::from_s(3600));
  EXPECT_EQ(NtpTimestamp::from_utc(after).to_utc(before), after);
  EXPECT_EQ(NtpTimestamp::from_utc(before).to_utc(after), before);
  EXPECT_EQ(NtpTimestamp::from_utc(after).to_date(before).era, 1);
  // A pivot decades away still resolves within +-68 years.
  EXPECT_EQ(NtpTimestamp::from_utc(after).to_utc(UtcTime(1'700'000'000 * kS)), after);
}

TEST(NtpTimestamp, DifferencesAcrossTheRollover) {
  const auto before = NtpTimestamp::from_utc(UtcTime((kEra1UnixS - 1) * kS));
  const auto after = NtpTimestamp::from_utc(UtcTime((kEra1UnixS + 1) * kS + 250'000'000));
  EXPECT_EQ(ntp_diff(after, before).ns(), 2'250'000'000);
  EXPECT_EQ(ntp_diff(before, after).ns(), -2'250'000'000);
}

TEST(NtpTimestamp, Before1970AndBefore1900) {
  // 1969-12-31T23:59:59.5Z is representable in era 0.
  const UtcTime t(-500'000'000);
  const auto ts = NtpTimestamp::from_utc(t);
  EXPECT_EQ(ts.seconds(), 2'208'988'799u);
  EXPECT_EQ(ts.fraction(), 0x8000'0000u);
  EXPECT_EQ(ts.to_utc(UtcTime(0)), t);

  // 1900-01-01T00:00:00Z is the NTP prime epoch; one second earlier is era -1.
  const UtcTime prime(-kNtpUnixEpochOffsetS * kS);
  EXPECT_EQ(NtpDate::from_utc(prime), (NtpDate{0, 0, 0}));
  const NtpDate before = NtpDate::from_utc(prime - Duration::from_s(1));
  EXPECT_EQ(before.era, -1);
  EXPECT_EQ(before.era_offset_s, 0xFFFF'FFFFu);
  EXPECT_EQ(before.to_utc(), prime - Duration::from_s(1));
}

TEST(NtpShort, ConversionRoundsUpAndSaturates) {
  EXPECT_EQ(NtpShort::from_duration(Duration::from_ms(1500)).raw(), 0x0001'8000u);
  EXPECT_EQ(NtpShort::from_duration(Duration::from_ns(1)).raw(), 1u);  // never understated
  EXPECT_EQ(NtpShort::from_duration(Duration::from_ns(-5)).raw(), 0u);
  EXPECT_EQ(NtpShort::from_duration(Duration::from_s(70'000)).raw(), NtpShort::kMax);
  EXPECT_EQ(NtpShort::from_raw(0x0001'8000).to_duration().ns(), 1'500'000'000);
  EXPECT_EQ(NtpShort::from_raw(1).to_duration().ns(), 15'259);  // 2^-16 s
}

TEST(Precision, Log2OfResolution) {
  EXPECT_EQ(precision_log2(Duration::from_ns(953)), -20);
  EXPECT_EQ(precision_log2(Duration::from_ns(1)), -29);
  EXPECT_EQ(precision_log2(Duration::from_s(1)), 0);
  EXPECT_EQ(precision_log2(Duration::from_ms(1)), -9);
}
