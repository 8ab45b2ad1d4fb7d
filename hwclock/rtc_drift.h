// RTC drift tracking, the rtcfile, setting the system clock at boot, and the
// schedule by which the control steers the RTC.
//
// An RTC's crystal is off by tens of ppm (seconds a day) and keeps that error
// while the machine is off. Copying the system time into it (the kernel's
// 11-minute mode, SYNC_HWCLOCK=yes) only fixes its offset; this module also
// learns its rate: while the system clock is synchronized the RTC is compared
// with it at its rollovers (rtc.h), and RtcDriftTracker fits offset and drift
// through those measurements. They are kept in the rtcfile, written atomically.
// At the next boot, before any network source answers, the system clock is set
// from the RTC corrected for the drift accumulated while powered off.
//
// RtcSteering bundles it for the control: boot(), update() while running,
// shutdown() at exit (`rtcfile PATH`, `rtcsync`, `rtcdevice DEV [utc|local]`).
//
// Offsets follow hwclock/time.h: offset = system time - RTC time (positive: the
// RTC is behind). Drift is the offset's rate: positive ppm, the RTC loses time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hwclock/expected.h"
#include "hwclock/rtc.h"
#include "hwclock/time.h"

namespace linetime::hwclock {

// A crystal worse than this is broken, or the numbers are not an rtcfile.
inline constexpr double kMaxRtcDriftPpm = 1000;

struct RtcDriftState {
  UtcTime ref_time{};      // system time of the reference measurement
  Duration offset{};       // system - RTC at ref_time
  double drift_ppm = 0;    // offset's rate, positive: the RTC loses time
  RtcTimescale timescale = RtcTimescale::kUtc;
  std::uint32_t samples = 0;  // measurements behind drift_ppm (0: not measured)

  // The RTC's offset at system time `t` (extrapolated with the drift).
  Duration offset_at(UtcTime t) const {
    return offset + Duration::from_seconds((t - ref_time).seconds() * drift_ppm * 1e-6);
  }
  bool operator==(const RtcDriftState&) const = default;
};

// The rtcfile is one line:
//   linetime-rtc 1 <utc|local> <ref_time_s.nanoseconds> <offset_s> <drift_ppm> <samples>
std::string format_rtc_file(const RtcDriftState& s);
Expected<RtcDriftState, std::string> parse_rtc_file(std::string_view text);

// Reading at startup: a missing file is normal on the first start (`missing`
// with a message for the log); anything else wrong gives a message naming the
// file, the problem and what happens (the RTC is used uncorrected).
struct RtcFileRead {
  std::optional<RtcDriftState> state;
  bool missing = false;
  std::string message;
};
RtcFileRead read_rtc_file(const std::string& path);
// Atomic (temporary file, fsync, rename, directory fsync). Empty on success,
// else a message naming the file, the failed step and the fix.
std::string write_rtc_file(const std::string& path, const RtcDriftState& s);

// The system clock's step at boot: from a measurement at an RTC rollover (the
// system clock's reading there is whatever the kernel started with), the time
// the RTC's reading corrected by the file's offset and drift stands for, minus
// the system clock's reading. Positive: step forward. An error when the RTC
// reads before the file's reference (it was reset, or its battery died).
Expected<Duration, std::string> boot_step(const RtcMeasurement& m, const RtcDriftState& s);

// Fits offset and drift through measurements of the RTC against the
// synchronized system clock.
class RtcDriftTracker {
 public:
  static constexpr std::size_t kMaxSamples = 64;  // at 11-minute measurements: 11.7 hours
  // A drift is fitted once the samples span this long (1 ms of measurement
  // noise over 4 hours is 0.07 ppm); until then the prior drift is used.
  static constexpr Duration kMinSpan = Duration::from_s(4 * 3600);

  explicit RtcDriftTracker(RtcTimescale timescale, std::optional<RtcDriftState> prior = std::nullopt);

  // One measurement, taken while the system clock was synchronized.
  void add(const RtcMeasurement& m);
  // The RTC was just set; `after` is a measurement taken right after the
  // write. The history is moved by the jump so the drift survives the write,
  // and `after` joins it.
  void on_rtc_set(const RtcMeasurement& after);
  // The system clock was stepped by `by`: offsets measured before it move with it.
  void on_clock_step(Duration by);

  std::size_t samples() const { return count_; }
  // Offset and drift at the newest measurement (or the prior, extrapolated).
  std::optional<RtcDriftState> state() const;

 private:
  struct Sample {
    std::int64_t system_ns;
    std::int64_t offset_ns;
  };
  const Sample& at(std::size_t i) const { return ring_[(head_ + kMaxSamples - count_ + i) % kMaxSamples]; }

  RtcTimescale timescale_;
  std::optional<RtcDriftState> prior_;
  Sample ring_[kMaxSamples]{};
  std::size_t head_ = 0, count_ = 0;
};

// When the control measures and writes the RTC, and with what.
struct RtcSteeringConfig {
  std::string rtcfile;   // `rtcfile PATH`: track offset and drift (empty: off)
  bool rtcsync = false;  // `rtcsync`: set the RTC while synchronized
  RtcConfig rtc;         // `rtcdevice DEV [utc|local]`
  Duration interval = Duration::from_s(11 * 60);  // as the kernel's 11-minute mode
  // With an rtcfile, the RTC is written only when off by more than this: every
  // write adds its own error to the history.
  Duration write_tolerance = Duration::from_ms(5);
  // When the system booted (system time). Given, boot() sets the clock only
  // when the rtcfile is older: a daemon restarted on a running machine keeps
  // the clock it has been disciplining, which is better than the RTC.
  std::optional<UtcTime> booted_at;
};

class RtcSteering {
 public:
  RtcSteering(RtcDevice& rtc, RtcSystemClock sys, RtcSteeringConfig cfg);

