#include "discipline/filter.h"

#include <algorithm>
#include <cmath>

namespace linetime::discipline {

// Shifts the register one stage, ageing the dispersion of what it holds, and
// puts `newest` in front.
void ClockFilter::shift_in(const Stage& newest, UtcTime now) {
  const double age_s = have_shift_ ? std::max(0.0, (now - last_shift_).seconds()) : 0.0;
  last_shift_ = now;
  have_shift_ = true;
  for (int i = kNStage - 1; i > 0; --i) {
    stages_[i] = stages_[i - 1];
    if (stages_[i].valid) stages_[i].dispersion_s = std::min(kMaxDispS, stages_[i].dispersion_s + kPhiSPerS * age_s);
  }
  stages_[0] = newest;
}

FilterVerdict ClockFilter::add(const Sample& s, UtcTime now, double poll_s, double precision_s) {
  shift_in(Stage{s.time, s.offset.seconds(), s.delay.seconds(), s.dispersion.seconds(), true}, now);

  // Sort by delay, empty stages last (RFC: they carry MAXDISP delay).
  std::array<Stage, kNStage> f = stages_;
  std::stable_sort(f.begin(), f.end(), [](const Stage& a, const Stage& b) {
    if (a.valid != b.valid) return a.valid;
    return a.delay_s < b.delay_s;
  });
  int m = 0;
  while (m < kNStage && f[m].valid) ++m;

  // Dispersion: weighted sum with weights halving by delay rank (RFC eq. in 10).
  double disp_s = 0;
  double jitter2 = 0;
  for (int i = kNStage - 1; i >= 0; --i) {
    disp_s = 0.5 * (disp_s + (f[i].valid ? f[i].dispersion_s : kMaxDispS));
    if (i < m) jitter2 += (f[i].offset_s - f[0].offset_s) * (f[i].offset_s - f[0].offset_s);
  }
  const double jitter_s = std::max(m > 1 ? std::sqrt(jitter2 / (m - 1)) : 0.0, precision_s);

  const bool first = !estimate_.has_value();
  const double prev_offset_s = first ? f[0].offset_s : estimate_->offset_s;
  const double prev_jitter_s = first ? jitter_s : estimate_->jitter_s;

  // Prime directive: use a sample only once, never one older than the last used.
  if (have_used_ && f[0].time <= last_used_) {
    estimate_->dispersion_s = disp_s;
    estimate_->jitter_s = jitter_s;
    estimate_->updated = now;
    return FilterVerdict::kNoNewer;
  }
  // Popcorn spike suppressor.
  if (!first && std::fabs(f[0].offset_s - prev_offset_s) > kSGate * prev_jitter_s &&
      have_used_ && (f[0].time - last_used_).seconds() < 2 * poll_s) {
    estimate_->dispersion_s = disp_s;
    estimate_->updated = now;
    return FilterVerdict::kPopcorn;
  }
  last_used_ = f[0].time;
  have_used_ = true;
  estimate_ = PeerEstimate{f[0].time, f[0].offset_s, f[0].delay_s, disp_s, jitter_s, now};
  return FilterVerdict::kNewEstimate;
}

void ClockFilter::slew_samples(UtcTime when, double dfreq, double doffset_s) {
  // For a sample at local time t the new clock reads
  //   t' = t + doffset + dfreq * (t - when),
  // so the offset (reference - local) decreases by the same amount.
  auto shift = [&](UtcTime t) { return doffset_s + dfreq * (t - when).seconds(); };
  for (Stage& st : stages_) {
    if (!st.valid) continue;
    const double d = shift(st.time);
    st.offset_s -= d;
    st.time += Duration::from_seconds(d);
  }
  if (estimate_) {
    const double d = shift(estimate_->time);
    estimate_->offset_s -= d;
    estimate_->time += Duration::from_seconds(d);
  }
  if (have_used_) last_used_ += Duration::from_seconds(shift(last_used_));
  if (have_shift_) last_shift_ += Duration::from_seconds(shift(last_shift_));
}

void ClockFilter::add_missing(UtcTime now) {
  shift_in(Stage{}, now);
  if (!estimate_) return;
  std::array<Stage, kNStage> f = stages_;
  std::stable_sort(f.begin(), f.end(), [](const Stage& a, const Stage& b) {
    if (a.valid != b.valid) return a.valid;
    return a.delay_s < b.delay_s;
  });
  double disp_s = 0;
  for (int i = kNStage - 1; i >= 0; --i) disp_s = 0.5 * (disp_s + (f[i].valid ? f[i].dispersion_s : kMaxDispS));
  estimate_->dispersion_s = disp_s;
  estimate_->updated = now;
}

std::vector<Sample> ClockFilter::samples() const {
  std::vector<Sample> out;
  for (const Stage& st : stages_) {
    if (!st.valid) continue;
    out.push_back(Sample{st.time, Duration::from_seconds(st.offset_s), Duration::from_seconds(st.delay_s),
                         Duration::from_seconds(st.dispersion_s)});
  }
  return out;
}

void ClockFilter::reset() { *this = ClockFilter{}; }

int ClockFilter::valid_stages() const {
  return static_cast<int>(std::count_if(stages_.begin(), stages_.end(), [](const Stage& s) { return s.valid; }));
}

double ClockFilter::dispersion_at(UtcTime now) const {
  if (!estimate_) return kMaxDispS;
  const double age_s = std::max(0.0, (now - estimate_->updated).seconds());
  return std::min(kMaxDispS, estimate_->dispersion_s + kPhiSPerS * age_s);
}

}  // namespace linetime::discipline
