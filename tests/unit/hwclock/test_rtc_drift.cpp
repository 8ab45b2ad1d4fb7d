#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hwclock/rtc_drift.h"

using namespace linetime::hwclock;

namespace {

// A private directory, removed with everything in it at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/linetime-rtc-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path = p ? p : "/nonexistent";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

constexpr std::int64_t kStart = 1'790'000'000LL * kNsPerSec;

}  // namespace

TEST(RtcFile, RoundTrips) {
  RtcDriftState s;
  s.ref_time = UtcTime(kStart + 123'456'789);
  s.offset = Duration::from_ns(-1'234'567'891);
  s.drift_ppm = 11.5735;
  s.timescale = RtcTimescale::kLocal;
  s.samples = 64;
  const std::string text = format_rtc_file(s);
  EXPECT_EQ(text, "linetime-rtc 1 local 1790000000.123456789 -1.234567891 11.5735 64\n");
  auto back = parse_rtc_file(text);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, s);
}

TEST(RtcFile, RejectsWhatIsNotAnRtcFile) {
  EXPECT_FALSE(parse_rtc_file("").has_value());
  EXPECT_NE(parse_rtc_file("12.5 0.3\n").error().find("not linetime's rtcfile"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 2 utc 1.000000000 0 0 0").error().find("version 2"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 1 gmt 1.000000000 0 0 0").error().find("gmt"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 1 utc 1.5 0 0 0").error().find("reference time"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 1 utc 1.000000000 0 5000 3").error().find("drift"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 1 utc 1.000000000 0 1 -3").error().find("sample count"), std::string::npos);
  EXPECT_NE(parse_rtc_file("linetime-rtc 1 utc 1.000000000 0 1").error().find("7 fields"), std::string::npos);
}

TEST(RtcFile, WritesAtomicallyAndReadsBack) {
  TempDir dir;
  const std::string path = dir.path + "/rtc";
  RtcFileRead missing = read_rtc_file(path);
  EXPECT_TRUE(missing.missing);
  EXPECT_NE(missing.message.find("first start"), std::string::npos);
  RtcDriftState s;
  s.ref_time = UtcTime(kStart);
  s.drift_ppm = -3.25;
  s.samples = 12;
  ASSERT_EQ(write_rtc_file(path, s), "");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  RtcFileRead r = read_rtc_file(path);
  ASSERT_TRUE(r.state.has_value()) << r.message;
  EXPECT_EQ(*r.state, s);
  {
    std::ofstream(path) << "garbage\n";
  }
  r = read_rtc_file(path);
  EXPECT_FALSE(r.state.has_value());
  EXPECT_NE(r.message.find("uncorrected"), std::string::npos) << r.message;
  const std::string err = write_rtc_file(dir.path + "/no/such/dir/rtc", s);
  EXPECT_NE(err.find("writable"), std::string::npos) << err;
}

TEST(RtcDriftTracker, LearnsTheDriftOfASlowRtc) {
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart);
  FakeRtc rtc(tl, kStart / kNsPerSec - 2, -11.6);  // 2 s behind, losing 1 s a day
  const RtcSystemClock sys = RtcSystemClock::of(tl);
  RtcDriftTracker tracker(RtcTimescale::kUtc);
  for (int i = 0; i < 12 * 60 / 11; ++i) {
    auto m = measure_rtc(rtc, sys, RtcConfig{});
    ASSERT_TRUE(m.has_value());
    tracker.add(*m);
    tl->advance(Duration::from_s(11 * 60));
  }
  const auto st = tracker.state();
  ASSERT_TRUE(st.has_value());
  // Measurements see whole seconds at rollovers: the drift from 12 hours of them.
  EXPECT_NEAR(st->drift_ppm, 11.6, 0.05);
  const double true_offset = static_cast<double>(tl->system().ticks() - rtc.exact_ns()) * 1e-9;
  EXPECT_NEAR(st->offset_at(tl->system()).seconds(), true_offset, 0.002);
  EXPECT_EQ(st->samples, tracker.samples());
}

// The whole life of an RTC: synchronized days with rtcsync and an rtcfile,
// shutdown, three days off, and a boot that sets the clock from it.
TEST(RtcSteering, SteersTheRtcAndSetsTheClockAtBoot) {
  TempDir dir;
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart + 250'000'000);
  const double drift = -20;  // the RTC loses 1.7 s a day
  FakeRtc rtc(tl, kStart / kNsPerSec + 2, drift);
  RtcSteeringConfig cfg;
  cfg.rtcfile = dir.path + "/rtc";
  cfg.rtcsync = true;
  {
    RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
    const RtcSteering::Boot b = steering.boot();
    EXPECT_FALSE(b.step.has_value());  // no rtcfile yet
    EXPECT_NE(b.message.find("does not exist yet"), std::string::npos) << b.message;
    EXPECT_EQ(steering.update(MonoTime(0), false), "");  // never while unsynchronized
    EXPECT_EQ(rtc.writes(), 0);
    std::int64_t mono = 0;
    Duration worst{};
    for (int minute = 0; minute < 2 * 24 * 60; ++minute) {
      EXPECT_EQ(steering.update(MonoTime(mono), true), "");
      if (minute > 11 && steering.last_offset()) worst = std::max(worst, Duration(std::llabs(steering.last_offset()->ns())));
      tl->advance(Duration::from_s(60));
      mono += 60 * kNsPerSec;
    }
    // Written whenever 5 ms off: 20 ppm reaches that in about 4 minutes, so
    // every 11-minute measurement finds it off and corrects it.
    EXPECT_GT(rtc.writes(), 200);
    EXPECT_LT(worst, Duration::from_us(100));  // right after each write: the rollover latency
    const auto st = steering.tracker().state();
    ASSERT_TRUE(st.has_value());
    EXPECT_NEAR(st->drift_ppm, -drift, 0.1);
    EXPECT_EQ(steering.shutdown(true), "");
  }
  // Three days powered off.
  tl->advance(Duration::from_s(3 * 86400));
  const double uncorrected_s = static_cast<double>(tl->truth.ticks() - rtc.exact_ns()) * 1e-9;
  // The kernel's boot set the system clock from the RTC to the second: off by
  // the drift and the truncation.
  tl->system_error = Duration(rtc.exact_ns() / kNsPerSec * kNsPerSec - tl->truth.ticks());
  RtcSteering at_boot(rtc, RtcSystemClock::of(tl), cfg);
  const RtcSteering::Boot b = at_boot.boot();
  ASSERT_TRUE(b.step.has_value()) << b.message;
  const Duration remaining = tl->system_error + *b.step;  // system - truth after the step
  EXPECT_LT(std::llabs(remaining.ns()), 1'000'000) << b.message;
  EXPECT_GT(std::fabs(uncorrected_s), 5.0);
  std::printf("RTC -20 ppm, 3 days off: uncorrected %.3f s, after the drift-corrected boot step %.3f ms\n",
              uncorrected_s, static_cast<double>(remaining.ns()) * 1e-6);
}

