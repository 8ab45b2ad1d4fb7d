// The per-source clock filter of RFC 5905 section 10.
//
// This module keeps the last eight samples of one source in a shift register,
// ages their dispersion at PHI, picks the sample with the smallest round-trip
// delay as the source's offset (the one least disturbed by queueing), and
// computes the source's dispersion and jitter. A new minimum-delay sample that
// jumps more than SGATE jitters from the previous one within two poll intervals
// is a popcorn spike and is not passed on. The register is kept consistent with
// the local clock: when the clock is stepped or its frequency changed the stored
// samples are re-expressed against the new clock (chrony's SST_SlewSamples).
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "discipline/types.h"

namespace linetime::discipline {

// The filter's summary of a source (RFC 5905 peer variables).
struct PeerEstimate {
  UtcTime time;             // local time of the sample the offset comes from
  double offset_s = 0;      // hwclock/time.h convention
  double delay_s = 0;       // round trip of that sample
  double dispersion_s = kMaxDispS;  // filter dispersion at `updated`
  double jitter_s = 0;      // RMS of the offsets around the chosen one
  UtcTime updated;          // local time the register last shifted
};

enum class FilterVerdict : std::uint8_t {
  kNewEstimate,  // a newer minimum-delay sample became the source's offset
  kNoNewer,      // the minimum-delay sample is not newer than the one last used
  kPopcorn,      // suppressed as a popcorn spike
};

class ClockFilter {
 public:
  // Shifts `s` into the register at local time `now`. `poll_s` is the current
  // poll interval (the popcorn window is two of them); `precision_s` floors the
  // jitter.
  FilterVerdict add(const Sample& s, UtcTime now, double poll_s, double precision_s);

  // The local clock was changed at `when`: its reading advanced by `doffset_s`
  // and its rate increased by `dfreq` (fraction, 1e-6 = 1 ppm). Every stored
  // sample is re-expressed against the new clock.
  void slew_samples(UtcTime when, double dfreq, double doffset_s);

  // A poll went unanswered: shifts in an empty stage (RFC 5905 poll(): after
  // three misses), so the dispersion grows until the source is unusable.
  void add_missing(UtcTime now);

  // The valid stored samples, newest first.
  std::vector<Sample> samples() const;

  // Drops every sample (e.g. after the source stepped or was reset).
  void reset();

  // Empty until the first valid sample.
  const std::optional<PeerEstimate>& estimate() const { return estimate_; }
  int valid_stages() const;
  // Dispersion of the estimate grown to `now` (RFC root distance term).
  double dispersion_at(UtcTime now) const;

 private:
  struct Stage {
    UtcTime time;
    double offset_s = 0;
    double delay_s = kMaxDispS;
    double dispersion_s = kMaxDispS;
    bool valid = false;
  };
  void shift_in(const Stage& newest, UtcTime now);

  std::array<Stage, kNStage> stages_{};
  UtcTime last_shift_{};
  bool have_shift_ = false;
  UtcTime last_used_{};
  bool have_used_ = false;
  std::optional<PeerEstimate> estimate_;
};

}  // namespace linetime::discipline
