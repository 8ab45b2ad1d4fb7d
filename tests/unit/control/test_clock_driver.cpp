// Tests of the clock drivers: the system driver's clock_adjtime calls (modes,
// units, signs, the tick split beyond 500 ppm) against a fake that records every
// struct timex; the simulated clock's integration of frequency, steps, one-shot
// slews and leap seconds over a manual base time; and the discipline steering a
// simulated clock through execute().
#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <vector>

#include "control/clock_driver.h"
#include "discipline/leap.h"

namespace linetime::control {
namespace {

namespace dsc = discipline;

// The kernel as the system driver sees it: answers reads from `state`, records
// every call, and fails with `fail_errno` when set.
struct FakeKernel {
  std::vector<struct timex> calls;
  struct timex state {};
  int return_state = TIME_OK;
  int fail_errno = 0;
  struct timespec realtime {};

  SystemClockOps ops(long nominal_tick_us = 10'000) {
    SystemClockOps o;
    o.adjtime = [this](clockid_t c, struct timex* t) {
      EXPECT_EQ(c, CLOCK_REALTIME);
      calls.push_back(*t);
      if (fail_errno != 0) {
        errno = fail_errno;
        return -1;
      }
      if (t->modes == 0) *t = state;
      return return_state;
    };
    o.gettime = [this](clockid_t c, struct timespec* ts) {
      EXPECT_EQ(c, CLOCK_REALTIME);
      *ts = realtime;
      return 0;
    };
    o.nominal_tick_us = nominal_tick_us;
    return o;
  }
};

UtcTime utc(int y, int mo, int d, int h, int mi, double s) {
  const std::int64_t days = dsc::days_from_civil({y, mo, d});
  return UtcTime(days * 86'400 * hwclock::kNsPerSec + (h * 3600 + mi * 60) * hwclock::kNsPerSec) +
         Duration::from_seconds(s);
}

// --- the system driver ----------------------------------------------------------------

TEST(SystemClockDriver, StartReadsTheKernelThenResetsPllSlewAndStatus) {
  FakeKernel k;
  k.state.tick = 10'000;
  k.state.freq = static_cast<long>(12.5 * 65536);
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.start().ok());
  EXPECT_DOUBLE_EQ(d.frequency_ppm(), 12.5);
  ASSERT_EQ(k.calls.size(), 4u);
  EXPECT_EQ(k.calls[0].modes, 0u);
  EXPECT_EQ(k.calls[1].modes, unsigned(ADJ_STATUS | ADJ_OFFSET | ADJ_NANO));
  EXPECT_EQ(k.calls[1].status, STA_PLL | STA_UNSYNC);
  EXPECT_EQ(k.calls[1].offset, 0);
  EXPECT_EQ(k.calls[2].modes, unsigned(ADJ_OFFSET_SINGLESHOT));
  EXPECT_EQ(k.calls[2].offset, 0);
  EXPECT_EQ(k.calls[3].modes, unsigned(ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS | ADJ_NANO));
  EXPECT_EQ(k.calls[3].status, STA_UNSYNC);
  EXPECT_EQ(k.calls[3].maxerror, 16'000'000);
  EXPECT_EQ(k.calls[3].esterror, 16'000'000);
}

TEST(SystemClockDriver, StartLearnsATickOffsetFrequency) {
  FakeKernel k;
  k.state.tick = 10'003;
  k.state.freq = static_cast<long>(-20 * 65536);
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.start().ok());
  EXPECT_DOUBLE_EQ(d.frequency_ppm(), 280.0);  // 3 µs of tick = 300 ppm, minus 20
}

TEST(SystemClockDriver, FrequencyIsScaledPpmInNanosecondMode) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.set_frequency(12.345).ok());
  ASSERT_EQ(k.calls.size(), 1u);
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_FREQUENCY | ADJ_NANO));
  EXPECT_EQ(k.calls[0].freq, 809'042);  // 12.345 * 65536 = 809041.92
  ASSERT_TRUE(d.set_frequency(-250.5).ok());
  EXPECT_EQ(k.calls[1].freq, -16'416'768);
  EXPECT_NEAR(d.frequency_ppm(), -250.5, 1e-9);
}

