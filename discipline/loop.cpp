#include "discipline/loop.h"

#include <algorithm>
#include <cmath>

namespace linetime::discipline {

namespace {
constexpr int kWanderWindow = 64;        // measurements per likelihood comparison
constexpr double kWanderFactor = 2.0;    // the shadow filters run with q / 2 and q * 2
constexpr double kWanderMarginNats = 2;  // a shadow must beat the main filter by this much
}  // namespace

void LoopFilter::Kf::predict(double dt, double applied_freq) {
  x += (v - applied_freq) * dt;
  p00 += 2 * dt * p01 + dt * dt * p11 + q * dt * dt * dt / 3;
  p01 += dt * p11 + q * dt * dt / 2;
  p11 += q * dt;
}

void LoopFilter::Kf::update(double z, double r, double age, double applied_freq) {
  // The measurement sees x - age * (v - u): H = [1, -age]. The frequency's
  // random walk over the age is not in the state; its effect on the offset
  // (q age^3 / 3) counts as measurement noise.
  const double innov = innovation(z, age, applied_freq);
  const double r_total = r + q * age * age * age / 3;
  const double s = innovation_var(r_total, age);
  ll += -0.5 * (std::log(s) + innov * innov / s);
  const double ph0 = p00 - age * p01;  // P H^T
  const double ph1 = p01 - age * p11;
  const double k0 = ph0 / s;
  const double k1 = ph1 / s;
  x += k0 * innov;
  v += k1 * innov;
  p00 = std::max(p00 - k0 * ph0, 1e-30);
  p01 -= k0 * ph1;
  p11 = std::max(p11 - k1 * ph1, 1e-30);
}

LoopFilter::LoopFilter(LoopConfig cfg) : cfg_(cfg), poll_(cfg.min_poll_log2) { kf_.q = cfg.initial_wander_per_s; }

void LoopFilter::reset_shadows() {
  for (int i = 0; i < 2; ++i) {
    shadow_[i] = kf_;
    shadow_[i].q = std::clamp(kf_.q * (i == 0 ? 1 / kWanderFactor : kWanderFactor), cfg_.min_wander_per_s,
                              cfg_.max_wander_per_s);
    shadow_[i].ll = 0;
  }
  kf_.ll = 0;
  window_n_ = 0;
}

void LoopFilter::start(UtcTime now, double offset_s, double offset_var_s2, double freq, double freq_var) {
  started_ = true;
  t_ = now;
  kf_.x = offset_s;
  kf_.v = freq;
  kf_.p00 = offset_var_s2;
  kf_.p01 = 0;
  kf_.p11 = freq_var;
  updates_ = 0;
  outlier_count_ = 0;
  reset_shadows();
}

void LoopFilter::reset_offset(double offset_s, double offset_var_s2) {
  kf_.x = offset_s;
  kf_.p00 = offset_var_s2;
  kf_.p01 = 0;
  outlier_count_ = 0;
  reset_shadows();
}

void LoopFilter::stepped(double step_s) {
  kf_.x -= step_s;
  for (Kf& s : shadow_) s.x -= step_s;
  t_ += Duration::from_seconds(step_s);
}

void LoopFilter::predict(UtcTime now, double applied_freq) {
  if (!started_) return;
  const double dt = (now - t_).seconds();
  if (dt <= 0) return;
  t_ = now;
  applied_freq_ = applied_freq;
  kf_.predict(dt, applied_freq);
  for (Kf& s : shadow_) s.predict(dt, applied_freq);
}

MeasureResult LoopFilter::measure(double offset_s, double r_s2, double age_s) {
  age_s = std::max(age_s, 0.0);
  const double innov = kf_.innovation(offset_s, age_s, applied_freq_);
  MeasureResult result = MeasureResult::kAccepted;
  if (updates_ >= 4 &&
      innov * innov > cfg_.outlier_gate_sigmas * cfg_.outlier_gate_sigmas * kf_.innovation_var(r_s2, age_s)) {
    const bool same_sign = outlier_count_ > 0 && (innov > 0) == (outlier_sum_s_ > 0);
    if (!same_sign) {
      outlier_count_ = 0;
      outlier_sum_s_ = 0;
      first_outlier_ = t_;
    }
    ++outlier_count_;
    outlier_sum_s_ += innov;
    if (outlier_count_ < cfg_.outlier_run) {
      // Poll fast until the spike is confirmed as a change or dismissed.
      poll_ = cfg_.min_poll_log2;
      poll_votes_ = 0;
      return MeasureResult::kOutlier;
    }
    // A run of same-signed spikes: the clock (or every path) changed. Open the
    // covariance so the filter follows: the offset by the innovation, the
    // frequency by the innovation over the time the run took.
    const double span_s = std::max(1.0, (t_ - first_outlier_).seconds() + std::ldexp(1.0, poll_));
    kf_.p00 += innov * innov;
    kf_.p11 += (innov / span_s) * (innov / span_s);
    poll_ = cfg_.min_poll_log2;
    poll_votes_ = 0;
    result = MeasureResult::kAcceptedAfterChange;
  }
  outlier_count_ = 0;
  kf_.update(offset_s, r_s2, age_s, applied_freq_);
  ++updates_;
  if (result == MeasureResult::kAccepted && updates_ > 8) {
    for (Kf& s : shadow_) s.update(offset_s, r_s2, age_s, applied_freq_);
    adapt(r_s2);
  } else {
    reset_shadows();  // start-up or a change: the shadows restart from the main filter
  }
  return result;
}

void LoopFilter::adapt(double r_s2) {
  // Wander: two shadow filters run with q / 2 and q * 2 on the same
  // measurements; after a window, the main filter takes the q whose predictions
  // explained the measurements best (multiple-model adaptive estimation). The
  // likelihood weighs every sample by its own variance, so it needs no separate
  // noise model and is not fooled by samples whose noise hides the wander.
  if (++window_n_ >= kWanderWindow) {
    // The shadows run continuously (their memory is longer than a window);
    // only the scores restart. On a switch the winner becomes the main filter,
    // the old main becomes the shadow on the far side and a copy of the winner
    // seeds the shadow beyond it.
    const int best = shadow_[0].ll > shadow_[1].ll ? 0 : 1;
    if (shadow_[best].ll > kf_.ll + kWanderMarginNats) {
      const Kf old_main = kf_;
      kf_ = shadow_[best];
      Kf beyond = kf_;
      beyond.q = std::clamp(kf_.q * (best == 0 ? 1 / kWanderFactor : kWanderFactor), cfg_.min_wander_per_s,
                            cfg_.max_wander_per_s);
      shadow_[best] = beyond;
      shadow_[1 - best] = old_main;
    }
    kf_.ll = 0;
    for (Kf& s : shadow_) s.ll = 0;
    window_n_ = 0;
  }
  // Poll: lengthen while the wander over twice the interval stays below the
  // noise of a typical measurement (the filter can bridge the gap), shorten
  // when the wander over one interval exceeds it twice over.
  r_avg_s2_ = r_avg_s2_ > 0 ? 0.9 * r_avg_s2_ + 0.1 * r_s2 : r_s2;
  const double t_s = std::ldexp(1.0, poll_);
  const double noise_s = std::sqrt(r_avg_s2_ + kf_.p00);
  const double wander2_s = std::sqrt(kf_.q * 8 * t_s * t_s * t_s / 3);
  const double wander1_s = std::sqrt(kf_.q * t_s * t_s * t_s / 3);
  if (wander2_s < noise_s) {
    if (++poll_votes_ >= 8 && poll_ < cfg_.max_poll_log2) {
      ++poll_;
      poll_votes_ = 0;
    }
  } else if (wander1_s > 2 * noise_s) {
    if (--poll_votes_ <= -4 && poll_ > cfg_.min_poll_log2) {
      --poll_;
      poll_votes_ = 0;
    }
  } else {
    poll_votes_ = 0;
  }
}

}  // namespace linetime::discipline