TEST(RtcSteering, TracksWithoutWritingWhenOnlyAnRtcFileIsGiven) {
  TempDir dir;
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart);
  FakeRtc rtc(tl, kStart / kNsPerSec - 30, 8);
  RtcSteeringConfig cfg;
  cfg.rtcfile = dir.path + "/rtc";
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  (void)steering.boot();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(steering.update(MonoTime(i * 11 * 60 * kNsPerSec), true), "");
    tl->advance(Duration::from_s(11 * 60));
  }
  EXPECT_EQ(rtc.writes(), 0);
  auto r = read_rtc_file(cfg.rtcfile);
  ASSERT_TRUE(r.state.has_value()) << r.message;
  EXPECT_NEAR(r.state->drift_ppm, -8, 0.05);
  const double true_offset = static_cast<double>(tl->system().ticks() - rtc.exact_ns()) * 1e-9;
  EXPECT_NEAR(r.state->offset_at(tl->system()).seconds(), true_offset, 0.002);
  EXPECT_GT(true_offset, 29);
}

TEST(RtcSteering, BootRefusesAnRtcThatWasReset) {
  TempDir dir;
  RtcSteeringConfig cfg;
  cfg.rtcfile = dir.path + "/rtc";
  RtcDriftState s;
  s.ref_time = UtcTime(kStart);
  s.drift_ppm = 5;
  s.samples = 30;
  ASSERT_EQ(write_rtc_file(cfg.rtcfile, s), "");
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart + 86400 * kNsPerSec);
  FakeRtc rtc(tl, 946'684'800, 0);  // battery died: back to 2000-01-01
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  const RtcSteering::Boot b = steering.boot();
  EXPECT_FALSE(b.step.has_value());
  EXPECT_NE(b.message.find("battery"), std::string::npos) << b.message;

  // Written since the system booted: a restarted daemon, the clock is kept.
  FakeRtc good(tl, kStart / kNsPerSec + 86400 + 3, 5);
  cfg.booted_at = UtcTime(kStart - 60 * kNsPerSec);
  RtcSteering restarted(good, RtcSystemClock::of(tl), cfg);
  const RtcSteering::Boot kept = restarted.boot();
  EXPECT_FALSE(kept.step.has_value());
  EXPECT_NE(kept.message.find("since the system booted"), std::string::npos) << kept.message;
  cfg.booted_at = UtcTime(kStart + 60 * kNsPerSec);  // booted after it: set from the RTC
  RtcSteering booted(good, RtcSystemClock::of(tl), cfg);
  const RtcSteering::Boot set = booted.boot();
  ASSERT_TRUE(set.step.has_value()) << set.message;
  // 2 s ahead (the measurement above took a second), corrected by a day at 5 ppm.
  EXPECT_NEAR(set.step->seconds(), 2 + 0.432, 0.001);
  cfg.booted_at.reset();

  cfg.rtc.timescale = RtcTimescale::kLocal;  // the file was written for a UTC RTC
  RtcSteering other(rtc, RtcSystemClock::of(tl), cfg);
  const RtcSteering::Boot c = other.boot();
  EXPECT_FALSE(c.step.has_value());
  EXPECT_NE(c.message.find("rtcdevice"), std::string::npos) << c.message;
}