TEST(SystemClockDriver, BeyondFiveHundredPpmTheTickTakesTheExcess) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.set_frequency(1234.5).ok());
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_FREQUENCY | ADJ_NANO | ADJ_TICK));
  EXPECT_EQ(k.calls[0].tick, 10'008);
  EXPECT_EQ(k.calls[0].freq, static_cast<long>(434.5 * 65536));
  EXPECT_NEAR(d.frequency_ppm(), 1234.5, 1e-9);
  // Back within ±500 ppm: the tick returns to nominal in the same call.
  ASSERT_TRUE(d.set_frequency(100).ok());
  EXPECT_EQ(k.calls[1].modes, unsigned(ADJ_FREQUENCY | ADJ_NANO | ADJ_TICK));
  EXPECT_EQ(k.calls[1].tick, 10'000);
  EXPECT_EQ(k.calls[1].freq, 100 * 65536);
  // Unchanged tick: no ADJ_TICK.
  ASSERT_TRUE(d.set_frequency(-100).ok());
  EXPECT_EQ(k.calls[2].modes, unsigned(ADJ_FREQUENCY | ADJ_NANO));
  ASSERT_TRUE(d.set_frequency(-1234.5).ok());
  EXPECT_EQ(k.calls[3].tick, 9'992);
  EXPECT_EQ(k.calls[3].freq, static_cast<long>(-434.5 * 65536));
}

TEST(SystemClockDriver, FrequencyBeyondTheTickRangeIsClamped) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.set_frequency(250'000).ok());
  EXPECT_EQ(k.calls[0].tick, 10'995);
  EXPECT_EQ(k.calls[0].freq, 500 * 65536);
  EXPECT_DOUBLE_EQ(d.frequency_ppm(), kMaxFrequencyPpm);
}

TEST(SplitFrequency, Boundaries) {
  const KernelFrequency at = split_frequency(500, 10'000);
  EXPECT_EQ(at.tick_us, 10'000);
  EXPECT_DOUBLE_EQ(at.freq_ppm, 500);
  const KernelFrequency above = split_frequency(500.25, 10'000);
  EXPECT_EQ(above.tick_us, 10'001);
  EXPECT_NEAR(above.freq_ppm, 400.25, 1e-9);
  // USER_HZ 250: 4000 µs ticks, 250 ppm per µs.
  const KernelFrequency hz250 = split_frequency(-1000, 4'000);
  EXPECT_EQ(hz250.tick_us, 3'998);
  EXPECT_NEAR(hz250.freq_ppm, -500, 1e-9);
  EXPECT_NEAR(hz250.total_ppm(), -1000, 1e-9);
  EXPECT_EQ(split_frequency(std::nan(""), 10'000).freq_ppm, 0);
}

TEST(SystemClockDriver, StepIsSetOffsetWithANormalizedNanosecondTimeval) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  struct Case {
    std::int64_t ns;
    long sec;
    long nsec;
  };
  const Case cases[] = {{1'500'000'000, 1, 500'000'000},
                        {-1'500'000'000, -2, 500'000'000},
                        {-2'000'000'000, -2, 0},
                        {-1, -1, 999'999'999},
                        {250'000'123, 0, 250'000'123}};
  for (const Case& c : cases) {
    k.calls.clear();
    ASSERT_TRUE(d.step(Duration(c.ns)).ok());
    ASSERT_EQ(k.calls.size(), 1u);
    EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_SETOFFSET | ADJ_NANO)) << c.ns;
    EXPECT_EQ(k.calls[0].time.tv_sec, c.sec) << c.ns;
    EXPECT_EQ(k.calls[0].time.tv_usec, c.nsec) << c.ns;
  }
}

TEST(SystemClockDriver, OneShotSlewIsSingleshotInMicroseconds) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.slew_once(Duration::from_ns(1'234'567)).ok());
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_OFFSET_SINGLESHOT));
  EXPECT_EQ(k.calls[0].offset, 1'235);
  ASSERT_TRUE(d.slew_once(Duration::from_ns(-500'400)).ok());
  EXPECT_EQ(k.calls[1].offset, -500);
}

TEST(SystemClockDriver, SyncStatusSetsErrorsInMicrosecondsAndStatusBits) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.set_sync_status(0.0123, 0.0005, true, Leap::kInsert).ok());
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS | ADJ_NANO));
  EXPECT_EQ(k.calls[0].maxerror, 12'300);
  EXPECT_EQ(k.calls[0].esterror, 500);
  EXPECT_EQ(k.calls[0].status, STA_INS);  // synchronized: STA_UNSYNC clear; STA_PLL off
  ASSERT_TRUE(d.set_sync_status(100, 0.001, true, Leap::kDelete).ok());
  EXPECT_EQ(k.calls[1].maxerror, 16'000'000);
  EXPECT_EQ(k.calls[1].status, STA_DEL);
  ASSERT_TRUE(d.set_sync_status(0.001, 0.001, false, Leap::kUnsync).ok());
  EXPECT_EQ(k.calls[2].status, STA_UNSYNC);
  EXPECT_EQ(k.calls[2].maxerror, 16'000'000);
  EXPECT_EQ(k.calls[2].esterror, 16'000'000);
  ASSERT_TRUE(d.set_sync_status(0.001, 0.001, true, Leap::kNone).ok());
  EXPECT_EQ(k.calls[3].status, 0);
}

TEST(SystemClockDriver, LeapIsReportedOnceWhenTheKernelWaits) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  EXPECT_FALSE(d.poll_leap_applied());
  EXPECT_TRUE(k.calls.empty());  // nothing armed: no system call
  ASSERT_TRUE(d.set_sync_status(0.01, 0.001, true, Leap::kInsert).ok());
  k.return_state = TIME_INS;
  EXPECT_FALSE(d.poll_leap_applied());
  EXPECT_EQ(k.calls.back().modes, 0u);  // the poll only reads
  k.return_state = TIME_WAIT;
  EXPECT_TRUE(d.poll_leap_applied());
  EXPECT_FALSE(d.poll_leap_applied());
  // Disarmed and armed again: reported again after the next leap.
  ASSERT_TRUE(d.set_sync_status(0.01, 0.001, true, Leap::kNone).ok());
  ASSERT_TRUE(d.set_sync_status(0.01, 0.001, true, Leap::kDelete).ok());
  EXPECT_TRUE(d.poll_leap_applied());
}

TEST(SystemClockDriver, FailuresCarryErrnoAndTellTheOperatorWhatToDo) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  ASSERT_TRUE(d.set_frequency(10).ok());
  k.fail_errno = EPERM;
  const ClockStatus s = d.set_frequency(20);
  EXPECT_EQ(s.error, EPERM);
  EXPECT_EQ(s.message(),
            "clock_adjtime(ADJ_FREQUENCY) failed: Operation not permitted — run linetime-control as root or with "
            "CAP_SYS_TIME (the systemd unit grants it), or with -x to run without clock control");
  EXPECT_DOUBLE_EQ(d.frequency_ppm(), 10);  // unchanged
  EXPECT_EQ(d.step(Duration::from_ms(5)).error, EPERM);
  EXPECT_EQ(d.start().error, EPERM);
}

TEST(SystemClockDriver, NowReadsRealtime) {
  FakeKernel k;
  k.realtime = {1'700'000'000, 123'456'789};
  SystemClockDriver d(k.ops());
  EXPECT_EQ(d.now().ticks(), 1'700'000'000'123'456'789);
}

// --- commands and status -----------------------------------------------------------------

TEST(Execute, CommandsMapOntoDriverCalls) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  dsc::ClockCommand c;
  EXPECT_FALSE(execute(d, c).stop);
  EXPECT_TRUE(k.calls.empty());

  c.action = dsc::ClockAction::kStep;
  c.step = Duration::from_ms(-300);
  c.frequency_ppm = 15;
  CommandResult r = execute(d, c);
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.stepped);
  EXPECT_FALSE(r.stop);
  ASSERT_EQ(k.calls.size(), 2u);
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_SETOFFSET | ADJ_NANO));
  EXPECT_EQ(k.calls[0].time.tv_sec, -1);
  EXPECT_EQ(k.calls[0].time.tv_usec, 700'000'000);
  EXPECT_EQ(k.calls[1].freq, 15 * 65536);

  k.calls.clear();
  c = {};
  c.action = dsc::ClockAction::kPanic;
  c.offset = Duration::from_s(5000);
  r = execute(d, c);
  EXPECT_TRUE(r.stop);
  EXPECT_TRUE(k.calls.empty());

  c = {};
  c.action = dsc::ClockAction::kExit;
  c.slew = Duration::from_us(-40);
  r = execute(d, c);
  EXPECT_TRUE(r.stop);
  EXPECT_FALSE(r.stepped);
  ASSERT_EQ(k.calls.size(), 1u);
  EXPECT_EQ(k.calls[0].modes, unsigned(ADJ_OFFSET_SINGLESHOT));
  EXPECT_EQ(k.calls[0].offset, -40);
}

TEST(Execute, AFailedStepLeavesTheFrequencyAlone) {
  FakeKernel k;
  SystemClockDriver d(k.ops());
  k.fail_errno = EPERM;
  dsc::ClockCommand c;
  c.action = dsc::ClockAction::kStep;
  c.step = Duration::from_s(1);
  c.frequency_ppm = 40;
  const CommandResult r = execute(d, c);
  EXPECT_EQ(r.status.error, EPERM);
  EXPECT_FALSE(r.stepped);
  EXPECT_EQ(k.calls.size(), 1u);
}

TEST(SyncStatusOf, ErrorsFromTheSystemState) {
  dsc::SystemState s;
  const UtcTime ref = utc(2024, 3, 1, 12, 0, 0);
  EXPECT_EQ(sync_status_of(s, ref), SyncStatus{});  // unsynchronized: 16 s, no leap

  s.mode = dsc::SyncMode::kSynchronized;
  s.reference_time = ref;
  s.root_delay = Duration::from_ms(10);
  s.root_dispersion = Duration::from_ms(5);
  s.dispersion_rate = 15e-6;
  s.offset_sd_s = 20e-6;
  s.jitter_s = 50e-6;
  const SyncStatus st = sync_status_of(s, ref + Duration::from_s(100));
  EXPECT_TRUE(st.synchronized);
  EXPECT_NEAR(st.maxerror_s, 0.005 + 0.005 + 0.0015, 1e-9);
  EXPECT_DOUBLE_EQ(st.esterror_s, 50e-6);
  EXPECT_EQ(st.leap_armed, Leap::kNone);

  s.leap_decision.kind = Leap::kInsert;
  s.leap_decision.announce = true;
  EXPECT_EQ(sync_status_of(s, ref).leap_armed, Leap::kNone);  // announced, not yet armed
  s.leap_decision.arm = true;
  EXPECT_EQ(sync_status_of(s, ref).leap_armed, Leap::kInsert);

  s.mode = dsc::SyncMode::kHoldover;
  EXPECT_TRUE(sync_status_of(s, ref).synchronized);
  s.mode = dsc::SyncMode::kLocalReference;
  EXPECT_FALSE(sync_status_of(s, ref).synchronized);
}

// --- the simulated clock ----------------------------------------------------------------

TEST(SimulatedClock, FollowsTheRealClockUntilCommanded) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  ManualClockDriver c(t0);
  EXPECT_EQ(c.now(), t0);
  c.advance_real(Duration::from_s(7));
  EXPECT_EQ(c.now(), t0 + Duration::from_s(7));
  EXPECT_STREQ(c.name(), "simulated");
}

TEST(SimulatedClock, FrequencyIntegratesOverElapsedRealTime) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  ManualClockDriver c(t0);
  ASSERT_TRUE(c.set_frequency(100).ok());
  c.advance_real(Duration::from_s(10));
  EXPECT_EQ(c.now() - c.real(), Duration::from_ms(1));  // 100 ppm for 10 s
  ASSERT_TRUE(c.set_frequency(-50).ok());
  c.advance_real(Duration::from_s(10));
  EXPECT_EQ(c.correction(), Duration::from_us(500));
  c.advance_real(Duration::from_s(10));
  EXPECT_EQ(c.correction(), Duration{});
  // Many reads in between change nothing.
  ASSERT_TRUE(c.set_frequency(20).ok());
  for (int i = 0; i < 1000; ++i) {
    c.advance_real(Duration::from_ms(1));
    (void)c.now();
  }
  EXPECT_EQ(c.correction(), Duration::from_ns(20'000));
}

TEST(SimulatedClock, StepsAddToTheCorrection) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  ManualClockDriver c(t0);
  ASSERT_TRUE(c.step(Duration::from_ms(250)).ok());
  EXPECT_EQ(c.now(), t0 + Duration::from_ms(250));
  ASSERT_TRUE(c.set_frequency(-200).ok());
  c.advance_real(Duration::from_s(5));
  ASSERT_TRUE(c.step(Duration::from_ms(-1000)).ok());
  EXPECT_EQ(c.now() - c.real(), Duration::from_ms(250 - 1 - 1000));
  EXPECT_EQ(c.steps(), 2u);
}

TEST(SimulatedClock, OneShotSlewRunsAtFiveHundredPpm) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  ManualClockDriver c(t0);
  ASSERT_TRUE(c.slew_once(Duration::from_ms(1)).ok());
  c.advance_real(Duration::from_s(1));
  EXPECT_EQ(c.correction(), Duration::from_us(500));
  EXPECT_EQ(c.pending_slew(), Duration::from_us(500));
  c.advance_real(Duration::from_s(2));
  EXPECT_EQ(c.correction(), Duration::from_ms(1));
  EXPECT_EQ(c.pending_slew(), Duration{});
  // A new slew replaces the rest of the previous one; frequency adds on top.
  ASSERT_TRUE(c.slew_once(Duration::from_us(-300)).ok());
  ASSERT_TRUE(c.set_frequency(10).ok());
  c.advance_real(Duration::from_s(1));
  EXPECT_EQ(c.correction(), Duration::from_us(1000 - 300 + 10));
}

TEST(SimulatedClock, ARealClockThatGoesBackKeepsTheCorrection) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  ManualClockDriver c(t0);
  ASSERT_TRUE(c.set_frequency(100).ok());
  c.advance_real(Duration::from_s(10));
  EXPECT_EQ(c.correction(), Duration::from_ms(1));
  c.set_real(t0);
  EXPECT_EQ(c.now(), t0 + Duration::from_ms(1));
  c.advance_real(Duration::from_s(10));
  EXPECT_EQ(c.correction(), Duration::from_ms(2));
}

