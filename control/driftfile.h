// The drift file: the clock's frequency correction kept across restarts.
//
// This module reads the frequency the daemon starts from and writes it back
// hourly and at shutdown, so a restarted daemon does not spend hours learning
// the oscillator again. The file is ntpd's: one number, the correction in ppm
// (positive: the clock is sped up), which ntpd, ntpsec and linetime read and
// write alike. chrony's file ("freq skew", two numbers, its frequency being the
// clock's error, the opposite sign) is read too, so a host moving from chrony
// keeps its estimate; linetime always writes ntpd's format.
//
// Writing is atomic: a temporary file in the same directory, fsync, rename over
// the old file, fsync of the directory. A crash or a failed write leaves the
// previous file as it was.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hwclock/expected.h"
#include "hwclock/time.h"

namespace linetime::control {

// ntpd refuses drift values beyond the kernel's 500 ppm; so does linetime: a
// larger value is a corrupted file or another program's format.
inline constexpr double kMaxDriftPpm = 500;

enum class DriftFormat { kNtpd, kChrony };

struct Drift {
  double frequency_ppm = 0;  // correction, positive: clock sped up (discipline/types.h)
  std::optional<double> skew_ppm;  // chrony's estimate of the frequency's error bound
  DriftFormat format = DriftFormat::kNtpd;
  bool operator==(const Drift&) const = default;
};

// Parses the text of a drift file. The error says what is wrong with it.
Expected<Drift, std::string> parse_drift(std::string_view text);
// ntpd's format: "%.3f\n".
std::string format_drift(double frequency_ppm);

// Reading at startup. A missing file is normal on the first start (`missing`,
// with a message for the log); any other problem gives a message naming the
// file, what is wrong and what happens: the daemon starts at 0 ppm.
struct DriftRead {
  std::optional<Drift> drift;
  bool missing = false;
  std::string message;  // empty when the file was read
};
DriftRead read_drift_file(const std::string& path);

// Writes atomically. Returns an empty string on success, else a message naming
// the file, the failed step and the fix; the previous file is untouched then.
std::string write_drift_file(const std::string& path, double frequency_ppm);

// The temporary file a write goes through (same directory, so rename is atomic).
std::string drift_temp_path(const std::string& path);

// When to write: every `interval` (ntpd: hourly) while the clock is
// synchronized, and at shutdown. Uses the monotonic clock the caller passes.
class DriftFile {
 public:
  explicit DriftFile(std::string path, hwclock::Duration interval = hwclock::Duration::from_s(3600));

  const std::string& path() const { return path_; }
  // Writes if `interval` has passed since the last write (or since the first
  // call). Returns the write's error message, or empty (also when not due).
  std::string update(hwclock::MonoTime now, double frequency_ppm);
  // At shutdown: writes the last value given to update() or flush(), if any.
  std::string flush(std::optional<double> frequency_ppm = std::nullopt);
  std::optional<hwclock::MonoTime> last_write() const { return last_write_; }
  int writes() const { return writes_; }

 private:
  std::string path_;
  hwclock::Duration interval_;
  std::optional<hwclock::MonoTime> since_;
  std::optional<hwclock::MonoTime> last_write_;
  std::optional<double> last_value_;
  int writes_ = 0;
};

}  // namespace linetime::control