// --- RtcSteering::poll: steering from a poll loop, without waiting ----------------

namespace {

// Runs RtcSteering::poll as linetime-control's loop does: it wakes at the
// deadline (its millisecond timeout rounded up) or after `idle` when there is
// none, and records how long each poll() kept it (simulated time).
struct PollLoop {
  PollLoop(std::shared_ptr<FakeTimeline> timeline, RtcSteering& s, FakeRtc* measured = nullptr)
      : tl(std::move(timeline)), steering(s), rtc(measured) {}

  std::shared_ptr<FakeTimeline> tl;
  RtcSteering& steering;
  std::int64_t mono = 0;
  Duration longest_poll{};
  std::vector<std::string> messages;
  int cycles = 0;  // measurements completed (busy -> idle)
  Duration worst_error{};  // |measured - true offset| at the end of each cycle
  FakeRtc* rtc;  // with it, each cycle's result is checked against the truth
  std::int64_t rtc_local_ns = 0;  // the RTC's timescale minus UTC

  void run(Duration span, bool synchronized, Duration idle = Duration::from_s(1)) {
    const UtcTime end = tl->truth + span;
    while (tl->truth < end) {
      Duration wait = idle;
      if (const auto d = steering.next_deadline()) {
        wait = std::max(Duration{}, *d - tl->system()) + Duration::from_us(700);
        wait = std::min(wait, Duration::from_s(1));
      }
      tl->advance(wait);
      mono += wait.ns();
      const bool was_busy = steering.busy();
      const UtcTime before = tl->truth;
      const std::string m = steering.poll(MonoTime(mono), synchronized);
      longest_poll = std::max(longest_poll, tl->truth - before);
      mono += (tl->truth - before).ns();
      if (!m.empty()) messages.push_back(m);
      if (was_busy && !steering.busy() && m.empty() && steering.last_offset() && rtc != nullptr) {
        ++cycles;
        const Duration truth = Duration(tl->system().ticks() - (rtc->exact_ns() - rtc_local_ns));
        worst_error = std::max(worst_error, Duration(std::llabs((*steering.last_offset() - truth).ns())));
      }
    }
  }
};

}  // namespace

