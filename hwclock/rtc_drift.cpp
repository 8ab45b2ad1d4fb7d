#include "hwclock/rtc_drift.h"

#include "hwclock/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace linetime::hwclock {

namespace {

constexpr std::size_t kMaxRtcFileBytes = 4096;
constexpr const char* kMagic = "linetime-rtc";

// "<seconds>.<9 digits>", seconds possibly negative.
std::optional<std::int64_t> fixed_ns(const std::string& w) {
  const auto dot = w.find('.');
  if (dot == std::string::npos || w.size() - dot - 1 != 9) return std::nullopt;
  const std::string sec = w.substr(0, dot), frac = w.substr(dot + 1);
  if (sec.empty() || sec == "-") return std::nullopt;
  for (std::size_t i = sec[0] == '-' ? 1 : 0; i < sec.size(); ++i) {
    if (sec[i] < '0' || sec[i] > '9') return std::nullopt;
  }
  for (char c : frac) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (sec.size() > 12) return std::nullopt;
  const std::int64_t s = std::strtoll(sec.c_str(), nullptr, 10);
  const std::int64_t f = std::strtoll(frac.c_str(), nullptr, 10);
  return sec[0] == '-' ? s * kNsPerSec - f : s * kNsPerSec + f;
}


}  // namespace

// --- the rtcfile ------------------------------------------------------------------

std::string format_rtc_file(const RtcDriftState& s) {
  const std::int64_t ref = s.ref_time.ticks();
  const std::int64_t ref_s = ref >= 0 ? ref / kNsPerSec : -((-ref) / kNsPerSec);
  const std::int64_t ref_ns = ref >= 0 ? ref % kNsPerSec : (-ref) % kNsPerSec;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s 1 %s %s%" PRId64 ".%09" PRId64 " %.9f %.4f %u\n", kMagic,
                rtc_timescale_name(s.timescale), ref < 0 && ref_s == 0 ? "-" : "", ref_s, ref_ns, s.offset.seconds(),
                s.drift_ppm, s.samples);
  return buf;
}

Expected<RtcDriftState, std::string> parse_rtc_file(std::string_view text) {
  const std::vector<std::string> w = state_file_words(text);
  if (w.empty()) return unexpected(std::string("the file is empty"));
  if (w[0] != kMagic) return unexpected("it does not start with \"" + std::string(kMagic) + "\" (not linetime's rtcfile)");
  if (w.size() != 7) return unexpected("expected 7 fields, found " + std::to_string(w.size()));
  if (w[1] != "1") return unexpected("version " + w[1] + " is not known (this linetime reads version 1)");
  RtcDriftState s;
  if (w[2] == "utc") {
    s.timescale = RtcTimescale::kUtc;
  } else if (w[2] == "local") {
    s.timescale = RtcTimescale::kLocal;
  } else {
    return unexpected("timescale '" + w[2] + "' is neither utc nor local");
  }
  const auto ref = fixed_ns(w[3]);
  if (!ref) return unexpected("'" + w[3] + "' is not a reference time (seconds with 9 decimals)");
  s.ref_time = UtcTime(*ref);
  const auto offset = state_file_number(w[4]);
  if (!offset || std::fabs(*offset) > 1e9) return unexpected("'" + w[4] + "' is not an offset in seconds");
  s.offset = Duration::from_seconds(*offset);
  const auto drift = state_file_number(w[5]);
  if (!drift || std::fabs(*drift) > kMaxRtcDriftPpm) {
    return unexpected("'" + w[5] + "' is not a drift within ±" + std::to_string(static_cast<int>(kMaxRtcDriftPpm)) +
                      " ppm");
  }
  s.drift_ppm = *drift;
  const auto samples = state_file_number(w[6]);
  if (!samples || *samples < 0 || *samples > 1e9 || std::floor(*samples) != *samples) {
    return unexpected("'" + w[6] + "' is not a sample count");
  }
  s.samples = static_cast<std::uint32_t>(*samples);
  return s;
}

