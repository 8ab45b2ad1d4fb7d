#include "control/clock_driver.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace linetime::control {

namespace {

constexpr double kScaledPpm = 65536.0;  // ADJ_FREQUENCY unit: ppm with a 16-bit fraction
constexpr std::int64_t kNsPerDay = 86'400 * hwclock::kNsPerSec;

long default_nominal_tick_us() {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? 1'000'000 / hz : 10'000;
}

double clamp_ppm(double ppm) {
  if (std::isnan(ppm)) return 0;
  return std::clamp(ppm, -kMaxFrequencyPpm, kMaxFrequencyPpm);
}

long to_kernel_us(double s) {
  const double us = std::clamp(s, 0.0, kKernelMaxErrorS) * 1e6;
  return static_cast<long>(std::lround(us));
}

UtcTime next_midnight(UtcTime t) {
  std::int64_t days = t.ticks() / kNsPerDay;
  if (t.ticks() < 0 && t.ticks() % kNsPerDay != 0) --days;
  return UtcTime((days + 1) * kNsPerDay);
}

}  // namespace

std::string ClockStatus::message() const {
  if (ok()) return "ok";
  std::string m = std::string(operation) + " failed: " + std::strerror(error);
  if (error == EPERM) {
    m += " — run linetime-control as root or with CAP_SYS_TIME (the systemd unit grants it), or with -x to "
         "run without clock control";
  } else if (error == EINVAL) {
    m += " — the kernel rejected the value; this is a bug in linetime, please report it with the log";
  }
  return m;
}

// --- commands and status -------------------------------------------------------------

SyncStatus sync_status_of(const discipline::SystemState& state, UtcTime now) {
  SyncStatus s;
  using discipline::SyncMode;
  s.synchronized = state.mode == SyncMode::kSynchronized || state.mode == SyncMode::kHoldover;
  if (s.synchronized) {
    s.maxerror_s =
        std::min(kKernelMaxErrorS, state.root_delay.seconds() / 2 + state.root_dispersion_at(now).seconds());
    s.esterror_s = std::min(kKernelMaxErrorS, std::max(state.offset_sd_s, state.jitter_s));
  }
  const auto& d = state.leap_decision;
  if (d.arm && (d.kind == Leap::kInsert || d.kind == Leap::kDelete)) s.leap_armed = d.kind;
  return s;
}

ClockStatus apply_sync_status(ClockDriver& clock, const SyncStatus& s) {
  return clock.set_sync_status(s.maxerror_s, s.esterror_s, s.synchronized, s.leap_armed);
}

CommandResult execute(ClockDriver& clock, const discipline::ClockCommand& cmd) {
  using discipline::ClockAction;
  CommandResult r;
  switch (cmd.action) {
    case ClockAction::kNone: break;
    case ClockAction::kFrequency: r.status = clock.set_frequency(cmd.frequency_ppm); break;
    case ClockAction::kStep:
      r.status = clock.step(cmd.step);
      r.stepped = r.status.ok();
      if (r.status.ok()) r.status = clock.set_frequency(cmd.frequency_ppm);
      break;
    case ClockAction::kPanic: r.stop = true; break;
    case ClockAction::kExit:
      r.stop = true;
      if (cmd.step != Duration{}) {
        r.status = clock.step(cmd.step);
        r.stepped = r.status.ok();
      }
      if (r.status.ok() && cmd.slew != Duration{}) r.status = clock.slew_once(cmd.slew);
      break;
  }
  return r;
}

// --- the Linux system clock ------------------------------------------------------------

double KernelFrequency::total_ppm() const {
  const double ppm_per_us = 1e6 / static_cast<double>(nominal_tick_us);
  return static_cast<double>(tick_us - nominal_tick_us) * ppm_per_us + freq_ppm;
}

KernelFrequency split_frequency(double ppm, long nominal_tick_us) {
  ppm = clamp_ppm(ppm);
  KernelFrequency k;
  k.nominal_tick_us = nominal_tick_us;
  k.tick_us = nominal_tick_us;
  const double ppm_per_us = 1e6 / static_cast<double>(nominal_tick_us);
  if (std::fabs(ppm) > kKernelMaxFreqPpm) {
    const double excess = std::fabs(ppm) - kKernelMaxFreqPpm;
    const long dticks = static_cast<long>(std::ceil(excess / ppm_per_us - 1e-9));
    k.tick_us += ppm > 0 ? dticks : -dticks;
  }
  k.freq_ppm = std::clamp(ppm - static_cast<double>(k.tick_us - nominal_tick_us) * ppm_per_us, -kKernelMaxFreqPpm,
                          kKernelMaxFreqPpm);
  return k;
}

SystemClockDriver::SystemClockDriver(SystemClockOps ops) : ops_(std::move(ops)) {
  if (ops_.nominal_tick_us <= 0) ops_.nominal_tick_us = default_nominal_tick_us();
  freq_.nominal_tick_us = ops_.nominal_tick_us;
  freq_.tick_us = ops_.nominal_tick_us;
}