TEST(SimulatedClock, FrequencyIsClampedLikeTheSystemClock) {
  ManualClockDriver c(utc(2024, 3, 1, 0, 0, 0));
  ASSERT_TRUE(c.set_frequency(1e6).ok());
  EXPECT_DOUBLE_EQ(c.frequency_ppm(), kMaxFrequencyPpm);
  ASSERT_TRUE(c.set_frequency(-1e6).ok());
  EXPECT_DOUBLE_EQ(c.frequency_ppm(), -kMaxFrequencyPpm);
}

TEST(SimulatedClock, InsertedLeapSecondRepeatsTheLastSecond) {
  ManualClockDriver c(utc(2016, 12, 31, 23, 59, 50));
  ASSERT_TRUE(c.set_sync_status(0.01, 0.001, true, Leap::kInsert).ok());
  EXPECT_EQ(c.sync_status().leap_armed, Leap::kInsert);
  c.set_real(utc(2016, 12, 31, 23, 59, 59.5));
  EXPECT_EQ(c.now(), utc(2016, 12, 31, 23, 59, 59.5));
  EXPECT_FALSE(c.poll_leap_applied());
  c.set_real(utc(2017, 1, 1, 0, 0, 0.25));
  EXPECT_EQ(c.now(), utc(2016, 12, 31, 23, 59, 59.25));
  EXPECT_TRUE(c.poll_leap_applied());
  EXPECT_FALSE(c.poll_leap_applied());
  // Armed again with the same kind (before the discipline hears of it): no second leap.
  ASSERT_TRUE(c.set_sync_status(0.01, 0.001, true, Leap::kInsert).ok());
  c.set_real(utc(2017, 1, 2, 0, 0, 1));
  EXPECT_EQ(c.now(), utc(2017, 1, 2, 0, 0, 0));
}

