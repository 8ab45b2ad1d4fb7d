#include "hwclock/timebase.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace linetime::hwclock {

std::uint64_t slope_to_q32(double ns_per_unit) {
  return static_cast<std::uint64_t>(std::llround(ns_per_unit * 4294967296.0));
}

// --- LineEstimator ------------------------------------------------------------------

void LineEstimator::sample(const Point& p) {
  if (!have_best_ || p.half_bracket_ns < best_.half_bracket_ns) best_ = p;
  have_best_ = true;
}

LineEstimator::Round LineEstimator::end_round() {
  if (!have_best_) return Round::kEmpty;
  have_best_ = false;
  const Point p = best_;
  if (count_ >= 2 && p.half_bracket_ns > kPreemptFactor * tightest_ns_ + kPreemptSlackNs) {
    if (skipped_ < kMaxSkipped) {
      ++skipped_;
      ++skipped_total_;
      return Round::kSkipped;
    }
    tightest_ns_ = p.half_bracket_ns;  // reads became slower for good: judge by the new normal
  }
  skipped_ = 0;
  if (count_ == 0 || p.half_bracket_ns < tightest_ns_) tightest_ns_ = p.half_bracket_ns;
  Round result = Round::kAccepted;
  if (count_ >= 2) {
    const std::int64_t r = p.y_ns - predict(p.x);
    if (std::llabs(r) > step_ns_) {
      count_ = 0;  // the clock was stepped: start over from here
      ++steps_;
      off_line_sign_ = 0;
      result = Round::kStep;
    } else if (std::llabs(r) > kBendFactor * (fit_.error_ns + p.half_bracket_ns) + kBendSlackNs) {
      const int sign = r > 0 ? 1 : -1;
      if (sign == off_line_sign_) {
        // Two rounds off the same side: the clock's rate changed (a slew).
        keep_newest(kKeepOnBend - 1);
        ++bends_;
        off_line_sign_ = 0;
        result = Round::kBend;
      } else {
        off_line_sign_ = sign;
      }
    } else {
      off_line_sign_ = 0;
    }
  }
  push(p);
  refit();
  return result;
}

void LineEstimator::push(const Point& p) {
  window_[head_] = p;
  head_ = (head_ + 1) % kWindow;
  if (count_ < kWindow) ++count_;
}

void LineEstimator::keep_newest(std::size_t n) { count_ = std::min(count_, n); }

std::int64_t LineEstimator::predict(std::int64_t x) const {
  return fit_.y0_ns + static_cast<std::int64_t>(std::llround(static_cast<double>(x - fit_.x0) * fit_.slope));
}

void LineEstimator::shift(Duration by) {
  for (std::size_t i = 0; i < count_; ++i) window_[(head_ + kWindow - count_ + i) % kWindow].y_ns += by.ns();
  if (have_best_) best_.y_ns += by.ns();
  fit_.y0_ns += by.ns();
}

void LineEstimator::shift_x(std::int64_t dx) {
  for (std::size_t i = 0; i < count_; ++i) window_[(head_ + kWindow - count_ + i) % kWindow].x += dx;
  if (have_best_) best_.x += dx;
  fit_.x0 += dx;
}

void LineEstimator::reset() {
  count_ = 0;
  have_best_ = false;
  skipped_ = 0;
  off_line_sign_ = 0;
  slope_ = nominal_slope_;
  fit_ = Fit{};
}

void LineEstimator::refit() {
  const std::size_t n = count_;
  const Point& anchor = at(n - 1);  // the newest point
  fit_.x0 = anchor.x;
  fit_.points = n;
  if (n < 2) {
    // One point: the last fitted rate (or the nominal one) through it.
    fit_.y0_ns = anchor.y_ns;
    fit_.slope = slope_;
    fit_.error_ns = anchor.half_bracket_ns;
    return;
  }
  // Least squares of y against x, relative to the newest point to keep the
  // numbers small.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(at(i).x - anchor.x);
    const double y = static_cast<double>(at(i).y_ns - anchor.y_ns);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double dn = static_cast<double>(n);
  const double den = dn * sxx - sx * sx;
  double slope = slope_;
  if (den > 0) slope = (dn * sxy - sx * sy) / den;
  slope_ = slope;
  const double intercept = (sy - slope * sx) / dn;
  double rss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(at(i).y_ns - anchor.y_ns) -
                     (intercept + slope * static_cast<double>(at(i).x - anchor.x));
    rss += r * r;
  }
  // Two points define the line exactly: their brackets are all that is known.
  const double scatter = n > 2 ? std::sqrt(rss / (dn - 2)) : static_cast<double>(anchor.half_bracket_ns);
  fit_.y0_ns = anchor.y_ns + static_cast<std::int64_t>(std::llround(intercept));
  fit_.slope = slope;
  fit_.error_ns = static_cast<std::int64_t>(std::llround(scatter * std::sqrt(1.0 + 1.0 / dn))) +
                  anchor.half_bracket_ns;
}

// --- TimebaseEstimator ----------------------------------------------------------------

void TimebaseEstimator::sample(TscTime before, UtcTime utc, TscTime after) {
  if (after < before) return;
  const std::int64_t bracket = (after - before).count();
  const double half_ns = static_cast<double>(bracket) * 0.5 * line_.slope();
  line_.sample({before.ticks() + bracket / 2, utc.ticks(), static_cast<std::int64_t>(std::llround(half_ns))});
}

bool TimebaseEstimator::end_round() {
  last_ = line_.end_round();
  if (last_ == LineEstimator::Round::kEmpty || last_ == LineEstimator::Round::kSkipped) return false;
  publish();
  return true;
}

void TimebaseEstimator::on_clock_step(Duration by) {
  line_.shift(by);
  if (line_.valid()) publish();
}

void TimebaseEstimator::publish() {
  const LineEstimator::Fit& f = line_.fit();
  fit_.tsc0 = f.x0;
  fit_.utc0_ns = f.y0_ns;
  fit_.ns_per_tick_q32 = slope_to_q32(f.slope);
  fit_.error_ns = f.error_ns;
}

}  // namespace linetime::hwclock
