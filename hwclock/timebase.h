// TSC -> UTC mapping for software timestamps.
//
// The dataplane stamps a burst with one TSC read and converts it with a
// Timebase: utc = utc0 + (tsc - tsc0) * ns_per_tick, in 64.32 fixed point so a
// conversion is one 128-bit multiply. The mapping is fitted from samples the
// caller takes as (TSC before, CLOCK_REALTIME, TSC after) triplets: the tighter
// the bracket, the better the sample, so each round keeps only its tightest
// triplet (a preempted read is simply not chosen), and the fit is a least-squares
// line through the last rounds' midpoints. It follows slews of the system clock
// because it keeps refitting, and a step shows up as a sample far off the line,
// which restarts the fit. Pure: it never reads a clock itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hwclock/time.h"

namespace linetime::hwclock {

struct Timebase {
  std::int64_t tsc0 = 0;
  std::int64_t utc0_ns = 0;
  std::uint64_t ns_per_tick_q32 = 0;  // nanoseconds per tick, 32 fractional bits
  std::int64_t error_ns = 0;          // estimated error of a conversion (RMS residual + bracket)

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

class TimebaseEstimator {
 public:
  static constexpr std::size_t kWindow = 32;  // rounds kept for the fit

  // `nominal_hz`: the TSC frequency the system reports, used until two rounds
  // are in. `step_threshold`: a sample this far off the fitted line means the
  // clock was stepped: the window restarts from it.
  explicit TimebaseEstimator(double nominal_hz, Duration step_threshold = Duration::from_ms(1))
      : nominal_hz_(nominal_hz), step_ns_(step_threshold.ns()) {}

  // One triplet of a round.
  void sample(TscTime before, UtcTime utc, TscTime after);
  // Closes the round: its tightest triplet joins the window and the line is
  // refitted. Returns false when the round had no sample.
  bool end_round();

  const Timebase& timebase() const { return fit_; }
  std::size_t rounds() const { return count_; }
  std::uint64_t steps_seen() const { return steps_; }

 private:
  struct Point {
    std::int64_t tsc;     // bracket midpoint
    std::int64_t utc_ns;
    std::int64_t half_bracket;
  };
  void refit();

  double nominal_hz_;
  std::int64_t step_ns_;
  bool have_best_ = false;
  Point best_{};
  Point window_[kWindow]{};
  std::size_t head_ = 0, count_ = 0;
  std::uint64_t steps_ = 0;
  Timebase fit_{};
};

}  // namespace linetime::hwclock