RtcFileRead read_rtc_file(const std::string& path) {
  RtcFileRead r;
  const StateFileRead f = read_state_file(path, kMaxRtcFileBytes);
  if (f.missing) {
    r.missing = true;
    r.message = "rtcfile " + path +
                " does not exist yet; the RTC is used uncorrected (normal on the first start: it is written once "
                "the clock is synchronized)";
    return r;
  }
  if (f.error != 0) {
    r.message = "cannot read rtcfile " + path + ": " + std::strerror(f.error) +
                "; the RTC is used uncorrected — make it readable by the daemon's user or fix the rtcfile line";
    return r;
  }
  if (f.too_big) {
    r.message = "rtcfile " + path + " is larger than " + std::to_string(kMaxRtcFileBytes) +
                " bytes, not an rtcfile; the RTC is used uncorrected — check the rtcfile line, or delete the file";
    return r;
  }
  const std::string& text = f.text;
  auto parsed = parse_rtc_file(text);
  if (!parsed) {
    r.message = "rtcfile " + path + ": " + parsed.error() +
                "; the RTC is used uncorrected — the file is rewritten once the clock is synchronized, or delete it now";
    return r;
  }
  r.state = *parsed;
  return r;
}

std::string write_rtc_file(const std::string& path, const RtcDriftState& s) {
  return write_state_file(path, path + ".tmp", format_rtc_file(s), "rtcfile");
}

Expected<Duration, std::string> boot_step(const RtcMeasurement& m, const RtcDriftState& s) {
  if (m.rtc < s.ref_time - Duration::from_s(60)) {
    return unexpected(std::string("the RTC reads earlier than the rtcfile's last measurement: it was reset or its "
                                  "battery died; not setting the clock from it — replace the battery; linetime sets "
                                  "the RTC again once synchronized"));
  }
  // The offset grows with system time; the RTC's reading is close enough to
  // it for the extrapolation (a 1000 ppm error over a 1 s offset is 1 µs).
  const UtcTime corrected = m.rtc + s.offset_at(m.rtc + s.offset);
  return corrected - m.system;
}

// --- RtcDriftTracker ----------------------------------------------------------------

RtcDriftTracker::RtcDriftTracker(RtcTimescale timescale, std::optional<RtcDriftState> prior)
    : timescale_(timescale), prior_(prior) {}

void RtcDriftTracker::add(const RtcMeasurement& m) {
  ring_[head_] = Sample{m.system.ticks(), m.offset().ns()};
  head_ = (head_ + 1) % kMaxSamples;
  if (count_ < kMaxSamples) ++count_;
}

void RtcDriftTracker::on_rtc_set(const RtcMeasurement& after) {
  const std::optional<RtcDriftState> s = state();
  if (s) {
    // The offset the RTC would have had without the write: the newest
    // measurement carried forward with the drift (the fitted line's offset
    // lags while the drift is still unknown). Both measurements see the
    // rollover equally late, so that delay cancels from the jump.
    std::int64_t before = s->offset_at(after.system).ns();
    if (count_ > 0) {
      const Sample& newest = at(count_ - 1);
      before = newest.offset_ns + static_cast<std::int64_t>(std::llround(
                                      static_cast<double>(after.system.ticks() - newest.system_ns) * s->drift_ppm * 1e-6));
    }
    const std::int64_t jump = after.offset().ns() - before;
    for (std::size_t i = 0; i < count_; ++i) ring_[(head_ + kMaxSamples - count_ + i) % kMaxSamples].offset_ns += jump;
    if (prior_) prior_->offset += Duration(jump);
  }
  add(after);
}

void RtcDriftTracker::on_clock_step(Duration by) {
  for (std::size_t i = 0; i < count_; ++i) {
    Sample& p = ring_[(head_ + kMaxSamples - count_ + i) % kMaxSamples];
    p.system_ns += by.ns();
    p.offset_ns += by.ns();
  }
  if (prior_) {
    prior_->ref_time += by;
    prior_->offset += by;
  }
}

