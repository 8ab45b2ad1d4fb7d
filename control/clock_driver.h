// Clock drivers: the one place where the control daemon changes a clock.
//
// This module executes the discipline's ClockCommands on a clock. The
// discipline (discipline/) decides a frequency correction, a step or a one-shot
// slew and a leap second; a ClockDriver carries it out and reports the clock's
// reading. Three drivers sit behind one interface:
//
//  - SystemClockDriver steers the Linux system clock (CLOCK_REALTIME) with
//    clock_adjtime(2): ADJ_FREQUENCY (plus ADJ_TICK beyond the kernel's 500 ppm),
//    ADJ_SETOFFSET for steps, ADJ_OFFSET_SINGLESHOT for one-shot slews, and
//    ADJ_MAXERROR / ADJ_ESTERROR / ADJ_STATUS for what the kernel tells other
//    programs (adjtimex, ntp_gettime, the RTC's 11-minute mode). The kernel's
//    own PLL and FLL stay off: the discipline is the loop.
//  - SimulatedClockDriver is the no-clock-control mode (`-x`, as chronyd has):
//    a private clock that follows CLOCK_REALTIME plus everything commanded, so
//    the whole discipline runs without touching the host. Tests, demos and
//    benchmarks use it.
//  - ManualClockDriver is the simulated clock over a settable base time, for
//    unit tests.
//
// The RTC (/dev/rtc) is a separate driver that reads the disciplined time
// from a ClockDriver; nothing here writes it.
//
// Units and signs: frequencies are corrections in ppm, positive makes the clock
// run faster (discipline/types.h); a step of +d advances the clock by d, so the
// discipline's offset (hwclock/time.h convention) is removed by stepping it.
#pragma once

#include <sys/timex.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "discipline/discipline.h"
#include "hwclock/time.h"

namespace linetime::control {

using discipline::Leap;
using hwclock::Duration;
using hwclock::UtcTime;

// Beyond this the clock cannot be corrected: the kernel's tick may move by 10 %
// of its nominal value (900000/USER_HZ .. 1100000/USER_HZ µs), and a clock off
// by more than that is broken, not drifting. Both drivers clamp to it.
inline constexpr double kMaxFrequencyPpm = 100'000;
// The kernel's limit on ADJ_FREQUENCY (MAXFREQ_SCALED, 500 ppm) and its fixed
// rate for ADJ_OFFSET_SINGLESHOT slews (adjtime(3) semantics).
inline constexpr double kKernelMaxFreqPpm = 500;
inline constexpr double kSingleshotRatePpm = 500;
// The kernel keeps maxerror and esterror in µs and caps maxerror at
// NTP_PHASE_LIMIT (16 s); larger values mean "unknown".
inline constexpr double kKernelMaxErrorS = 16.0;

// Outcome of a driver operation: 0 or the errno of the failed system call.
struct [[nodiscard]] ClockStatus {
  int error = 0;
  const char* operation = "";  // what failed, e.g. "clock_adjtime(ADJ_FREQUENCY)"
  bool ok() const { return error == 0; }
  // For the operator: what failed, why, and what to do about it.
  std::string message() const;
};

class ClockDriver {
 public:
  virtual ~ClockDriver() = default;

