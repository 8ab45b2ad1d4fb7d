// The search for a server's loss-free rate (--find-max): the highest offered
// rate whose step lost at most `max_loss` of its requests (0.1 % by default).
//
// It first tries the upper bound (by default the rate the generator reaches
// unpaced, measured by the caller); if that passes, the server is faster than
// the generator and the bound is the answer. Otherwise it bisects between the
// highest passing and the lowest failing rate until they are within
// `resolution` of each other or the step budget is spent. A step only passes
// when the generator really offered the rate asked for (within 1 %): a step the
// generator could not drive says nothing about the server. Pure.
#pragma once

#include <optional>

namespace linetime::loadgen {

class MaxRateSearch {
 public:
  struct Config {
    double low = 0;           // requests/s assumed to pass
    double high = 0;          // requests/s to try first
    double max_loss = 0.001;  // 0.1 %
    double resolution = 0.02; // stop when (fail - pass) / fail is below this
    unsigned max_steps = 12;
  };

  explicit MaxRateSearch(const Config& c) : c_(c), pass_(c.low), fail_(0) {}

  // The rate of the next step, or nothing when the search is over.
  std::optional<double> next() const {
    if (steps_ >= c_.max_steps || c_.high <= 0) return std::nullopt;
    if (steps_ == 0) return c_.high;
    if (fail_ <= 0) return std::nullopt;  // the upper bound passed
    if ((fail_ - pass_) / fail_ <= c_.resolution) return std::nullopt;
    return (pass_ + fail_) / 2;
  }

  // The result of the step run at `rate`: what was offered and what was lost.
  void record(double rate, double offered, double loss) {
    ++steps_;
    const bool ok = loss <= c_.max_loss && offered >= 0.99 * rate;
    if (ok) {
      if (rate > pass_) pass_ = rate;
    } else if (fail_ <= 0 || rate < fail_) {
      fail_ = rate;
    }
  }

  // The highest passing rate so far (the configured low bound if none passed).
  double best() const { return pass_; }
  // The lowest failing rate (0 when none failed).
  double lowest_failing() const { return fail_; }
  unsigned steps() const { return steps_; }

 private:
  Config c_;
  double pass_;
  double fail_;
  unsigned steps_ = 0;
};

}  // namespace linetime::loadgen