ClockStatus SystemClockDriver::start() {
  struct timex t {};
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(CLOCK_REALTIME) read"};
  freq_.tick_us = t.tick;
  freq_.freq_ppm = static_cast<double>(t.freq) / kScaledPpm;

  // A previous daemon may have left the kernel PLL with an offset to remove: the
  // kernel keeps slewing it even with STA_PLL off, and accepts a new offset only
  // while STA_PLL is on. Zero it with the PLL on for this one call.
  t = {};
  t.modes = ADJ_STATUS | ADJ_OFFSET | ADJ_NANO;
  t.status = STA_PLL | STA_UNSYNC;
  t.offset = 0;
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(ADJ_OFFSET) reset"};
  // And cancel any adjtime(3) slew in progress.
  t = {};
  t.modes = ADJ_OFFSET_SINGLESHOT;
  t.offset = 0;
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(ADJ_OFFSET_SINGLESHOT) reset"};
  return set_sync_status(kKernelMaxErrorS, kKernelMaxErrorS, false, Leap::kNone);
}

UtcTime SystemClockDriver::now() {
  struct timespec ts {};
  ops_.gettime(CLOCK_REALTIME, &ts);
  return UtcTime(static_cast<std::int64_t>(ts.tv_sec) * hwclock::kNsPerSec + ts.tv_nsec);
}

ClockStatus SystemClockDriver::set_frequency(double ppm) {
  const KernelFrequency k = split_frequency(ppm, ops_.nominal_tick_us);
  struct timex t {};
  t.modes = ADJ_FREQUENCY | ADJ_NANO;
  t.freq = static_cast<long>(std::lround(k.freq_ppm * kScaledPpm));
  if (k.tick_us != freq_.tick_us) {
    t.modes |= ADJ_TICK;
    t.tick = k.tick_us;
  }
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) {
    return {errno, (t.modes & ADJ_TICK) ? "clock_adjtime(ADJ_FREQUENCY|ADJ_TICK)" : "clock_adjtime(ADJ_FREQUENCY)"};
  }
  freq_ = k;
  freq_.freq_ppm = static_cast<double>(t.freq) / kScaledPpm;
  return {};
}

ClockStatus SystemClockDriver::step(Duration by) {
  struct timex t {};
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  // The kernel wants a normalized timeval: seconds (any sign) and a
  // non-negative fraction, nanoseconds in tv_usec under ADJ_NANO.
  std::int64_t sec = by.ns() / hwclock::kNsPerSec;
  std::int64_t nsec = by.ns() % hwclock::kNsPerSec;
  if (nsec < 0) {
    nsec += hwclock::kNsPerSec;
    --sec;
  }
  t.time.tv_sec = static_cast<time_t>(sec);
  t.time.tv_usec = static_cast<suseconds_t>(nsec);
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(ADJ_SETOFFSET)"};
  return {};
}

ClockStatus SystemClockDriver::slew_once(Duration by) {
  struct timex t {};
  // adjtime(3) semantics: microseconds whatever the resolution mode, and no other
  // mode bits allowed with it.
  t.modes = ADJ_OFFSET_SINGLESHOT;
  const std::int64_t us = (by.ns() >= 0 ? by.ns() + 500 : by.ns() - 500) / 1000;
  t.offset = static_cast<long>(us);
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(ADJ_OFFSET_SINGLESHOT)"};
  return {};
}

int SystemClockDriver::status_bits() const {
  int s = 0;  // STA_PLL, STA_FLL and the PPS bits off: the discipline is the loop
  if (!synchronized_) s |= STA_UNSYNC;
  if (leap_armed_ == Leap::kInsert) s |= STA_INS;
  if (leap_armed_ == Leap::kDelete) s |= STA_DEL;
  return s;
}

ClockStatus SystemClockDriver::set_sync_status(double maxerror_s, double esterror_s, bool synchronized,
                                               Leap leap_armed) {
  synchronized_ = synchronized;
  const Leap armed = (leap_armed == Leap::kInsert || leap_armed == Leap::kDelete) ? leap_armed : Leap::kNone;
  if (armed != leap_armed_) leap_reported_ = false;
  leap_armed_ = armed;
  struct timex t {};
  t.modes = ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS | ADJ_NANO;
  t.maxerror = to_kernel_us(synchronized ? maxerror_s : kKernelMaxErrorS);
  t.esterror = to_kernel_us(synchronized ? esterror_s : kKernelMaxErrorS);
  t.status = status_bits();
  if (ops_.adjtime(CLOCK_REALTIME, &t) < 0) return {errno, "clock_adjtime(ADJ_STATUS)"};
  return {};
}