TEST(SimulatedClock, DeletedLeapSecondSkipsTheLastSecond) {
  ManualClockDriver c(utc(2024, 6, 30, 23, 0, 0));
  ASSERT_TRUE(c.set_sync_status(0.01, 0.001, true, Leap::kDelete).ok());
  c.set_real(utc(2024, 6, 30, 23, 59, 58.5));
  EXPECT_EQ(c.now(), utc(2024, 6, 30, 23, 59, 58.5));
  c.set_real(utc(2024, 6, 30, 23, 59, 59));
  EXPECT_EQ(c.now(), utc(2024, 7, 1, 0, 0, 0));
  EXPECT_TRUE(c.poll_leap_applied());
}

TEST(SimulatedClock, DisarmedLeapDoesNothing) {
  ManualClockDriver c(utc(2016, 12, 31, 23, 59, 0));
  ASSERT_TRUE(c.set_sync_status(0.01, 0.001, true, Leap::kInsert).ok());
  ASSERT_TRUE(c.set_sync_status(0.01, 0.001, true, Leap::kNone).ok());
  c.set_real(utc(2017, 1, 1, 0, 0, 5));
  EXPECT_EQ(c.now(), utc(2017, 1, 1, 0, 0, 5));
  EXPECT_FALSE(c.poll_leap_applied());
}

