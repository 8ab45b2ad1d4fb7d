// The real-time clock (/dev/rtcN): reading it, finding its second boundary,
// and setting it at the right moment within the second.
//
// An RTC counts whole seconds in calendar form and keeps time while the machine
// is off. linetime steers it itself instead of leaving it to the kernel's
// 11-minute mode: the control measures it against the disciplined system clock
// (rtc_drift.h keeps its offset and drift) and, while the system clock is
// synchronized, sets it periodically and at shutdown.
//
// Precision comes from timing, not from the register's resolution:
//  - reading: the RTC's seconds roll over at one instant; waiting for that
//    instant (update interrupt, RTC_UIE_ON + read(2), or polling RTC_RD_TIME
//    every millisecond where the RTC has no interrupt) and reading the system
//    clock right after gives the RTC's offset to about a millisecond;
//  - setting: a written value does not start a fresh second at once; the
//    MC146818-compatible CMOS clock of PCs rolls over to the next second
//    500 ms after the write (its datasheet; `set_delay`). Writing second V at
//    system time V + 1 s - set_delay makes the RTC roll over to V + 1 exactly
//    when the system clock does.
// The RTC holds UTC or local time (`rtcdevice ... local`, as on machines
// dual-booting Windows); the conversion is done here so the rest of linetime
// sees UTC only.
//
// RtcDevice is the interface (as ClockDriver is for the system clock), with
// the Linux driver and a fake whose drift and rollover behaviour tests set.
// Offsets follow hwclock/time.h: offset = system time - RTC time, positive
// when the RTC is behind.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hwclock/expected.h"
#include "hwclock/time.h"

namespace linetime::hwclock {

// --- calendar arithmetic ------------------------------------------------------

// A broken-down time as an RTC stores it (proleptic Gregorian, no time zone).
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0, minute = 0, second = 0;
  bool operator==(const CivilTime&) const = default;
};
std::int64_t seconds_from_civil(const CivilTime& c);
CivilTime civil_from_seconds(std::int64_t s);
// Fields in range (second 60 is refused: an RTC has no leap seconds).
bool civil_valid(const CivilTime& c);

// --- the device interface -------------------------------------------------------

// Outcome of an RTC operation: 0 or the errno of the failed call.
struct [[nodiscard]] RtcStatus {
  int error = 0;
  std::string operation;  // what failed, e.g. "ioctl(RTC_RD_TIME) on /dev/rtc0"
  bool ok() const { return error == 0; }
  // For the operator: what failed, why, and what to do about it.
  std::string message() const;
};

class RtcDevice {
 public:
  virtual ~RtcDevice() = default;
  // "/dev/rtc0" or "fake": for logs.
  virtual const std::string& name() const = 0;
  // The RTC's reading: seconds since 1970-01-01 00:00:00 of its own timescale
  // (UTC or local time, whatever it holds).
  virtual RtcStatus read(std::int64_t& rtc_s) = 0;
  // Writes a reading. Only the control calls it, only while synchronized.
  virtual RtcStatus set(std::int64_t rtc_s) = 0;
  // Returns just after the RTC's next rollover with the new reading; ETIMEDOUT
  // after `timeout`.
  virtual RtcStatus wait_for_tick(Duration timeout, std::int64_t& rtc_s) = 0;
};

// --- the Linux driver -----------------------------------------------------------

struct RtcOps {
  std::function<int(const char* path, int flags)> open;
  std::function<int(int fd, unsigned long request, void* arg)> ioctl;
  // poll(2) for POLLIN with a timeout in ms: > 0 ready, 0 timeout, < 0 error.
  std::function<int(int fd, int timeout_ms)> poll_in;
  std::function<long(int fd, void* buf, unsigned long n)> read;
  std::function<int(int fd)> close;
  std::function<void(Duration)> sleep;
  std::function<MonoTime()> mono_now;
  static RtcOps system();
};

class LinuxRtc final : public RtcDevice {
 public:
  // Opens the device (read-write only when `writable`: measuring needs no more).
  static Expected<std::unique_ptr<LinuxRtc>, RtcStatus> open(const std::string& path, bool writable,
                                                            RtcOps ops = RtcOps::system());
  ~LinuxRtc() override;
  LinuxRtc(const LinuxRtc&) = delete;
  LinuxRtc& operator=(const LinuxRtc&) = delete;

  const std::string& name() const override { return path_; }
  RtcStatus read(std::int64_t& rtc_s) override;
  RtcStatus set(std::int64_t rtc_s) override;
  RtcStatus wait_for_tick(Duration timeout, std::int64_t& rtc_s) override;
  // False once the RTC refused update interrupts: rollovers are polled.
  bool uses_interrupts() const { return interrupts_; }