bool SystemClockDriver::poll_leap_applied() {
  if (leap_armed_ == Leap::kNone || leap_reported_) return false;
  struct timex t {};  // modes = 0: read only
  const int state = ops_.adjtime(CLOCK_REALTIME, &t);
  // TIME_WAIT: the leap second has been inserted or deleted and the kernel waits
  // for STA_INS/STA_DEL to be cleared.
  if (state != TIME_WAIT) return false;
  leap_reported_ = true;
  return true;
}

// --- the simulated clock ------------------------------------------------------------------

SimulatedClockDriver::SimulatedClockDriver(RealClock read_real) : read_real_(std::move(read_real)) {
  if (!read_real_) {
    read_real_ = [] {
      struct timespec ts {};
      ::clock_gettime(CLOCK_REALTIME, &ts);
      return UtcTime(static_cast<std::int64_t>(ts.tv_sec) * hwclock::kNsPerSec + ts.tv_nsec);
    };
  }
}

UtcTime SimulatedClockDriver::advance() {
  const UtcTime real = read_real_();
  if (!have_real_) {
    last_real_ = real;
    have_real_ = true;
  }
  const double dt_ns = static_cast<double>((real - last_real_).ns());
  if (dt_ns > 0) {
    correction_ns_ += freq_ppm_ * 1e-6 * dt_ns;
    if (pending_slew_ns_ != 0) {
      const double room = kSingleshotRatePpm * 1e-6 * dt_ns;
      const double part = std::clamp(pending_slew_ns_, -room, room);
      correction_ns_ += part;
      pending_slew_ns_ -= part;
    }
  }
  // A real clock that went back (stepped by someone else) restarts the interval
  // without integrating a negative one.
  last_real_ = real;
  UtcTime sim = real + Duration::from_seconds(correction_ns_ * 1e-9);
  if (leap_at_) {
    // The kernel's behaviour: an inserted second repeats 23:59:59 (the clock
    // goes back one second at midnight); a deleted one skips 23:59:59.
    const Leap kind = status_.leap_armed;
    const UtcTime trigger = kind == Leap::kInsert ? *leap_at_ : *leap_at_ - Duration::from_s(1);
    if (sim >= trigger) {
      const double jump_ns = kind == Leap::kInsert ? -1e9 : 1e9;
      correction_ns_ += jump_ns;
      sim += Duration(static_cast<std::int64_t>(jump_ns));
      leap_at_.reset();
      leap_applied_ = true;
    }
  }
  return sim;
}

UtcTime SimulatedClockDriver::now() { return advance(); }

ClockStatus SimulatedClockDriver::set_frequency(double ppm) {
  advance();
  freq_ppm_ = clamp_ppm(ppm);
  return {};
}

ClockStatus SimulatedClockDriver::step(Duration by) {
  advance();
  correction_ns_ += static_cast<double>(by.ns());
  ++steps_;
  // The armed leap happens at the first midnight the clock reaches after a step.
  if (leap_at_) leap_at_ = next_midnight(advance());
  return {};
}

ClockStatus SimulatedClockDriver::slew_once(Duration by) {
  advance();
  pending_slew_ns_ = static_cast<double>(by.ns());  // replaces any slew in progress, as adjtime(3)
  return {};
}

ClockStatus SimulatedClockDriver::set_sync_status(double maxerror_s, double esterror_s, bool synchronized,
                                                  Leap leap_armed) {
  const UtcTime sim = advance();
  const Leap armed = (leap_armed == Leap::kInsert || leap_armed == Leap::kDelete) ? leap_armed : Leap::kNone;
  // Arming (or changing the kind) targets the coming midnight; repeating the same
  // arming changes nothing, also after the leap happened (the kernel's TIME_WAIT).
  if (armed != status_.leap_armed) {
    leap_at_.reset();
    if (armed != Leap::kNone) leap_at_ = next_midnight(sim);
    leap_applied_ = false;
    leap_reported_ = false;
  }
  status_.maxerror_s = std::clamp(maxerror_s, 0.0, kKernelMaxErrorS);
  status_.esterror_s = std::clamp(esterror_s, 0.0, kKernelMaxErrorS);
  status_.synchronized = synchronized;
  status_.leap_armed = armed;
  return {};
}

bool SimulatedClockDriver::poll_leap_applied() {
  advance();
  if (!leap_applied_ || leap_reported_) return false;
  leap_reported_ = true;
  return true;
}

Duration SimulatedClockDriver::correction() {
  advance();
  return Duration::from_seconds(correction_ns_ * 1e-9);
}

Duration SimulatedClockDriver::pending_slew() {
  advance();
  return Duration::from_seconds(pending_slew_ns_ * 1e-9);
}

ManualClockDriver::ManualClockDriver(UtcTime start) : ManualClockDriver(std::make_shared<UtcTime>(start)) {}

ManualClockDriver::ManualClockDriver(std::shared_ptr<UtcTime> real)
    : SimulatedClockDriver([real] { return *real; }), real_(std::move(real)) {}

}  // namespace linetime::control