TEST(RtcSteeringPoll, SteersTheRtcWithoutEverWaitingForIt) {
  TempDir dir;
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart + 250'000'000);
  const double drift = -20;
  FakeRtc rtc(tl, kStart / kNsPerSec + 2, drift);
  RtcSteeringConfig cfg;
  cfg.rtcfile = dir.path + "/rtc";
  cfg.rtcsync = true;
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  (void)steering.boot();
  PollLoop loop(tl, steering, &rtc);
  loop.run(Duration::from_s(2 * 86400), true, Duration::from_s(5));
  EXPECT_TRUE(loop.messages.empty()) << loop.messages.front();
  // Never longer than the last few milliseconds before a read or a write.
  EXPECT_LE(loop.longest_poll, RtcSteering::kMaxPollSleep);
  EXPECT_GT(loop.longest_poll, Duration{});
  // One cycle every 11 minutes (a measurement, and after a write one more).
  EXPECT_GT(rtc.writes(), 200);
  EXPECT_GT(loop.cycles, 2 * 86400 / 660 - 2);
  EXPECT_LT(loop.worst_error, RtcSteering::kSearchResolution);
  std::printf("poll(): %d measurements, %d writes, worst measurement error %.0f us, longest poll() %.1f ms\n",
              loop.cycles, rtc.writes(), static_cast<double>(loop.worst_error.ns()) * 1e-3,
              static_cast<double>(loop.longest_poll.ns()) * 1e-6);
  ASSERT_TRUE(steering.last_offset().has_value());
  EXPECT_LT(std::llabs(steering.last_offset()->ns()), 5'000'000);
  const auto st = steering.tracker().state();
  ASSERT_TRUE(st.has_value());
  EXPECT_NEAR(st->drift_ppm, -drift, 0.1);
  auto r = read_rtc_file(cfg.rtcfile);
  ASSERT_TRUE(r.state.has_value()) << r.message;
  EXPECT_NEAR(r.state->drift_ppm, -drift, 0.1);
}

TEST(RtcSteeringPoll, MeasuresALocalTimeRtcThatIsOnlyTracked) {
  TempDir dir;
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart + 730'000'000);
  RtcSteeringConfig cfg;
  cfg.rtcfile = dir.path + "/rtc";
  cfg.rtc.timescale = RtcTimescale::kLocal;
  cfg.rtc.utc_offset_s = [](std::int64_t) { return 3600; };
  // Local time (UTC+1), about 31 s behind and losing 8 ppm.
  FakeRtc rtc(tl, 0, -8);
  ASSERT_TRUE(rtc.set(kStart / kNsPerSec + 3600 - 31).ok());
  tl->advance(Duration::from_ms(900));
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  (void)steering.boot();
  PollLoop loop(tl, steering, &rtc);
  loop.rtc_local_ns = 3600 * kNsPerSec;
  loop.run(Duration::from_s(3600), true);
  EXPECT_TRUE(loop.messages.empty()) << loop.messages.front();
  EXPECT_EQ(rtc.writes(), 1);  // the set above, none from the steering
  EXPECT_EQ(loop.cycles, 6);
  ASSERT_TRUE(steering.last_offset().has_value());
  EXPECT_LT(loop.worst_error, Duration::from_ms(1));  // the truth in the RTC's local time
  const double truth = static_cast<double>(tl->system().ticks() - (rtc.exact_ns() - 3600 * kNsPerSec)) * 1e-9;
  EXPECT_NEAR(steering.last_offset()->seconds(), truth, 0.003);  // 8 ppm since the last cycle
  EXPECT_GT(truth, 30);
}

