#include <gtest/gtest.h>
#include <linux/rtc.h>

#include <cerrno>
#include <random>
#include <vector>

#include "hwclock/rtc.h"

using namespace linetime::hwclock;

TEST(Civil, KnownDates) {
  EXPECT_EQ(seconds_from_civil({1970, 1, 1, 0, 0, 0}), 0);
  EXPECT_EQ(seconds_from_civil({2000, 2, 29, 0, 0, 0}), 951'782'400);
  EXPECT_EQ(seconds_from_civil({2038, 1, 19, 3, 14, 8}), 2'147'483'648);
  EXPECT_EQ(seconds_from_civil({1969, 12, 31, 23, 59, 59}), -1);
  EXPECT_EQ(civil_from_seconds(4'107'542'400), (CivilTime{2100, 3, 1, 0, 0, 0}));
  EXPECT_EQ(civil_from_seconds(-2'208'988'800), (CivilTime{1900, 1, 1, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2100, 2, 29, 0, 0, 0}));
  EXPECT_TRUE(civil_valid({2400, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2026, 13, 1, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2026, 6, 30, 23, 59, 60}));
}

TEST(Civil, RoundTripsAcrossCenturies) {
  std::mt19937_64 rng(2026);
  std::uniform_int_distribution<std::int64_t> s(-2'208'988'800, 7'258'118'400);  // 1900 .. 2200
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t t = s(rng);
    const CivilTime c = civil_from_seconds(t);
    ASSERT_TRUE(civil_valid(c)) << t;
    ASSERT_EQ(seconds_from_civil(c), t);
  }
}

namespace {

// The ioctls of a Linux RTC, recorded; the RTC advances one second per
// `reads_per_second` RTC_RD_TIME calls.
struct FakeRtcDev {
  std::int64_t rtc_s = 1'790'000'000;
  int reads = 0;
  int reads_per_second = 3;
  bool has_uie = true;
  int poll_result = 1;
  std::vector<unsigned long> calls;
  rtc_time last_set{};
  std::int64_t mono = 0;

  RtcOps ops() {
    RtcOps o;
    o.open = [](const char*, int) { return 5; };
    o.close = [](int) { return 0; };
    o.ioctl = [this](int, unsigned long req, void* arg) {
      calls.push_back(req);
      if (req == RTC_RD_TIME) {
        if (++reads % reads_per_second == 0) ++rtc_s;
        const CivilTime c = civil_from_seconds(rtc_s);
        auto* t = static_cast<rtc_time*>(arg);
        *t = rtc_time{};
        t->tm_year = c.year - 1900;
        t->tm_mon = c.month - 1;
        t->tm_mday = c.day;
        t->tm_hour = c.hour;
        t->tm_min = c.minute;
        t->tm_sec = c.second;
        return 0;
      }
      if (req == RTC_SET_TIME) {
        last_set = *static_cast<rtc_time*>(arg);
        return 0;
      }
      if (req == RTC_UIE_ON && !has_uie) {
        errno = EINVAL;
        return -1;
      }
      return 0;
    };
    o.poll_in = [this](int, int) {
      if (poll_result == 1) ++rtc_s;
      return poll_result;
    };
    o.read = [](int, void* buf, unsigned long n) {
      EXPECT_EQ(n, sizeof(unsigned long));
      *static_cast<unsigned long*>(buf) = 0x190;  // one update interrupt
      return static_cast<long>(n);
    };
    o.sleep = [this](Duration d) { mono += d.ns(); };
    o.mono_now = [this] { return MonoTime(mono); };
    return o;
  }
};

}  // namespace

TEST(LinuxRtc, WaitsForTheUpdateInterrupt) {
  FakeRtcDev dev;
  auto rtc = LinuxRtc::open("/dev/rtc0", false, dev.ops());
  ASSERT_TRUE(rtc.has_value());
  std::int64_t s = 0;
  const std::int64_t before = dev.rtc_s;
  ASSERT_TRUE((*rtc)->wait_for_tick(Duration::from_ms(1500), s).ok());
  EXPECT_EQ(s, before + 1);
  EXPECT_TRUE((*rtc)->uses_interrupts());
  EXPECT_EQ(dev.calls, (std::vector<unsigned long>{RTC_UIE_ON, RTC_UIE_OFF, RTC_RD_TIME}));
}

TEST(LinuxRtc, PollsAnRtcWithoutInterrupts) {
  FakeRtcDev dev;
  dev.has_uie = false;
  auto rtc = LinuxRtc::open("/dev/rtc0", false, dev.ops());
  ASSERT_TRUE(rtc.has_value());
  std::int64_t s = 0;
  const std::int64_t before = dev.rtc_s;
  ASSERT_TRUE((*rtc)->wait_for_tick(Duration::from_ms(1500), s).ok());
  EXPECT_EQ(s, before + 1);
  EXPECT_FALSE((*rtc)->uses_interrupts());
  EXPECT_EQ(dev.mono, 2'000'000);  // two 1 ms sleeps until the third read saw the new second
  // Once known, no more RTC_UIE_ON attempts.
  dev.calls.clear();
  ASSERT_TRUE((*rtc)->wait_for_tick(Duration::from_ms(1500), s).ok());
  EXPECT_EQ(dev.calls.front(), static_cast<unsigned long>(RTC_RD_TIME));
}

TEST(LinuxRtc, AStoppedRtcTimesOutWithTheFix) {
  FakeRtcDev dev;
  dev.poll_result = 0;
  auto rtc = LinuxRtc::open("/dev/rtc1", false, dev.ops());
  ASSERT_TRUE(rtc.has_value());
  std::int64_t s = 0;
  const RtcStatus st = (*rtc)->wait_for_tick(Duration::from_ms(1500), s);
  EXPECT_EQ(st.error, ETIMEDOUT);
  EXPECT_NE(st.message().find("/dev/rtc1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("battery"), std::string::npos) << st.message();
  EXPECT_EQ(dev.calls.back(), static_cast<unsigned long>(RTC_UIE_OFF));  // interrupts left off
}

TEST(LinuxRtc, SetsTheCalendarFields) {
  FakeRtcDev dev;
  auto rtc = LinuxRtc::open("/dev/rtc0", true, dev.ops());
  ASSERT_TRUE(rtc.has_value());
  ASSERT_TRUE((*rtc)->set(seconds_from_civil({2026, 11, 21, 17, 30, 5})).ok());
  EXPECT_EQ(dev.last_set.tm_year, 126);
  EXPECT_EQ(dev.last_set.tm_mon, 10);
  EXPECT_EQ(dev.last_set.tm_mday, 21);
  EXPECT_EQ(dev.last_set.tm_hour, 17);
  EXPECT_EQ(dev.last_set.tm_min, 30);
  EXPECT_EQ(dev.last_set.tm_sec, 5);
  EXPECT_EQ(dev.last_set.tm_wday, 6);  // a Saturday
  EXPECT_EQ(dev.last_set.tm_yday, 324);
}

TEST(LinuxRtc, OpenErrorNamesTheFix) {
  RtcOps ops = RtcOps::system();
  ops.open = [](const char*, int) {
    errno = ENOENT;
    return -1;
  };
  auto rtc = LinuxRtc::open("/dev/rtc9", false, ops);
  ASSERT_FALSE(rtc.has_value());
  EXPECT_NE(rtc.error().message().find("ls /dev/rtc*"), std::string::npos) << rtc.error().message();
}

TEST(LinuxRtc, ReadsARealRtcWithoutWritingIt) {
  const auto devices = rtc_devices();
  if (devices.empty()) GTEST_SKIP() << "no /dev/rtc* on this machine (containers and many VMs have none)";
  auto rtc = LinuxRtc::open(devices.front(), false);  // read-only: this test never writes the host's RTC
  if (!rtc) GTEST_SKIP() << rtc.error().message();
  std::int64_t s = 0;
  const RtcStatus st = (*rtc)->wait_for_tick(Duration::from_ms(1500), s);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GT(s, 946'684'800);  // after 2000-01-01
}

TEST(RtcWrite, PlansTheMomentFromTheSetDelay) {
  const auto p = plan_rtc_write(UtcTime(100'200'000'000), Duration::from_ms(500));
  EXPECT_EQ(p.utc_s, 100);
  EXPECT_EQ(p.write_at.ticks(), 100'500'000'000);
  const auto q = plan_rtc_write(UtcTime(100'600'000'000), Duration::from_ms(500));
  EXPECT_EQ(q.utc_s, 101);
  EXPECT_EQ(q.write_at.ticks(), 101'500'000'000);
  // A device that starts a full second at the write: write V at V.
  const auto r = plan_rtc_write(UtcTime(100'200'000'000), Duration::from_s(1));
  EXPECT_EQ(r.utc_s, 101);
  EXPECT_EQ(r.write_at.ticks(), 101'000'000'000);
  // Too close to the moment (inside the 2 ms lead): the next second.
  const auto s = plan_rtc_write(UtcTime(100'499'000'000), Duration::from_ms(500));
  EXPECT_EQ(s.utc_s, 101);
}

TEST(RtcWrite, TheRtcRollsOverWithTheSystemClock) {
  for (Duration delay : {Duration::from_ms(500), Duration::from_ms(0), Duration::from_ms(1000)}) {
    auto tl = std::make_shared<FakeTimeline>();
    tl->truth = UtcTime(1'790'000'000'300'000'000);
    FakeRtc rtc(tl, 1'000'000'000, 0, delay);  // off by decades
    const RtcSystemClock sys = RtcSystemClock::of(tl);
    RtcConfig cfg;
    cfg.set_delay = delay;
    ASSERT_TRUE(set_rtc_from_system(rtc, sys, cfg).ok());
    EXPECT_EQ(rtc.writes(), 1);
    EXPECT_EQ(rtc.exact_ns() - tl->system().ticks(), 0) << delay.ns();
    auto m = measure_rtc(rtc, sys, cfg);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->offset(), tl->tick_latency);  // seen 50 us after the rollover
  }
}

TEST(RtcWrite, LocalTimeRtc) {
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(1'790'000'000'700'000'000);
  FakeRtc rtc(tl, 0, 0);
  const RtcSystemClock sys = RtcSystemClock::of(tl);
  RtcConfig cfg;
  cfg.timescale = RtcTimescale::kLocal;
  cfg.utc_offset_s = [](std::int64_t) { return 3600; };  // UTC+1
  ASSERT_TRUE(set_rtc_from_system(rtc, sys, cfg).ok());
  EXPECT_EQ(rtc.last_written(), 1'790'000'001 + 3600);
  auto m = measure_rtc(rtc, sys, cfg);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->offset(), tl->tick_latency);
  EXPECT_EQ(rtc_to_utc_s(utc_to_rtc_s(1'790'000'000, cfg), cfg), 1'790'000'000);
}

TEST(RtcWrite, FailuresAreReported) {
  auto tl = std::make_shared<FakeTimeline>();
  FakeRtc rtc(tl, 0, 0);
  rtc.fail_next(EACCES);
  const RtcStatus s = set_rtc_from_system(rtc, RtcSystemClock::of(tl), RtcConfig{});
  EXPECT_EQ(s.error, EACCES);
  EXPECT_NE(s.message().find("read-write access"), std::string::npos) << s.message();
  EXPECT_EQ(rtc.writes(), 0);
}