  // At start, before any network source answers: the step that sets the
  // system clock from the RTC corrected for its drift (ClockDriver::step), or
  // nothing, with a message for the log either way. Needs the rtcfile; without
  // one the RTC is not trusted beyond what the kernel already did at boot.
  struct Boot {
    std::optional<Duration> step;
    std::string message;
  };
  Boot boot();
  // Call often (each second, or at each clock update): measures and writes when
  // due, only while `synchronized`. Returns a message to log, empty when
  // there is nothing to say. Blocks up to about 3.5 s (waiting for the RTC's
  // rollover, for the moment to write, and for the rollover after it); a poll
  // loop uses poll() below instead.
  std::string update(MonoTime now, bool synchronized);
  // At shutdown: if synchronized, a last measurement, the rtcfile and (with
  // rtcsync) a last write. Blocks as update() does; a poll() measurement under
  // way is dropped.
  std::string shutdown(bool synchronized);
  // The control stepped the system clock by `by`. A measurement under way
  // starts again; a planned write is planned again.
  void on_clock_step(Duration by);

  // --- the same steering for a poll loop: nothing here waits for the RTC ------
  //
  // update() waits for the RTC's rollover; a single-threaded loop cannot. poll()
  // measures instead with reads that return at once (RtcDevice::read), each
  // bracketed by two system clock readings: a reading R (seconds) taken
  // between system times t0 and t1 places the offset in (t0 - R - 1 s, t1 - R].
  // Every read is timed so that its interval halves the one known so far, so
  // about 13 reads (at most one a second) narrow 1 s down to
  // kSearchResolution; the RTC's drift carries earlier reads to the later
  // ones. A write waits for its moment (plan_rtc_write) the same way.
  //
  // The loop wakes at next_deadline() (system time, disciplined clock) and
  // calls poll() at least every second; poll() sleeps at most kMaxPollSleep to
  // hit a moment exactly. Same schedule, same rules (rtcsync, write_tolerance,
  // the rtcfile) and the same messages as update().
  static constexpr Duration kSearchResolution = Duration::from_us(250);
  // Reads are given up on after this many; the measurement then stands with
  // the interval reached if it is no wider than kMaxSearchWidth (an RTC on a
  // slow bus whose reads take milliseconds).
  static constexpr int kMaxSearchReads = 24;
  static constexpr Duration kMaxSearchWidth = Duration::from_ms(10);
  // How early next_deadline() is before the moment itself (the loop's poll()
  // timeout has millisecond resolution and rounds up), and the longest poll()
  // sleeps to reach the moment.
  static constexpr Duration kPollLead = Duration::from_ms(3);
  static constexpr Duration kMaxPollSleep = Duration::from_ms(5);

  // Measures and writes when due, one read or write per call, only while
  // `synchronized` (losing it abandons the measurement under way). A message
  // to log, or empty.
  std::string poll(MonoTime now, bool synchronized);
  // When poll() next has something to do at a given moment; empty while it
  // only waits for the interval (MonoTime `now` in poll()).
  std::optional<UtcTime> next_deadline() const;
  // A measurement or a write is under way.
  bool busy() const { return phase_ != Phase::kIdle; }

  const RtcDriftTracker& tracker() const { return tracker_; }
  // The RTC's offset at the last measurement (after the write, if it wrote).
  std::optional<Duration> last_offset() const { return last_offset_; }
  int writes() const { return writes_; }

 private:
  std::string measure_and_steer();
  std::string finish_steering();

  // poll()'s state: measuring by reads, or waiting to write.
  enum class Phase { kIdle, kMeasuring, kWriting };
  struct Search {
    bool after_write = false;  // the measurement that follows a write
    double drift_ppm = 0;      // the tracker's, to carry reads to `ref`
    UtcTime ref{};             // the system time the interval is for
    std::int64_t lo_ns = 0;    // offset at `ref` in (lo, hi]
    std::int64_t hi_ns = 0;
    int reads = 0;
    int restarts = 0;
    UtcTime next_read{};
    UtcTime last_read{};
  };
  void start_search(bool after_write, UtcTime first_read);
  std::string search_step();
  std::string write_step();
  std::string abandon(std::string message);
  std::int64_t drift_ns(const Search& s, UtcTime t) const;

  RtcDevice& rtc_;
  RtcSystemClock sys_;
  RtcSteeringConfig cfg_;
  RtcDriftTracker tracker_;
  std::optional<MonoTime> last_run_;
  std::optional<Duration> last_offset_;
  int writes_ = 0;
  Phase phase_ = Phase::kIdle;
  Search search_;
  RtcWritePlan write_plan_;
  int write_attempts_ = 0;
};

}  // namespace linetime::hwclock