std::optional<RtcDriftState> RtcDriftTracker::state() const {
  if (count_ == 0) return prior_;
  const Sample& newest = at(count_ - 1);
  RtcDriftState s;
  s.timescale = timescale_;
  s.ref_time = UtcTime(newest.system_ns);
  const double span_s = static_cast<double>(newest.system_ns - at(0).system_ns) * 1e-9;
  // x: seconds before the newest sample; y: offset in seconds.
  if (count_ >= 2 && span_s >= kMinSpan.seconds()) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      const double x = static_cast<double>(at(i).system_ns - newest.system_ns) * 1e-9;
      const double y = static_cast<double>(at(i).offset_ns) * 1e-9;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const double n = static_cast<double>(count_);
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    s.offset = Duration::from_seconds((sy - slope * sx) / n);
    s.drift_ppm = std::fmax(-kMaxRtcDriftPpm, std::fmin(kMaxRtcDriftPpm, slope * 1e6));
    s.samples = static_cast<std::uint32_t>(count_);
    return s;
  }
  // Too short to fit a drift: the prior drift (or none) through the samples.
  s.drift_ppm = prior_ ? prior_->drift_ppm : 0;
  s.samples = prior_ ? prior_->samples : 0;
  double sum = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const double x = static_cast<double>(at(i).system_ns - newest.system_ns) * 1e-9;
    sum += static_cast<double>(at(i).offset_ns) * 1e-9 - x * s.drift_ppm * 1e-6;
  }
  s.offset = Duration::from_seconds(sum / static_cast<double>(count_));
  return s;
}

// --- RtcSteering --------------------------------------------------------------------

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::optional<RtcDriftState> prior_from(const RtcSteeringConfig& cfg, std::string& message) {
  if (cfg.rtcfile.empty()) return std::nullopt;
  RtcFileRead r = read_rtc_file(cfg.rtcfile);
  message = r.message;
  if (r.state && r.state->timescale != cfg.rtc.timescale) {
    message = "rtcfile " + cfg.rtcfile + " was written for an RTC in " + rtc_timescale_name(r.state->timescale) +
              " time, but rtcdevice says " + rtc_timescale_name(cfg.rtc.timescale) +
              "; the RTC is used uncorrected — fix the rtcdevice line, or delete the file if the RTC was changed";
    return std::nullopt;
  }
  return r.state;
}
}  // namespace

RtcSteering::RtcSteering(RtcDevice& rtc, RtcSystemClock sys, RtcSteeringConfig cfg)
    : rtc_(rtc), sys_(std::move(sys)), cfg_(std::move(cfg)), tracker_(cfg_.rtc.timescale) {}

RtcSteering::Boot RtcSteering::boot() {
  Boot b;
  if (cfg_.rtcfile.empty()) {
    b.message = "no rtcfile: the system clock is not set from the RTC";
    return b;
  }
  std::string message;
  const std::optional<RtcDriftState> prior = prior_from(cfg_, message);
  tracker_ = RtcDriftTracker(cfg_.rtc.timescale, prior);
  if (!prior) {
    b.message = message;
    return b;
  }
  if (cfg_.booted_at && prior->ref_time >= *cfg_.booted_at) {
    b.message = "rtcfile " + cfg_.rtcfile +
                " was written since the system booted: the system clock keeps its time (it is set from the RTC only "
                "at the first start after a boot)";
    return b;
  }
  auto m = measure_rtc(rtc_, sys_, cfg_.rtc);
  if (!m) {
    b.message = m.error().message() + "; the system clock is not set from the RTC";
    return b;
  }
  auto step = boot_step(*m, *prior);
  if (!step) {
    b.message = "rtcfile " + cfg_.rtcfile + ": " + step.error();
    return b;
  }
  b.step = *step;
  char buf[160];
  std::snprintf(buf, sizeof buf, "system clock set from %s: RTC corrected by %+.6f s (drift %+.3f ppm), step %+.6f s",
                rtc_.name().c_str(), prior->offset_at(m->rtc + prior->offset).seconds(), prior->drift_ppm,
                step->seconds());
  b.message = buf;
  return b;
}

std::string RtcSteering::update(MonoTime now, bool synchronized) {
  if (!synchronized || (cfg_.rtcfile.empty() && !cfg_.rtcsync)) return {};
  if (last_run_ && now - *last_run_ < cfg_.interval) return {};
  last_run_ = now;
  return measure_and_steer();
}

std::string RtcSteering::shutdown(bool synchronized) {
  phase_ = Phase::kIdle;
  if (!synchronized || (cfg_.rtcfile.empty() && !cfg_.rtcsync)) return {};
  return measure_and_steer();
}

