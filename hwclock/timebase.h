// TSC -> UTC mapping for software timestamps, and the line estimator every
// clock mapping of linetime is fitted with.
//
// The dataplane stamps a burst with one TSC read and converts it with a
// Timebase: utc = utc0 + (tsc - tsc0) * ns_per_tick, in 64.32 fixed point so a
// conversion is one 128-bit multiply. The mapping is fitted from samples the
// caller takes as (TSC before, CLOCK_REALTIME, TSC after) triplets: the tighter
// the bracket, the better the sample, so each round keeps only its tightest
// triplet, and the fit is a least-squares line through the last rounds'
// midpoints (LineEstimator below). The estimator is robust to what happens to
// a real system clock:
//  - preemption: a round whose best bracket is much wider than the window's
//    tightest is not used (a few in a row are, so a machine that got slower
//    is followed);
//  - steps: a tight sample far off the line (step_threshold) restarts the fit;
//  - slews and frequency changes: two rounds in a row off the line by more than
//    their own uncertainty, on the same side, shorten the window to the
//    newest points so the line bends with the clock.
// The mapping reports its estimated error. The dataplane publishes it to the
// lcores as a lock-free snapshot (shm::Seqlock<Timebase>). Pure: nothing here
// reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hwclock/time.h"

namespace linetime::hwclock {

// A straight line y = y0 + (x - x0) * slope fitted through bracketed samples.
// x is the source clock's reading (TSC or NIC ticks), y nanoseconds of the
// target clock (UTC). Every sample carries its uncertainty: half the width of
// the bracket that was around it, in nanoseconds of y.
class LineEstimator {
 public:
  static constexpr std::size_t kWindow = 32;  // rounds kept for the fit
  // A round whose tightest sample's half bracket exceeds kPreemptFactor times
  // the tightest accepted so far, plus kPreemptSlackNs, was disturbed
  // (preempted, interrupted) and is skipped, unless kMaxSkipped were skipped
  // in a row: then reads have become slower and the new width is the norm.
  static constexpr std::int64_t kPreemptFactor = 4;
  static constexpr std::int64_t kPreemptSlackNs = 1'000;
  static constexpr int kMaxSkipped = 4;
  // A sample is off the line when its distance from the prediction exceeds
  // kBendFactor times (fit error + its half bracket) plus kBendSlackNs.
  static constexpr std::int64_t kBendFactor = 4;
  static constexpr std::int64_t kBendSlackNs = 20;
  // Points kept when the line bends: the two off the old line. The point
  // before them may straddle the change of rate and is dropped.
  static constexpr std::size_t kKeepOnBend = 2;

  struct Point {
    std::int64_t x = 0;
    std::int64_t y_ns = 0;
    std::int64_t half_bracket_ns = 0;
  };
  struct Fit {
    std::int64_t x0 = 0;
    std::int64_t y0_ns = 0;
    double slope = 0;          // ns of y per unit of x
    std::int64_t error_ns = 0;  // estimated error of y at x0 (see error())
    std::size_t points = 0;
  };
  enum class Round { kEmpty, kAccepted, kSkipped, kStep, kBend };

  // `nominal_slope`: y ns per x unit until two rounds are in.
  LineEstimator(double nominal_slope, Duration step_threshold)
      : nominal_slope_(nominal_slope), slope_(nominal_slope), step_ns_(step_threshold.ns()) {}

  // One sample of the current round.
  void sample(const Point& p);
  // Closes the round: its tightest sample is judged and, unless skipped, joins
  // the window and the line is refitted.
  Round end_round();

  const Fit& fit() const { return fit_; }
  bool valid() const { return fit_.points > 0; }
  // The last fitted slope, or the nominal one before two points were in.
  double slope() const { return slope_; }
  std::size_t points() const { return count_; }
  std::uint64_t steps_seen() const { return steps_; }
  std::uint64_t bends_seen() const { return bends_; }
  std::uint64_t rounds_skipped() const { return skipped_total_; }

