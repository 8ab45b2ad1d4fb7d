#include "hwclock/timebase.h"

#include <cmath>
#include <cstdlib>

namespace linetime::hwclock {

namespace {
std::uint64_t to_q32(double ns_per_tick) { return static_cast<std::uint64_t>(std::llround(ns_per_tick * 4294967296.0)); }
}  // namespace

void TimebaseEstimator::sample(TscTime before, UtcTime utc, TscTime after) {
  if (after < before) return;
  const std::int64_t bracket = (after - before).count();
  const Point p{before.ticks() + bracket / 2, utc.ticks(), bracket / 2};
  if (!have_best_ || p.half_bracket < best_.half_bracket) best_ = p;
  have_best_ = true;
}

bool TimebaseEstimator::end_round() {
  if (!have_best_) return false;
  have_best_ = false;
  if (fit_.valid() && count_ >= 2) {
    const std::int64_t predicted = fit_.to_utc(TscTime(best_.tsc)).ticks();
    if (std::llabs(best_.utc_ns - predicted) > step_ns_) {
      count_ = 0;  // the clock was stepped (or slewed hard): start over from here
      ++steps_;
    }
  }
  window_[head_] = best_;
  head_ = (head_ + 1) % kWindow;
  if (count_ < kWindow) ++count_;
  refit();
  return true;
}

void TimebaseEstimator::refit() {
  const std::size_t n = count_;
  const std::size_t first = (head_ + kWindow - n) % kWindow;
  const Point& anchor = window_[(head_ + kWindow - 1) % kWindow];  // the newest point
  double slope = 1e9 / nominal_hz_;
  if (n >= 2) {
    // Least squares of utc against tsc, relative to the newest point to keep
    // the numbers small.
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Point& p = window_[(first + i) % kWindow];
      const double x = static_cast<double>(p.tsc - anchor.tsc);
      const double y = static_cast<double>(p.utc_ns - anchor.utc_ns);
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const double den = static_cast<double>(n) * sxx - sx * sx;
    if (den > 0) slope = (static_cast<double>(n) * sxy - sx * sy) / den;
    const double intercept = (sy - slope * sx) / static_cast<double>(n);
    double rss = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Point& p = window_[(first + i) % kWindow];
      const double r = static_cast<double>(p.utc_ns - anchor.utc_ns) - (intercept + slope * static_cast<double>(p.tsc - anchor.tsc));
      rss += r * r;
    }
    fit_.tsc0 = anchor.tsc;
    fit_.utc0_ns = anchor.utc_ns + static_cast<std::int64_t>(std::llround(intercept));
    fit_.error_ns = static_cast<std::int64_t>(std::sqrt(rss / static_cast<double>(n))) +
                    static_cast<std::int64_t>(static_cast<double>(anchor.half_bracket) * slope);
  } else {
    fit_.tsc0 = anchor.tsc;
    fit_.utc0_ns = anchor.utc_ns;
    fit_.error_ns = static_cast<std::int64_t>(static_cast<double>(anchor.half_bracket) * slope);
  }
  fit_.ns_per_tick_q32 = to_q32(slope);
}

}  // namespace linetime::hwclock