void RtcSteering::on_clock_step(Duration by) {
  tracker_.on_clock_step(by);
  if (phase_ == Phase::kMeasuring) {
    // Reads before the step bracket the old timescale: start over.
    start_search(search_.after_write, sys_.now());
  } else if (phase_ == Phase::kWriting) {
    write_plan_ = plan_rtc_write(sys_.now(), cfg_.rtc.set_delay, kPollLead + Duration::from_ms(2));
  }
}

std::string RtcSteering::measure_and_steer() {
  auto m = measure_rtc(rtc_, sys_, cfg_.rtc);
  if (!m) return m.error().message();
  last_offset_ = m->offset();
  if (!cfg_.rtcfile.empty()) tracker_.add(*m);
  const bool off = std::llabs(m->offset().ns()) > cfg_.write_tolerance.ns();
  if (cfg_.rtcsync && (cfg_.rtcfile.empty() || off)) {
    const RtcStatus s = set_rtc_from_system(rtc_, sys_, cfg_.rtc);
    if (!s.ok()) return s.message();
    ++writes_;
    auto after = measure_rtc(rtc_, sys_, cfg_.rtc);
    if (!after) return after.error().message();
    last_offset_ = after->offset();
    if (!cfg_.rtcfile.empty()) tracker_.on_rtc_set(*after);
  }
  return finish_steering();
}

std::string RtcSteering::finish_steering() {
  if (!cfg_.rtcfile.empty()) {
    if (const auto st = tracker_.state()) return write_rtc_file(cfg_.rtcfile, *st);
  }
  return {};
}

// --- RtcSteering::poll: the same without waiting ------------------------------------

std::string RtcSteering::poll(MonoTime now, bool synchronized) {
  if (!synchronized) {
    // Measurements count only against a synchronized clock; the next one
    // starts an interval after the abandoned one.
    phase_ = Phase::kIdle;
    return {};
  }
  switch (phase_) {
    case Phase::kIdle:
      if (cfg_.rtcfile.empty() && !cfg_.rtcsync) return {};
      if (last_run_ && now - *last_run_ < cfg_.interval) return {};
      last_run_ = now;
      start_search(false, sys_.now());
      return search_step();
    case Phase::kMeasuring:
      return search_step();
    case Phase::kWriting:
      return write_step();
  }
  return {};
}

std::optional<UtcTime> RtcSteering::next_deadline() const {
  switch (phase_) {
    case Phase::kIdle: return std::nullopt;
    case Phase::kMeasuring: return search_.next_read - kPollLead;
    case Phase::kWriting: return write_plan_.write_at - kPollLead;
  }
  return std::nullopt;
}

void RtcSteering::start_search(bool after_write, UtcTime first_read) {
  const int restarts = phase_ == Phase::kMeasuring && search_.after_write == after_write ? search_.restarts : 0;
  phase_ = Phase::kMeasuring;
  search_ = Search{};
  search_.after_write = after_write;
  search_.restarts = restarts;
  if (const auto st = tracker_.state()) search_.drift_ppm = st->drift_ppm;
  search_.next_read = first_read;
}

std::int64_t RtcSteering::drift_ns(const Search& s, UtcTime t) const {
  return std::llround(static_cast<double>((t - s.ref).ns()) * s.drift_ppm * 1e-6);
}

std::string RtcSteering::abandon(std::string message) {
  phase_ = Phase::kIdle;
  return message;
}

