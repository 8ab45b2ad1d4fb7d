#include <gtest/gtest.h>

#include "discipline/leap.h"
#include "hwclock/ntp_time.h"

namespace linetime::discipline {
namespace {

UtcTime date(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return UtcTime((days_from_civil({y, m, d}) * 86400 + hh * 3600 + mm * 60 + ss) * hwclock::kNsPerSec);
}

TEST(Civil, RoundTripsAndKnownDates) {
  EXPECT_EQ(days_from_civil({1970, 1, 1}), 0);
  EXPECT_EQ(days_from_civil({2000, 3, 1}), 11017);
  EXPECT_EQ(days_from_civil({1969, 12, 31}), -1);
  for (std::int64_t d = -800000; d < 800000; d += 997) EXPECT_EQ(days_from_civil(civil_from_days(d)), d);
  const CivilDate c = civil_from_days(days_from_civil({2016, 12, 31}));
  EXPECT_EQ(c.year, 2016);
  EXPECT_EQ(c.month, 12);
  EXPECT_EQ(c.day, 31);
  EXPECT_EQ(start_of_next_month(date(2016, 12, 31, 23, 59, 59)), date(2017, 1, 1));
  EXPECT_EQ(start_of_next_month(date(2024, 2, 29, 12)), date(2024, 3, 1));
}

constexpr const char* kFile =
    "# leap-seconds.list excerpt\n"
    "#@\t3913697600\n"
    "3550089600\t35\t# 1 Jul 2012\n"
    "3644697600\t36\t# 1 Jul 2015\n"
    "3692217600\t37\t# 1 Jan 2017\n";

TEST(LeapTable, ParsesTheIetfFormat) {
  const auto t = LeapTable::parse(kFile);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->entries().size(), 3u);
  EXPECT_EQ(t->entries()[2].at, date(2017, 1, 1));
  EXPECT_EQ(t->entries()[2].tai_minus_utc_s, 37);
  EXPECT_EQ(t->expires(), UtcTime((3913697600LL - hwclock::kNtpUnixEpochOffsetS) * hwclock::kNsPerSec));
  EXPECT_EQ(t->tai_minus_utc_at(date(2016, 6, 1)), 36);
  EXPECT_EQ(t->tai_minus_utc_at(date(2017, 1, 1)), 37);
}

TEST(LeapTable, RejectsBadFiles) {
  EXPECT_EQ(LeapTable::parse("3692217600 x\n").error(), LeapFileError::kBadLine);
  EXPECT_EQ(LeapTable::parse("3692217600 37\n3644697600 36\n").error(), LeapFileError::kNotIncreasing);
  EXPECT_EQ(LeapTable::parse("# nothing\n").error(), LeapFileError::kEmpty);
}

TEST(DecideLeap, FromTheTableAnnouncedAllMonthArmedOnTheLastDay) {
  const auto t = LeapTable::parse(kFile);
  LeapDecision d = decide_leap(date(2016, 12, 5), &*t, {});
  EXPECT_EQ(d.kind, Leap::kInsert);
  EXPECT_EQ(d.at, date(2017, 1, 1));
  EXPECT_TRUE(d.announce);
  EXPECT_FALSE(d.arm);
  EXPECT_TRUE(d.from_table);
  d = decide_leap(date(2016, 12, 31, 0, 0, 1), &*t, {});
  EXPECT_TRUE(d.arm);
  // November: the leap is not at the end of this month.
  EXPECT_EQ(decide_leap(date(2016, 11, 30, 12), &*t, {}).kind, Leap::kNone);
  // After it: nothing.
  EXPECT_EQ(decide_leap(date(2017, 1, 1, 0, 0, 1), &*t, {}).kind, Leap::kNone);
}

TEST(DecideLeap, ValidTableOverridesVotes) {
  const auto t = LeapTable::parse(kFile);
  EXPECT_EQ(decide_leap(date(2016, 6, 30, 12), &*t, {3, 0, 3}).kind, Leap::kNone);
}

TEST(DecideLeap, MajorityOfSourcesWithoutATable) {
  const UtcTime now = date(2030, 6, 30, 12);
  EXPECT_EQ(decide_leap(now, nullptr, {2, 0, 3}).kind, Leap::kInsert);
  EXPECT_EQ(decide_leap(now, nullptr, {0, 2, 3}).kind, Leap::kDelete);
  EXPECT_EQ(decide_leap(now, nullptr, {1, 0, 2}).kind, Leap::kNone);  // half is not a majority
  EXPECT_EQ(decide_leap(now, nullptr, {1, 1, 3}).kind, Leap::kNone);
  const LeapDecision d = decide_leap(now, nullptr, {0, 3, 3});
  EXPECT_EQ(d.at, date(2030, 7, 1));
  EXPECT_TRUE(d.arm);
  // An expired table counts as none.
  const auto t = LeapTable::parse(kFile);
  EXPECT_EQ(decide_leap(date(2025, 6, 30, 12), &*t, {3, 0, 3}).kind, Leap::kInsert);
}

}  // namespace
}  // namespace linetime::discipline
