#include "control/driftfile.h"

#include "hwclock/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace linetime::control {

namespace {

constexpr std::size_t kMaxDriftFileBytes = 4096;  // a drift file is one line

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

Expected<Drift, std::string> parse_drift(std::string_view text) {
  const std::vector<std::string> w = hwclock::state_file_words(text);
  if (w.empty()) return unexpected(std::string("the file is empty"));
  if (w.size() > 2) {
    return unexpected("expected one number (ntpd's format) or two (chrony's \"frequency skew\"), found " +
                      std::to_string(w.size()) + " words");
  }
  Drift d;
  const auto first = hwclock::state_file_number(w[0]);
  if (!first) return unexpected("'" + w[0] + "' is not a number");
  if (w.size() == 1) {
    d.frequency_ppm = *first;
  } else {
    const auto skew = hwclock::state_file_number(w[1]);
    if (!skew || *skew < 0) return unexpected("'" + w[1] + "' is not a skew in ppm (a non-negative number)");
    d.format = DriftFormat::kChrony;
    d.frequency_ppm = -*first;  // chrony stores the clock's error; the correction is its opposite
    d.skew_ppm = *skew;
  }
  if (std::fabs(d.frequency_ppm) > kMaxDriftPpm) {
    return unexpected("frequency " + w[0] + " ppm is beyond the kernel's ±500 ppm");
  }
  return d;
}

std::string format_drift(double frequency_ppm) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f\n", frequency_ppm);
  return buf;
}

DriftRead read_drift_file(const std::string& path) {
  DriftRead r;
  const hwclock::StateFileRead f = hwclock::read_state_file(path, kMaxDriftFileBytes);
  if (f.missing) {
    r.missing = true;
    r.message = "drift file " + path +
                " does not exist yet; starting at 0 ppm (normal on the first start: it is written once the "
                "clock has been synchronized for an hour)";
    return r;
  }
  if (f.error != 0) {
    r.message = "cannot read drift file " + path + ": " + errno_text(f.error) +
                "; starting at 0 ppm — make it readable by the daemon's user or fix the driftfile line";
    return r;
  }
  if (f.too_big) {
    r.message = "drift file " + path + " is larger than " + std::to_string(kMaxDriftFileBytes) +
                " bytes, not a drift file; starting at 0 ppm — check the driftfile line, or delete the file";
    return r;
  }
  const std::string& text = f.text;
  auto parsed = parse_drift(text);
  if (!parsed) {
    r.message = "drift file " + path + ": " + parsed.error() +
                "; starting at 0 ppm — the file is rewritten once the clock has been synchronized for an hour, or "
                "delete it now";
    return r;
  }
  r.drift = *parsed;
  return r;
}

std::string drift_temp_path(const std::string& path) { return path + ".tmp"; }

std::string write_drift_file(const std::string& path, double frequency_ppm) {
  if (!std::isfinite(frequency_ppm)) {
    return "not writing drift file " + path + ": the frequency is not a number (a bug in linetime, please report "
           "it); the previous drift file is unchanged";
  }
  // What the reader accepts: a larger correction is saved as the largest valid one.
  frequency_ppm = std::fmax(-kMaxDriftPpm, std::fmin(kMaxDriftPpm, frequency_ppm));
  return hwclock::write_state_file(path, drift_temp_path(path), format_drift(frequency_ppm), "drift file");
}

DriftFile::DriftFile(std::string path, hwclock::Duration interval) : path_(std::move(path)), interval_(interval) {}

std::string DriftFile::update(hwclock::MonoTime now, double frequency_ppm) {
  last_value_ = frequency_ppm;
  if (!since_) since_ = now;
  const hwclock::MonoTime from = last_write_ ? *last_write_ : *since_;
  if (now - from < interval_) return {};
  std::string err = write_drift_file(path_, frequency_ppm);
  // A failed write is retried at the next interval, not at every update.
  last_write_ = now;
  if (err.empty()) ++writes_;
  return err;
}

std::string DriftFile::flush(std::optional<double> frequency_ppm) {
  if (frequency_ppm) last_value_ = frequency_ppm;
  if (!last_value_) return {};
  std::string err = write_drift_file(path_, *last_value_);
  if (err.empty()) ++writes_;
  return err;
}

}  // namespace linetime::control