std::string RtcSteering::search_step() {
  Search& s = search_;
  if (const UtcTime t = sys_.now(); t < s.next_read) {
    if (s.next_read - t > kMaxPollSleep) return {};  // woken early, by something else
    sys_.sleep_until(s.next_read);
  }
  std::int64_t reading = 0;
  const UtcTime t0 = sys_.now();
  const RtcStatus st = rtc_.read(reading);
  const UtcTime t1 = sys_.now();
  if (!st.ok()) return abandon(st.message());
  const std::int64_t r_ns = rtc_to_utc_s(reading, cfg_.rtc) * kNsPerSec;
  // The reading R was current somewhere in [t0, t1]: the RTC's time there lay
  // in [R, R + 1 s), so offset = system - RTC lies in (t0 - R - 1 s, t1 - R].
  if (s.reads == 0) s.ref = t1;
  const std::int64_t carried = drift_ns(s, t1);
  const std::int64_t lo = t0.ticks() - r_ns - kNsPerSec - carried;
  const std::int64_t hi = t1.ticks() - r_ns - carried;
  if (s.reads == 0) {
    s.lo_ns = lo;
    s.hi_ns = hi;
  } else {
    s.lo_ns = std::max(s.lo_ns, lo);
    s.hi_ns = std::min(s.hi_ns, hi);
  }
  s.last_read = t1;
  ++s.reads;
  if (s.lo_ns >= s.hi_ns) {
    // No offset fits every reading: the RTC stopped, jumped (set by someone
    // else), or does not count one second per second. Try again from scratch,
    // twice.
    if (s.restarts >= 2) {
      return abandon("RTC: the readings of " + rtc_.name() +
                     " do not advance one second per second (it is stopped, or something else sets it) — check that "
                     "no other program writes it (hwclock --systohc, the kernel's 11-minute mode, another time "
                     "daemon) and replace its battery if it stands still");
    }
    const int restarts = s.restarts + 1;
    start_search(s.after_write, t1);
    search_.restarts = restarts;
    return {};
  }
  const std::int64_t width = s.hi_ns - s.lo_ns;
  if (width > kSearchResolution.ns() && s.reads < kMaxSearchReads) {
    // The next read's interval splits this one at its middle: read when
    // system time minus the middle is a whole number of seconds.
    const UtcTime earliest = sys_.now() + kPollLead + Duration::from_ms(2);
    const std::int64_t mid = s.lo_ns + width / 2 + drift_ns(s, earliest);
    const std::int64_t k = -floor_div(-(earliest.ticks() - mid), kNsPerSec);  // ceiling
    s.next_read = UtcTime(mid + k * kNsPerSec);
    return {};
  }
  if (width > kMaxSearchWidth.ns()) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(width) * 1e-6);
    return abandon("RTC: " + rtc_.name() + " could not be measured closer than " + buf + " in " +
                   std::to_string(kMaxSearchReads) +
                   " reads (its reads take too long) — it is not steered; remove rtcsync/rtcfile for this RTC");
  }
  RtcMeasurement m;
  m.system = s.last_read;
  m.rtc = m.system - Duration(s.lo_ns + width / 2 + drift_ns(s, s.last_read));
  last_offset_ = m.offset();
  phase_ = Phase::kIdle;
  if (s.after_write) {
    if (!cfg_.rtcfile.empty()) tracker_.on_rtc_set(m);
    return finish_steering();
  }
  if (!cfg_.rtcfile.empty()) tracker_.add(m);
  const bool off = std::llabs(m.offset().ns()) > cfg_.write_tolerance.ns();
  if (cfg_.rtcsync && (cfg_.rtcfile.empty() || off)) {
    phase_ = Phase::kWriting;
    write_attempts_ = 0;
    write_plan_ = plan_rtc_write(sys_.now(), cfg_.rtc.set_delay, kPollLead + Duration::from_ms(2));
    return {};
  }
  return finish_steering();
}

std::string RtcSteering::write_step() {
  // A write more than this late puts the RTC late by as much: plan it again
  // for the next second instead, up to three times, then write anyway (the
  // measurement after it sees what the RTC got).
  constexpr Duration kMaxLateness = Duration::from_ms(2);
  constexpr int kAttempts = 3;
  if (const UtcTime t = sys_.now(); t < write_plan_.write_at) {
    if (write_plan_.write_at - t > kMaxPollSleep) return {};
    sys_.sleep_until(write_plan_.write_at);
  }
  if (sys_.now() - write_plan_.write_at > kMaxLateness && ++write_attempts_ < kAttempts) {
    write_plan_ = plan_rtc_write(sys_.now(), cfg_.rtc.set_delay, kPollLead + Duration::from_ms(2));
    return {};
  }
  const RtcStatus st = rtc_.set(utc_to_rtc_s(write_plan_.utc_s, cfg_.rtc));
  if (!st.ok()) return abandon(st.message());
  ++writes_;
  // The RTC rolls over to the written second + 1 `set_delay` after the write:
  // measure from then on.
  start_search(true, write_plan_.write_at + cfg_.rtc.set_delay + Duration::from_ms(10));
  return {};
}

}  // namespace linetime::hwclock