TEST(RtcSteeringPoll, NothingWhileUnsynchronized) {
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart);
  FakeRtc rtc(tl, kStart / kNsPerSec, 50);
  RtcSteeringConfig cfg;
  cfg.rtcsync = true;
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  PollLoop loop(tl, steering);
  loop.run(Duration::from_s(3600), false);
  EXPECT_EQ(rtc.writes(), 0);
  EXPECT_FALSE(steering.last_offset().has_value());
  EXPECT_FALSE(steering.next_deadline().has_value());
  // Synchronized: measured and (no rtcfile) written at once; losing the
  // synchronization in the middle of a measurement abandons it.
  loop.run(Duration::from_ms(1500), true);
  EXPECT_TRUE(steering.busy());
  loop.run(Duration::from_s(2), false);
  EXPECT_FALSE(steering.busy());
  EXPECT_EQ(rtc.writes(), 0);
}

TEST(RtcSteeringPoll, AClockStepRestartsTheMeasurement) {
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart + 100'000'000);
  FakeRtc rtc(tl, kStart / kNsPerSec - 5, 0);
  RtcSteeringConfig cfg;
  cfg.rtcsync = true;
  cfg.write_tolerance = Duration::from_ms(5);
  RtcSteering steering(rtc, RtcSystemClock::of(tl), cfg);
  PollLoop loop(tl, steering, &rtc);
  tl->system_error = Duration::from_ms(-400);
  loop.run(Duration::from_s(3), true);
  ASSERT_TRUE(steering.busy());
  // The control steps the system clock onto true time half-way through.
  tl->system_error = Duration{};
  steering.on_clock_step(Duration::from_ms(400));
  loop.run(Duration::from_s(60), true);
  EXPECT_FALSE(steering.busy());
  EXPECT_EQ(rtc.writes(), 1);
  ASSERT_TRUE(steering.last_offset().has_value());
  // Written from the stepped clock: the RTC now agrees with true time.
  EXPECT_LT(std::llabs(static_cast<std::int64_t>(tl->truth.ticks() - rtc.exact_ns())), 300'000);
  EXPECT_LT(loop.worst_error, RtcSteering::kSearchResolution);
}

TEST(RtcSteeringPoll, AStoppedRtcOrAFailedReadIsReported) {
  auto tl = std::make_shared<FakeTimeline>();
  tl->truth = UtcTime(kStart);
  FakeRtc stopped(tl, kStart / kNsPerSec, -1e6);  // its crystal stands still
  RtcSteeringConfig cfg;
  cfg.rtcsync = true;
  RtcSteering steering(stopped, RtcSystemClock::of(tl), cfg);
  PollLoop loop(tl, steering);
  loop.run(Duration::from_s(120), true);
  ASSERT_EQ(loop.messages.size(), 1u);
  EXPECT_NE(loop.messages[0].find("do not advance one second per second"), std::string::npos) << loop.messages[0];
  EXPECT_EQ(stopped.writes(), 0);
  EXPECT_FALSE(steering.busy());

  FakeRtc rtc(tl, kStart / kNsPerSec, 0);
  RtcSteering other(rtc, RtcSystemClock::of(tl), cfg);
  PollLoop again(tl, other);
  rtc.fail_next(EIO);
  again.run(Duration::from_s(30), true);
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_NE(again.messages[0].find("RTC_RD_TIME"), std::string::npos) << again.messages[0];
  EXPECT_EQ(rtc.writes(), 0);
  again.run(Duration::from_s(11 * 60), true);  // the next interval: measured and written
  EXPECT_EQ(rtc.writes(), 1);
  EXPECT_EQ(again.messages.size(), 1u);
}
