// The daemon's RTC wiring, with a fake RTC given through DaemonOptions::open_rtc
// and the simulated clock (-x): how the RTC is opened, the boot step from a
// drift-corrected RTC at the first start after a boot, a restart that keeps the
// clock, and an RTC that cannot be opened. The daemon runs for a fraction of a
// second in the test process with its files in a private directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "control/daemon.h"
#include "hwclock/rtc_drift.h"

namespace linetime::control {
namespace {

using hwclock::Duration;
using hwclock::kNsPerSec;
using hwclock::UtcTime;

UtcTime real_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return UtcTime(std::int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec);
}

UtcTime booted_at() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return real_now() - Duration(std::int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec);
}

struct DaemonRun {
  int status = -1;
  std::string log;
  int opened = 0;
  std::string opened_path;
  bool opened_writable = true;
};

// The daemon with `conf`, -x, no metrics, for 0.2 s; the RTC is a FakeRtc
// reading `rtc_ahead_s` ahead of the real clock (or `open_error`).
class DaemonRtc : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/linetime-rtcwire-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    ASSERT_NE(p, nullptr);
    dir_ = p;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  DaemonRun run(const std::string& conf, std::int64_t rtc_ahead_s, int open_error = 0) {
    DaemonRun r;
    std::ofstream(dir_ + "/ntp.conf") << conf;
    DaemonOptions o;
    o.config_path = dir_ + "/ntp.conf";
    o.no_clock_control = true;
    o.foreground = true;
    o.logfile = dir_ + "/log";
    o.socket_path = dir_ + "/control.sock";
    o.no_metrics = true;
    o.duration_s = 0.2;
    auto tl = std::make_shared<hwclock::FakeTimeline>();
    tl->truth = real_now();
    o.open_rtc = [&r, tl, rtc_ahead_s, open_error](const std::string& path, bool writable)
        -> Expected<std::unique_ptr<hwclock::RtcDevice>, hwclock::RtcStatus> {
      ++r.opened;
      r.opened_path = path;
      r.opened_writable = writable;
      if (open_error != 0) return unexpected(hwclock::RtcStatus{open_error, "open " + path});
      const std::int64_t now_s = tl->truth.ticks() / kNsPerSec;
      return std::unique_ptr<hwclock::RtcDevice>(new hwclock::FakeRtc(tl, now_s + rtc_ahead_s, 0));
    };
    r.status = run_daemon(o);
    std::ifstream in(dir_ + "/log");
    std::ostringstream ss;
    ss << in.rdbuf();
    r.log = ss.str();
    return r;
  }

  std::string rtcfile(UtcTime ref, Duration offset) {
    hwclock::RtcDriftState s;
    s.ref_time = ref;
    s.offset = offset;
    s.samples = 40;
    const std::string path = dir_ + "/rtc";
    EXPECT_EQ(hwclock::write_rtc_file(path, s), "");
    return path;
  }

  // The step the log reports, or NaN.
  static double logged_step(const std::string& log) {
    const auto at = log.find("simulated clock stepped by ");
    if (at == std::string::npos) return std::nan("");
    return std::strtod(log.c_str() + at + std::strlen("simulated clock stepped by "), nullptr);
  }

  std::string dir_;
};

TEST_F(DaemonRtc, FirstStartAfterABootSetsTheSimulatedClockFromTheRtc) {
  // Measured a day before this machine booted, 2.5 s behind then (no drift).
  const std::string file = rtcfile(booted_at() - Duration::from_s(86400), Duration::from_ms(2500));
  const DaemonRun r = run("rtcfile " + file + "\nrtcsync\nrtcdevice /dev/rtc7 utc setdelay 300\n", 100);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(r.opened, 1);
  EXPECT_EQ(r.opened_path, "/dev/rtc7");
  EXPECT_FALSE(r.opened_writable);  // -x: the RTC is read, never written
  EXPECT_NE(r.log.find("no clock control (-x): rtcsync ignored, /dev/rtc7 is read and never written"),
            std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("RTC fake (UTC time, drift in " + file + ")"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("system clock set from fake: RTC corrected by +2.500000 s"), std::string::npos) << r.log;
  // The fake reads 100 s ahead; its next second plus the file's 2.5 s.
  const double step = logged_step(r.log);
  EXPECT_GT(step, 102.5) << r.log;
  EXPECT_LE(step, 103.5) << r.log;
  // Not synchronized: nothing measured or written at the exit; the file is as it was.
  auto back = hwclock::read_rtc_file(file);
  ASSERT_TRUE(back.state.has_value()) << back.message;
  EXPECT_EQ(back.state->offset, Duration::from_ms(2500));
}

TEST_F(DaemonRtc, ARestartKeepsTheClock) {
  const std::string file = rtcfile(real_now() - Duration::from_s(60), Duration{});
  const DaemonRun r = run("rtcfile " + file + "\n", 100);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(r.opened, 1);
  EXPECT_EQ(r.opened_path, "/dev/rtc0");
  EXPECT_FALSE(r.opened_writable);
  EXPECT_NE(r.log.find("was written since the system booted: the system clock keeps its time"), std::string::npos)
      << r.log;
  EXPECT_TRUE(std::isnan(logged_step(r.log))) << r.log;
}

TEST_F(DaemonRtc, WithoutAnRtcfileTheClockIsNotSetFromTheRtc) {
  const DaemonRun r = run("rtcsync\n", 100);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(r.opened, 1);
  EXPECT_NE(r.log.find("no rtcfile: the system clock is not set from the RTC"), std::string::npos) << r.log;
  EXPECT_TRUE(std::isnan(logged_step(r.log))) << r.log;
}

TEST_F(DaemonRtc, AnRtcThatCannotBeOpenedIsDoneWithout) {
  const DaemonRun r = run("rtcsync\nrtcdevice /dev/rtc9\n", 0, ENOENT);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(r.opened, 1);
  EXPECT_NE(r.log.find("RTC: open /dev/rtc9 failed: No such file or directory — no such RTC"), std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("; running without the RTC"), std::string::npos) << r.log;
}

TEST_F(DaemonRtc, NoRtcDirectivesLeaveTheRtcAlone) {
  const DaemonRun r = run("rtcdevice /dev/rtc1\n", 100);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_EQ(r.opened, 0);
  EXPECT_EQ(r.log.find("RTC"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace linetime::control

namespace linetime::control {
namespace {

// `hwtimestamp`: loopback has no hardware stamping (the kernel's generic
// answer: software only, no PHC), and a missing interface is named.
TEST_F(DaemonRtc, HwtimestampOnAnInterfaceWithoutHardwareStamping) {
  const DaemonRun r = run("hwtimestamp lo\nhwtimestamp ltrtcwire0\n", 0);
  EXPECT_EQ(r.status, 0) << r.log;
  EXPECT_NE(r.log.find("hwtimestamp lo: not supported on this interface (its driver reports no hardware time "
                       "stamping, `ethtool -T lo` shows the same) — the kernel's software timestamps are used instead"),
            std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("hwtimestamp ltrtcwire0: no such interface — fix the hwtimestamp line"), std::string::npos)
      << r.log;
}

}  // namespace
}  // namespace linetime::control