  // "system" or "simulated": for logs and the status display.
  virtual const char* name() const = 0;
  // The disciplined clock's reading.
  virtual UtcTime now() = 0;
  // Sets the frequency correction (ppm, positive: faster) from now on. Values
  // beyond kMaxFrequencyPpm are clamped; frequency_ppm() gives what applies.
  virtual ClockStatus set_frequency(double ppm) = 0;
  virtual double frequency_ppm() const = 0;
  // Moves the clock by `by` at once (positive: forward).
  virtual ClockStatus step(Duration by) = 0;
  // Moves the clock by `by` gradually at kSingleshotRatePpm on top of the
  // frequency correction, as adjtime(3) does (one-shot mode's small offsets).
  virtual ClockStatus slew_once(Duration by) = 0;
  // What the clock is worth: maximum and estimated error (s), whether it is
  // synchronized (clears the kernel's STA_UNSYNC), and the leap second armed for
  // the coming midnight UTC (kInsert, kDelete; kNone or kUnsync disarm).
  virtual ClockStatus set_sync_status(double maxerror_s, double esterror_s, bool synchronized,
                                      Leap leap_armed) = 0;
  // True once after the clock inserted or deleted the armed leap second; the
  // daemon then calls Discipline::on_leap_applied.
  virtual bool poll_leap_applied() = 0;
};

// What the daemon tells the driver after each discipline update: maximum error
// = root delay / 2 + root dispersion at `now`; estimated error = the offset's
// standard deviation (or the system jitter when larger); synchronized while the
// sources steer the clock or it holds over on their last frequency; the leap
// armed only on its last day (LeapDecision::arm).
struct SyncStatus {
  double maxerror_s = kKernelMaxErrorS;
  double esterror_s = kKernelMaxErrorS;
  bool synchronized = false;
  Leap leap_armed = Leap::kNone;
  bool operator==(const SyncStatus&) const = default;
};
SyncStatus sync_status_of(const discipline::SystemState& state, UtcTime now);
ClockStatus apply_sync_status(ClockDriver& clock, const SyncStatus& s);

// Executes one command of the discipline. kPanic changes nothing; kExit applies
// its step and slew. The caller stops on `stop` (panic or one-shot done).
struct CommandResult {
  ClockStatus status;
  bool stepped = false;
  bool stop = false;
};
CommandResult execute(ClockDriver& clock, const discipline::ClockCommand& cmd);

// --- the Linux system clock ------------------------------------------------------

// System calls the system driver makes; tests give fakes that record them.
struct SystemClockOps {
  std::function<int(clockid_t, struct timex*)> adjtime = [](clockid_t c, struct timex* t) {
    return ::clock_adjtime(c, t);
  };
  std::function<int(clockid_t, struct timespec*)> gettime = [](clockid_t c, struct timespec* t) {
    return ::clock_gettime(c, t);
  };
  // µs per kernel tick at nominal rate: 1e6 / USER_HZ (10000 at USER_HZ 100).
  long nominal_tick_us = 0;  // 0: sysconf(_SC_CLK_TCK)
};

// Frequency split chosen for the Linux kernel: the tick stays nominal while the
// correction fits ADJ_FREQUENCY's ±500 ppm (the normal case; no tick switching
// while the oscillator wanders near a tick boundary); beyond that the tick moves
// by the fewest µs that bring the remainder within ±500 ppm. One µs of tick is
// 1e6 / nominal_tick_us ppm (100 ppm at USER_HZ 100).
struct KernelFrequency {
  long tick_us = 0;
  double freq_ppm = 0;  // ADJ_FREQUENCY part
  double total_ppm() const;
  long nominal_tick_us = 0;
};
KernelFrequency split_frequency(double ppm, long nominal_tick_us);

class SystemClockDriver final : public ClockDriver {
 public:
  explicit SystemClockDriver(SystemClockOps ops = {});

  // Reads the kernel's state (modes = 0) to learn the frequency in effect, then
  // turns the kernel PLL/FLL off, sets nanosecond mode and marks the clock
  // unsynchronized. Fails with EPERM without CAP_SYS_TIME.
  ClockStatus start();

  const char* name() const override { return "system"; }
  UtcTime now() override;
  ClockStatus set_frequency(double ppm) override;
  double frequency_ppm() const override { return freq_.total_ppm(); }
  ClockStatus step(Duration by) override;
  ClockStatus slew_once(Duration by) override;
  ClockStatus set_sync_status(double maxerror_s, double esterror_s, bool synchronized, Leap leap_armed) override;
  bool poll_leap_applied() override;

 private:
  int status_bits() const;

  SystemClockOps ops_;
  KernelFrequency freq_;
  bool synchronized_ = false;
  Leap leap_armed_ = Leap::kNone;
  bool leap_reported_ = false;
};

// --- the simulated clock (no clock control) ----------------------------------------

// now() = real + accumulated correction, where real comes from `read_real`
// (CLOCK_REALTIME by default) and the correction integrates every frequency
// change, step, one-shot slew and leap second. It never calls clock_adjtime.
class SimulatedClockDriver : public ClockDriver {
 public:
  using RealClock = std::function<UtcTime()>;
  explicit SimulatedClockDriver(RealClock read_real = {});

  const char* name() const override { return "simulated"; }
  UtcTime now() override;
  ClockStatus set_frequency(double ppm) override;
  double frequency_ppm() const override { return freq_ppm_; }
  ClockStatus step(Duration by) override;
  ClockStatus slew_once(Duration by) override;
  ClockStatus set_sync_status(double maxerror_s, double esterror_s, bool synchronized, Leap leap_armed) override;
  bool poll_leap_applied() override;

  // The simulated clock minus the clock it follows (positive: ahead of it).
  Duration correction();
  // The remainder of a one-shot slew not yet applied.
  Duration pending_slew();
  // What the kernel would hold (the last set_sync_status).
  const SyncStatus& sync_status() const { return status_; }
  std::uint64_t steps() const { return steps_; }

 private:
  // Brings the correction up to the real clock's present reading.
  UtcTime advance();

  RealClock read_real_;
  UtcTime last_real_{};
  bool have_real_ = false;
  double correction_ns_ = 0;
  double freq_ppm_ = 0;
  double pending_slew_ns_ = 0;
  SyncStatus status_;
  std::optional<UtcTime> leap_at_;  // midnight UTC (simulated time) the armed leap happens at
  bool leap_applied_ = false;
  bool leap_reported_ = false;
  std::uint64_t steps_ = 0;
};

// The simulated clock over a base time the test sets and advances.
class ManualClockDriver final : public SimulatedClockDriver {
 public:
  explicit ManualClockDriver(UtcTime start);
  void set_real(UtcTime t) { *real_ = t; }
  void advance_real(Duration d) { *real_ += d; }
  UtcTime real() const { return *real_; }

 private:
  explicit ManualClockDriver(std::shared_ptr<UtcTime> real);
  std::shared_ptr<UtcTime> real_;
};

}  // namespace linetime::control
