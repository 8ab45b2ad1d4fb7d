#include "hwclock/rtc.h"

#include <fcntl.h>
#include <linux/rtc.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <utility>

namespace linetime::hwclock {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted from
// March so the leap day ends a year; 400-year eras of 146097 days repeat.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  if (m <= 2) --y;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;                               // [0, 399]
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;       // [0, 146096]
  return era * 146097 + doe - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

void civil_from_days(std::int64_t z, std::int64_t& y, int& m, int& d) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

int days_in_month(std::int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

rtc_time to_rtc_time(std::int64_t s) {
  const CivilTime c = civil_from_seconds(s);
  rtc_time t{};
  t.tm_year = c.year - 1900;
  t.tm_mon = c.month - 1;
  t.tm_mday = c.day;
  t.tm_hour = c.hour;
  t.tm_min = c.minute;
  t.tm_sec = c.second;
  t.tm_wday = static_cast<int>(((floor_div(s, 86400) + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  t.tm_yday = static_cast<int>(days_from_civil(c.year, c.month, c.day) - days_from_civil(c.year, 1, 1));
  t.tm_isdst = 0;
  return t;
}

bool no_interrupts(int e) { return e == EINVAL || e == ENOTTY || e == EOPNOTSUPP; }

}  // namespace

std::int64_t seconds_from_civil(const CivilTime& c) {
  return days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
}

CivilTime civil_from_seconds(std::int64_t s) {
  const std::int64_t days = floor_div(s, 86400);
  const std::int64_t rem = s - days * 86400;
  CivilTime c;
  std::int64_t y = 0;
  civil_from_days(days, y, c.month, c.day);
  c.year = static_cast<int>(y);
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem / 60 % 60);
  c.second = static_cast<int>(rem % 60);
  return c;
}

bool civil_valid(const CivilTime& c) {
  return c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= days_in_month(c.year, c.month) && c.hour >= 0 &&
         c.hour < 24 && c.minute >= 0 && c.minute < 60 && c.second >= 0 && c.second < 60;
}

std::string RtcStatus::message() const {
  if (ok()) return {};
  std::string m = "RTC: " + operation + " failed: " + std::strerror(error);
  switch (error) {
    case ENOENT:
    case ENODEV:
      m += " — no such RTC: list them with `ls /dev/rtc*` and fix the rtcdevice line, or remove rtcsync/rtcfile on "
           "machines without one";
      break;
    case EACCES:
    case EPERM:
      m += " — the daemon's user may not use it: give it read-write access to the device (it keeps CAP_SYS_TIME)";
      break;
    case ETIMEDOUT:
      m += " — the RTC did not roll over to the next second: it is stopped (dead battery, or never set); replace the "
           "battery, and linetime sets it once the clock is synchronized";
      break;
    case EINVAL:
    case ERANGE:
      m += " — the RTC refused the date (outside the range it can hold, or an invalid reading): set it once with "
           "`hwclock --systohc` and check the rtcdevice line's utc/local";
      break;
    default:
      m += " — check the RTC driver's messages (dmesg)";
      break;
  }
  return m;
}

// --- LinuxRtc -------------------------------------------------------------------

RtcOps RtcOps::system() {
  RtcOps ops;
  ops.open = [](const char* path, int flags) { return ::open(path, flags); };
  ops.ioctl = [](int fd, unsigned long request, void* arg) { return ::ioctl(fd, request, arg); };
  ops.poll_in = [](int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms);
  };
  ops.read = [](int fd, void* buf, unsigned long n) { return static_cast<long>(::read(fd, buf, n)); };
  ops.close = [](int fd) { return ::close(fd); };
  ops.sleep = [](Duration d) {
    timespec ts{static_cast<time_t>(d.ns() / kNsPerSec), static_cast<long>(d.ns() % kNsPerSec)};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  };
  ops.mono_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return MonoTime(ts.tv_sec * kNsPerSec + ts.tv_nsec);
  };
  return ops;
}

Expected<std::unique_ptr<LinuxRtc>, RtcStatus> LinuxRtc::open(const std::string& path, bool writable, RtcOps ops) {
  const int fd = ops.open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return unexpected(RtcStatus{errno, "open " + path});
  return std::unique_ptr<LinuxRtc>(new LinuxRtc(path, std::move(ops), fd));
}

LinuxRtc::~LinuxRtc() {
  if (fd_ >= 0) ops_.close(fd_);
}

RtcStatus LinuxRtc::fail(const char* what) { return RtcStatus{errno, std::string(what) + " on " + path_}; }

RtcStatus LinuxRtc::read(std::int64_t& rtc_s) {
  rtc_time t{};
  if (ops_.ioctl(fd_, RTC_RD_TIME, &t) != 0) return fail("ioctl(RTC_RD_TIME)");
  const CivilTime c{t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec};
  if (!civil_valid(c)) return RtcStatus{EINVAL, "reading the time of " + path_};
  rtc_s = seconds_from_civil(c);
  return {};
}

RtcStatus LinuxRtc::set(std::int64_t rtc_s) {
  rtc_time t = to_rtc_time(rtc_s);
  if (ops_.ioctl(fd_, RTC_SET_TIME, &t) != 0) return fail("ioctl(RTC_SET_TIME)");
  return {};
}

RtcStatus LinuxRtc::wait_for_tick(Duration timeout, std::int64_t& rtc_s) {
  if (interrupts_) {
    if (ops_.ioctl(fd_, RTC_UIE_ON, nullptr) != 0) {
      if (!no_interrupts(errno)) return fail("ioctl(RTC_UIE_ON)");
      interrupts_ = false;  // this RTC has no update interrupt: poll it from now on
    }
  }
  if (!interrupts_) return poll_for_tick(timeout, rtc_s);
  const int ready = ops_.poll_in(fd_, static_cast<int>((timeout.ns() + 999'999) / 1'000'000));
  if (ready <= 0) {
    const int e = ready == 0 ? ETIMEDOUT : errno;
    (void)ops_.ioctl(fd_, RTC_UIE_OFF, nullptr);
    return RtcStatus{e, "waiting for the update interrupt of " + path_};
  }
  unsigned long events = 0;
  const long n = ops_.read(fd_, &events, sizeof events);
  const int read_errno = errno;
  (void)ops_.ioctl(fd_, RTC_UIE_OFF, nullptr);
  if (n < 0) return RtcStatus{read_errno, "read of " + path_};
  return read(rtc_s);
}

RtcStatus LinuxRtc::poll_for_tick(Duration timeout, std::int64_t& rtc_s) {
  std::int64_t first = 0;
  if (RtcStatus s = read(first); !s.ok()) return s;
  const MonoTime deadline = ops_.mono_now() + timeout;
  // One read per millisecond: the rollover is seen within about a millisecond.
  while (ops_.mono_now() < deadline) {
    ops_.sleep(Duration::from_ms(1));
    std::int64_t now = 0;
    if (RtcStatus s = read(now); !s.ok()) return s;
    if (now != first) {
      rtc_s = now;
      return {};
    }
  }
  return RtcStatus{ETIMEDOUT, "polling " + path_ + " for its next second"};
}

std::vector<std::string> rtc_devices() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("rtc", 0) == 0 && name.size() > 3 && !e.is_symlink(ec)) out.push_back(e.path().string());
  }
  return out;
}

// --- FakeRtc ----------------------------------------------------------------------

FakeRtc::FakeRtc(std::shared_ptr<FakeTimeline> timeline, std::int64_t rtc_s, double drift_ppm, Duration set_delay)
    : tl_(std::move(timeline)),
      base_truth_(tl_->truth),
      base_rtc_ns_(rtc_s * kNsPerSec),
      drift_ppm_(drift_ppm),
      set_delay_(set_delay) {}

std::int64_t FakeRtc::exact_ns() const {
  const double elapsed = static_cast<double>((tl_->truth - base_truth_).ns());
  return base_rtc_ns_ + static_cast<std::int64_t>(std::floor(elapsed * (1 + drift_ppm_ * 1e-6)));
}

RtcStatus FakeRtc::read(std::int64_t& rtc_s) {
  if (fail_ != 0) return RtcStatus{std::exchange(fail_, 0), "ioctl(RTC_RD_TIME) on fake"};
  rtc_s = floor_div(exact_ns(), kNsPerSec);
  return {};
}

RtcStatus FakeRtc::set(std::int64_t rtc_s) {
  if (fail_ != 0) return RtcStatus{std::exchange(fail_, 0), "ioctl(RTC_SET_TIME) on fake"};
  base_truth_ = tl_->truth;
  base_rtc_ns_ = rtc_s * kNsPerSec + kNsPerSec - set_delay_.ns();
  ++writes_;
  last_written_ = rtc_s;
  return {};
}

RtcStatus FakeRtc::wait_for_tick(Duration timeout, std::int64_t& rtc_s) {
  if (fail_ != 0) return RtcStatus{std::exchange(fail_, 0), "waiting for the update interrupt of fake"};
  const std::int64_t now = exact_ns();
  const std::int64_t to_next = (floor_div(now, kNsPerSec) + 1) * kNsPerSec - now;  // RTC ns
  const auto wait = static_cast<std::int64_t>(std::ceil(static_cast<double>(to_next) / (1 + drift_ppm_ * 1e-6)));
  if (wait > timeout.ns()) {
    tl_->advance(timeout);
    return RtcStatus{ETIMEDOUT, "waiting for the update interrupt of fake"};
  }
  tl_->advance(Duration(wait));
  rtc_s = floor_div(exact_ns(), kNsPerSec);
  tl_->advance(tl_->tick_latency);
  return {};
}

// --- timescale, measuring, setting ---------------------------------------------------

const char* rtc_timescale_name(RtcTimescale t) { return t == RtcTimescale::kUtc ? "utc" : "local"; }

namespace {
std::int64_t local_offset(std::int64_t utc_s, const RtcConfig& cfg) {
  if (cfg.utc_offset_s) return cfg.utc_offset_s(utc_s);
  const time_t t = static_cast<time_t>(utc_s);
  tm local{};
  if (::localtime_r(&t, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}
}  // namespace

std::int64_t utc_to_rtc_s(std::int64_t utc_s, const RtcConfig& cfg) {
  return cfg.timescale == RtcTimescale::kUtc ? utc_s : utc_s + local_offset(utc_s, cfg);
}

std::int64_t rtc_to_utc_s(std::int64_t rtc_s, const RtcConfig& cfg) {
  if (cfg.timescale == RtcTimescale::kUtc) return rtc_s;
  // The offset depends on the UTC instant being sought: one refinement settles
  // it except within the hour a daylight-saving change repeats.
  const std::int64_t guess = rtc_s - local_offset(rtc_s, cfg);
  return rtc_s - local_offset(guess, cfg);
}

RtcSystemClock RtcSystemClock::of(std::shared_ptr<FakeTimeline> tl) {
  RtcSystemClock c;
  c.now = [tl] { return tl->system(); };
  c.sleep_until = [tl](UtcTime t) {
    if (tl->system() < t) tl->advance(t - tl->system());
  };
  return c;
}

Expected<RtcMeasurement, RtcStatus> measure_rtc(RtcDevice& rtc, const RtcSystemClock& sys, const RtcConfig& cfg) {
  std::int64_t rtc_s = 0;
  if (RtcStatus s = rtc.wait_for_tick(cfg.tick_timeout, rtc_s); !s.ok()) return unexpected(s);
  RtcMeasurement m;
  m.system = sys.now();
  m.rtc = UtcTime(rtc_to_utc_s(rtc_s, cfg) * kNsPerSec);
  return m;
}

RtcWritePlan plan_rtc_write(UtcTime now, Duration set_delay, Duration min_lead) {
  // Writing second V at V + 1 s - set_delay: the RTC reaches V + 1 at V + 1.
  const std::int64_t earliest = (now + min_lead).ticks();
  const std::int64_t v = -floor_div(-(earliest - kNsPerSec + set_delay.ns()), kNsPerSec);  // ceiling
  RtcWritePlan p;
  p.utc_s = v;
  p.write_at = UtcTime(v * kNsPerSec + kNsPerSec - set_delay.ns());
  return p;
}

RtcStatus set_rtc_from_system(RtcDevice& rtc, const RtcSystemClock& sys, const RtcConfig& cfg) {
  // A write more than this late (the process was not scheduled in time) puts
  // the RTC late by as much: plan again for the next second instead.
  constexpr Duration kMaxLateness = Duration::from_ms(2);
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    const RtcWritePlan plan = plan_rtc_write(sys.now(), cfg.set_delay);
    sys.sleep_until(plan.write_at);
    if (sys.now() - plan.write_at > kMaxLateness && attempt < kAttempts) continue;
    return rtc.set(utc_to_rtc_s(plan.utc_s, cfg));
  }
}

}  // namespace linetime::hwclock