TEST(SimulatedClock, DefaultReaderFollowsRealtime) {
  SimulatedClockDriver c;
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const std::int64_t real_ns = static_cast<std::int64_t>(ts.tv_sec) * hwclock::kNsPerSec + ts.tv_nsec;
  ASSERT_TRUE(c.step(Duration::from_s(3600)).ok());
  const std::int64_t diff = c.now().ticks() - real_ns - 3600 * hwclock::kNsPerSec;
  EXPECT_GE(diff, 0);
  EXPECT_LT(diff, 5 * hwclock::kNsPerSec);  // generous: a loaded machine
}

// --- the discipline steering a simulated clock ----------------------------------------------

// One server that is exactly on true time; the local oscillator runs 40 ppm fast
// and starts 0.5 s ahead. The daemon's loop in miniature: measure, hand the
// sample to the discipline, execute its command on the driver.
TEST(SteeringLoop, DisciplineConvergesThroughTheSimulatedDriver) {
  const UtcTime t0 = utc(2024, 3, 1, 0, 0, 0);
  // Real (the clock the driver follows) = the oscillator; true time is kept apart.
  const double osc_error = 40e-6;
  ManualClockDriver clock(t0 + Duration::from_ms(500));
  double true_s = 0;

  dsc::DisciplineConfig cfg;
  dsc::Discipline disc(cfg);
  const dsc::SourceId id = disc.add_source({});
  dsc::SourceHeader hdr;
  hdr.stratum = 1;
  ASSERT_TRUE(clock.set_frequency(disc.initial_frequency_ppm()).ok());

  auto true_time = [&] { return t0 + Duration::from_seconds(true_s); };
  auto pass = [&](double s) {
    true_s += s;
    clock.advance_real(Duration::from_seconds(s * (1 + osc_error)));
  };
  int steps = 0;
  for (int i = 0; i < 2000 && true_s < 6 * 3600; ++i) {
    disc.on_poll_sent(id, clock.now());
    const UtcTime t1 = clock.now();
    pass(0.0005);
    const UtcTime t2 = true_time();
    const UtcTime t3 = true_time();
    pass(0.0005);
    const UtcTime t4 = clock.now();
    const dsc::Sample s = dsc::measure(t1, t2, t3, t4, Duration::from_ns(2));
    const CommandResult r = execute(clock, disc.on_sample(id, hdr, s, clock.now()));
    ASSERT_TRUE(r.status.ok());
    ASSERT_FALSE(r.stop);
    if (r.stepped) ++steps;
    ASSERT_TRUE(apply_sync_status(clock, sync_status_of(disc.state(), clock.now())).ok());
    // Timers until the next poll.
    const double poll_s = std::ldexp(1.0, disc.poll_log2());
    double waited = 0;
    while (waited < poll_s) {
      const double to_timer = (disc.next_timer() - clock.now()).seconds();
      const double dt = std::clamp(to_timer, 0.001, poll_s - waited);
      pass(dt);
      waited += dt;
      if (clock.now() >= disc.next_timer()) {
        ASSERT_TRUE(execute(clock, disc.on_timer(clock.now())).status.ok());
      }
    }
  }
  EXPECT_EQ(steps, 1);
  const double offset_s = (true_time() - clock.now()).seconds();
  EXPECT_LT(std::fabs(offset_s), 100e-6) << offset_s;
  // The correction cancels the oscillator's 40 ppm.
  EXPECT_NEAR(disc.state().frequency_ppm, -40, 1.0);
  EXPECT_TRUE(clock.sync_status().synchronized);
}

}  // namespace
}  // namespace linetime::control