 private:
  LinuxRtc(std::string path, RtcOps ops, int fd) : path_(std::move(path)), ops_(std::move(ops)), fd_(fd) {}
  RtcStatus fail(const char* what);
  RtcStatus poll_for_tick(Duration timeout, std::int64_t& rtc_s);

  std::string path_;
  RtcOps ops_;
  int fd_;
  bool interrupts_ = true;
};

// The RTC devices present (/dev/rtc0, ...; not the /dev/rtc symlink).
std::vector<std::string> rtc_devices();

// --- a fake for tests -----------------------------------------------------------

// A simulated timeline that the fake RTC and a fake system clock share: true
// time, and a system clock off from it by `system_error` (zero while
// synchronized; anything at boot).
struct FakeTimeline {
  UtcTime truth{};
  Duration system_error{};
  Duration tick_latency = Duration::from_us(50);  // from rollover to wait_for_tick's return
  UtcTime system() const { return truth + system_error; }
  void advance(Duration d) { truth += d; }
};

// An RTC running `drift_ppm` fast against true time (negative: slow), rolling
// over `set_delay` after a write.
class FakeRtc final : public RtcDevice {
 public:
  FakeRtc(std::shared_ptr<FakeTimeline> timeline, std::int64_t rtc_s, double drift_ppm,
          Duration set_delay = Duration::from_ms(500));

  const std::string& name() const override { return name_; }
  RtcStatus read(std::int64_t& rtc_s) override;
  RtcStatus set(std::int64_t rtc_s) override;
  RtcStatus wait_for_tick(Duration timeout, std::int64_t& rtc_s) override;

  // The RTC's exact time now, in nanoseconds of its timescale.
  std::int64_t exact_ns() const;
  int writes() const { return writes_; }
  std::int64_t last_written() const { return last_written_; }
  // Makes the next operation fail with `error` (0 clears it).
  void fail_next(int error) { fail_ = error; }

 private:
  std::shared_ptr<FakeTimeline> tl_;
  std::string name_ = "fake";
  UtcTime base_truth_;
  std::int64_t base_rtc_ns_;
  double drift_ppm_;
  Duration set_delay_;
  int writes_ = 0;
  std::int64_t last_written_ = 0;
  int fail_ = 0;
};

// --- timescale, measuring and setting ---------------------------------------------

enum class RtcTimescale { kUtc, kLocal };
const char* rtc_timescale_name(RtcTimescale t);

struct RtcConfig {
  RtcTimescale timescale = RtcTimescale::kUtc;
  // From a write to the RTC's first rollover (500 ms: MC146818 datasheet).
  Duration set_delay = Duration::from_ms(500);
  // Local time minus UTC (s) at a UTC instant, for a local-time RTC; empty:
  // the process's time zone (localtime_r's tm_gmtoff).
  std::function<std::int64_t(std::int64_t utc_s)> utc_offset_s;
  // How long to wait for a rollover before giving up.
  Duration tick_timeout = Duration::from_ms(1500);
};

// RTC reading <-> UTC seconds under the configured timescale.
std::int64_t rtc_to_utc_s(std::int64_t rtc_s, const RtcConfig& cfg);
std::int64_t utc_to_rtc_s(std::int64_t utc_s, const RtcConfig& cfg);

// What the RTC code needs of the system clock: its reading (the disciplined
// clock, ClockDriver::now in the control) and a sleep until a reading.
struct RtcSystemClock {
  std::function<UtcTime()> now;
  std::function<void(UtcTime)> sleep_until;
  // The fake timeline's clock, for tests.
  static RtcSystemClock of(std::shared_ptr<FakeTimeline> tl);
};

// One comparison of the RTC with the system clock at a rollover.
struct RtcMeasurement {
  UtcTime system{};   // the system clock just after the rollover
  UtcTime rtc{};      // the RTC's new reading, as UTC
  Duration offset() const { return system - rtc; }  // system - RTC (hwclock/time.h)
};
Expected<RtcMeasurement, RtcStatus> measure_rtc(RtcDevice& rtc, const RtcSystemClock& sys, const RtcConfig& cfg);

// When to write which second so the RTC rolls over with the system clock:
// the first moment at or after `now` + `min_lead`.
struct RtcWritePlan {
  UtcTime write_at{};
  std::int64_t utc_s = 0;  // the value to write (before the timescale conversion)
};
RtcWritePlan plan_rtc_write(UtcTime now, Duration set_delay, Duration min_lead = Duration::from_ms(2));

// Sets the RTC from the system clock at the planned moment. The caller only
// calls it while the system clock is synchronized.
RtcStatus set_rtc_from_system(RtcDevice& rtc, const RtcSystemClock& sys, const RtcConfig& cfg);

}  // namespace linetime::hwclock