  // Tells the estimator that the target clock was stepped by `by` (known to
  // the caller, e.g. the control stepped it): the history is moved with it
  // rather than thrown away.
  void shift(Duration by);
  // The source clock was moved by `dx` units (a NIC clock the caller set):
  // the history is moved with it.
  void shift_x(std::int64_t dx);
  // Drops everything.
  void reset();

 private:
  const Point& at(std::size_t i) const { return window_[(head_ + kWindow - count_ + i) % kWindow]; }
  void push(const Point& p);
  void keep_newest(std::size_t n);
  void refit();
  std::int64_t predict(std::int64_t x) const;

  double nominal_slope_;
  double slope_;
  std::int64_t step_ns_;
  bool have_best_ = false;
  Point best_{};
  Point window_[kWindow]{};
  std::size_t head_ = 0, count_ = 0;
  int skipped_ = 0;
  std::int64_t tightest_ns_ = 0;  // tightest half bracket accepted since reads last became slower
  int off_line_sign_ = 0;  // sign of the previous round's off-line residual, 0 when on the line
  std::uint64_t steps_ = 0, bends_ = 0, skipped_total_ = 0;
  Fit fit_{};
};

struct Timebase {
  std::int64_t tsc0 = 0;
  std::int64_t utc0_ns = 0;
  std::uint64_t ns_per_tick_q32 = 0;  // nanoseconds per tick, 32 fractional bits
  // Estimated error of a conversion near tsc0 (ns): the fit's residual
  // scatter widened for prediction, plus the newest sample's half bracket
  // (a read that is not centred in its bracket biases every sample alike).
  std::int64_t error_ns = 0;

  bool valid() const { return ns_per_tick_q32 != 0; }

  UtcTime to_utc(TscTime t) const {
    const __int128 d = static_cast<__int128>(t.ticks() - tsc0) * static_cast<__int128>(ns_per_tick_q32);
    return UtcTime(utc0_ns + static_cast<std::int64_t>(d >> 32));
  }
  TscCycles ticks_for(Duration d) const {
    if (!valid()) return TscCycles(0);
    return TscCycles(static_cast<std::int64_t>((static_cast<__int128>(d.ns()) << 32) / static_cast<__int128>(ns_per_tick_q32)));
  }
};

// Nanoseconds per unit as 32.32 fixed point, rounded.
std::uint64_t slope_to_q32(double ns_per_unit);

class TimebaseEstimator {
 public:
  static constexpr std::size_t kWindow = LineEstimator::kWindow;

  // `nominal_hz`: the TSC frequency the system reports, used until two rounds
  // are in. `step_threshold`: a sample this far off the fitted line means the
  // clock was stepped: the window restarts from it.
  explicit TimebaseEstimator(double nominal_hz, Duration step_threshold = Duration::from_ms(1))
      : line_(1e9 / nominal_hz, step_threshold) {}

  // One triplet of a round.
  void sample(TscTime before, UtcTime utc, TscTime after);
  // Closes the round: its tightest triplet is judged (see LineEstimator) and
  // the line refitted. Returns false when the round had no sample or its
  // sample was skipped as disturbed (the timebase is unchanged then).
  bool end_round();
  // What the last end_round() did.
  LineEstimator::Round last_round() const { return last_; }

  const Timebase& timebase() const { return fit_; }
  std::size_t rounds() const { return line_.points(); }
  std::uint64_t steps_seen() const { return line_.steps_seen(); }
  std::uint64_t bends_seen() const { return line_.bends_seen(); }
  std::uint64_t rounds_skipped() const { return line_.rounds_skipped(); }
  // The system clock was stepped by `by` by the caller itself.
  void on_clock_step(Duration by);

 private:
  void publish();

  LineEstimator line_;
  LineEstimator::Round last_ = LineEstimator::Round::kEmpty;
  Timebase fit_{};
};

}  // namespace linetime::hwclock
