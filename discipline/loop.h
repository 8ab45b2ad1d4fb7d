// The loop filter: a Kalman filter of the local clock's offset and frequency.
//
// This module estimates, from the offsets measured against the selected
// sources, how far the local clock is from true time (x, hwclock/time.h
// convention) and what frequency correction its oscillator needs (v, a fraction;
// positive = the clock must run faster). The model is
//
//     dx/dt = v - u        v a random walk with spectral density q ("wander")
//
// where u is the frequency correction the discipline has applied to the clock
// (known exactly, since the discipline commanded it). Steps are modelled the same
// way, so the estimator never needs its history corrected after a clock
// adjustment. Each measurement carries its own variance: on a network with
// queueing delay the error of an offset is bounded by half the sample's delay
// above the path's minimum, so a sample that met no queue is worth far more than
// one that did; the filter weighs them accordingly. The wander q is learned from
// the normalised innovations, and the poll interval recommended from the ratio
// of wander to measurement noise (the Allan intercept).
//
// Why a Kalman filter rather than chrony's windowed regression: with per-sample
// variances and an explicit wander model, the Kalman filter is the minimum-
// variance linear estimator and chooses its own memory length (chrony searches a
// window with a runs test); it is O(1) per sample and models the clock's control
// input exactly, so no sample history has to be slewed.
#pragma once

#include "discipline/types.h"

namespace linetime::discipline {

struct LoopConfig {
  double initial_wander_per_s = 1e-16;  // q at start: (fraction)^2 per second
  double min_wander_per_s = 1e-22;
  double max_wander_per_s = 1e-12;
  double outlier_gate_sigmas = 5.0;    // innovations beyond this are spikes
  int outlier_run = 3;                 // this many spikes in a row mean the clock changed
  int min_poll_log2 = 6;
  int max_poll_log2 = 10;
};

enum class MeasureResult : std::uint8_t { kAccepted, kOutlier, kAcceptedAfterChange };

class LoopFilter {
 public:
  explicit LoopFilter(LoopConfig cfg = {});

  void start(UtcTime now, double offset_s, double offset_var_s2, double freq, double freq_var);
  bool started() const { return started_; }

  // Propagates the model to `now`, during which the correction `applied_freq`
  // (fraction) was in force.
  void predict(UtcTime now, double applied_freq);
  // The local clock was stepped forward by `step_s` (its reading advanced).
  void stepped(double step_s);
  // The clock's reading moved without the offset changing (a leap second).
  void shift_time(Duration d) { t_ += d; }
  // One offset measurement with variance `r_s2`, taken `age_s` seconds before
  // the time of the last predict(). The offset must be expressed as if the
  // correction in force now had been in force since the measurement (the clock
  // filter's and the association's re-expression on every frequency change do
  // that); the filter carries it forward with its own frequency estimate and
  // weighs it by how much that estimate's uncertainty grows over `age_s`. An
  // interleaved sample describes the exchange one poll earlier: treating it as
  // a measurement of the present would feed the frequency a delayed error and
  // make the loop ring.
  MeasureResult measure(double offset_s, double r_s2, double age_s = 0);

  double offset_s() const { return kf_.x; }
  double freq() const { return kf_.v; }
  double offset_var_s2() const { return kf_.p00; }
  double freq_var() const { return kf_.p11; }
  double wander_per_s() const { return kf_.q; }
  int poll_log2() const { return poll_; }
  UtcTime time() const { return t_; }
  int outliers_in_row() const { return outlier_count_; }

  // Forget the offset (not the frequency), e.g. after an external step.
  void reset_offset(double offset_s, double offset_var_s2);

 private:
  // One Kalman filter of (offset, frequency) with wander q.
  struct Kf {
    double x = 0, v = 0;
    double p00 = 0, p01 = 0, p11 = 0;
    double q = 0;
    double ll = 0;  // log-likelihood of the measurements since the last reset
    void predict(double dt, double applied_freq);
    // The innovation's variance and the innovation of a measurement `age`
    // seconds old, under the correction `applied_freq`.
    double innovation(double z, double age, double applied_freq) const { return z - (x - age * (v - applied_freq)); }
    double innovation_var(double r, double age) const { return p00 - 2 * age * p01 + age * age * p11 + r; }
    void update(double z, double r, double age, double applied_freq);
  };
  void adapt(double r_s2);
  void reset_shadows();

  LoopConfig cfg_;
  bool started_ = false;
  UtcTime t_{};
  double applied_freq_ = 0;  // the correction of the last predict()
  Kf kf_;
  Kf shadow_[2];
  int window_n_ = 0;
  int poll_;
  int updates_ = 0;
  int poll_votes_ = 0;
  int outlier_count_ = 0;
  UtcTime first_outlier_{};
  double outlier_sum_s_ = 0;
  double r_avg_s2_ = 0;
};

}  // namespace linetime::discipline
