// The clock discipline: from samples of upstream sources to clock commands and
// the state the server publishes.
//
// This module keeps track of the sources, decides which of them to believe and
// steers the local clock toward them. Per source it runs the RFC 5905 clock
// filter (filter.h); on every sample it runs selection, clustering and combining
// (select.h) and feeds the sample, if its source survived, to the Kalman loop
// filter (loop.h); from the loop filter's estimate it commands a frequency for
// the local clock that removes the estimated offset as fast as the maximum slew
// rate allows. It applies the step policy operators know from ntpd (step
// threshold, stepout, panic threshold, -g, -q), leap seconds (leap.h), holdover
// on the last frequency with root dispersion growing at PHI, and the local
// reference (stratum 10) taking over after a wait and handing back.
//
// It is pure: the caller passes the local time (the disciplined clock's reading)
// with every call and executes the returned ClockCommand at once; the discipline
// assumes the command took effect at that `now`. It never reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "discipline/filter.h"
#include "discipline/leap.h"
#include "discipline/loop.h"
#include "discipline/select.h"
#include "discipline/types.h"

namespace linetime::discipline {

struct DisciplineConfig {
  // Selection (ntpd's `tos`).
  int min_sane = 1;              // survivors needed to update the clock
  int min_clock = 3;             // clustering stops at this many survivors
  double max_distance_s = 1.5;   // root distance threshold (tos maxdist)
  std::uint8_t stratum_floor = 1;    // sources below this stratum are ignored (tos floor)
  std::uint8_t stratum_ceiling = 15; // and above this one (tos ceiling)
  int startup_samples = 8;       // filter stages each source needs before the first update: a full
                                 // register, or the empty stages widen every interval (about 1 s at 4)
                                 // so much that a falseticker cannot be told apart
  double startup_timeout_s = 600; // then start with the sources that have them
  // Steering.
  double max_slew_ppm = 500;         // bound on |frequency correction|, offset slew included
  double step_threshold_s = 0.128;   // tinker step; 0 = never step, always slew
  double stepout_s = 300;            // tinker stepout
  double panic_threshold_s = 1000;   // tinker panic; 0 = no panic check
  bool allow_first_panic = false;    // ntpd -g: the first adjustment may exceed panic
  bool one_shot = false;             // ntpd -q: set the clock once, then exit
  std::optional<double> drift_ppm;   // frequency from the drift file
  double drift_sd_ppm = 1.0;         // how far the drift file is trusted
  // Holdover and the local reference (server 127.127.1.0 + fudge stratum N).
  bool local_reference = false;
  std::uint8_t local_stratum = 10;
  double local_wait_s = 300;         // holdover time before the local reference takes over
  std::int8_t precision_log2 = -20;  // of the local clock's timestamps
  double min_distance_s = 0.001;     // root distance floor (tos mindist)
  double measurement_floor_s = 100e-9;  // offset noise not explained by delay
  LoopConfig loop{};
  std::optional<LeapTable> leap_table;
};

struct SourceConfig {
  bool prefer = false;
  bool noselect = false;
  std::uint32_t reference_id = 0;  // what we publish as refid when it is the system peer (its IPv4 address)
};

using SourceId = std::uint32_t;

enum class SourceStatus : std::uint8_t {
  kUnreachable,  // no reply in the last eight polls
  kNoSample,
  kNoSelect,     // configured noselect
  kUnsync,       // the server says it is unsynchronized (LI 3 or stratum 0/16)
  kStratum,      // outside tos floor/ceiling
  kDistance,     // root distance above maxdist
  kFalseticker,  // outside the intersection
  kExcess,       // pruned by clustering
  kSurvivor,     // combined
  kSystemPeer,
};
const char* to_string(SourceStatus s);

enum class ClockAction : std::uint8_t {
  kNone,
  kFrequency,  // set the frequency correction to frequency_ppm
  kStep,       // advance the clock by `step` (negative: move it back), then set frequency_ppm
  kPanic,      // offset beyond the panic threshold: refuse and exit (ntpd without -g)
  kExit,       // one-shot mode is done: apply `step` or `slew` and exit
};

struct ClockCommand {
  ClockAction action = ClockAction::kNone;
  double frequency_ppm = 0;       // total correction from now on, offset slew included
  double base_frequency_ppm = 0;  // the oscillator's estimated correction (no slew)
  Duration step;                  // kStep / kExit
  Duration slew;                  // kExit in one-shot mode: hand to adjtime()
  Duration offset;                // kPanic: the offset that was refused
  std::optional<LeapDecision> leap;  // present when the leap decision changed
};

enum class SyncMode : std::uint8_t { kUnsynchronized, kSynchronized, kHoldover, kLocalReference };
const char* to_string(SyncMode m);

// What the server publishes (maps onto dataplane/shm's ServerState).
struct SystemState {
  SyncMode mode = SyncMode::kUnsynchronized;
  Leap leap = Leap::kUnsync;           // LI to serve
  std::uint8_t stratum = kMaxStratum;
  std::uint32_t reference_id = 0;
  UtcTime reference_time{};
  Duration root_delay;
  Duration root_dispersion;            // at reference_time
  double dispersion_rate = kPhiSPerS;  // growth of root dispersion, s per s
  double jitter_s = 0;                 // system jitter
  double offset_s = 0;                 // estimated remaining offset
  double offset_sd_s = 0;              // its standard deviation
  double frequency_ppm = 0;            // base frequency correction
  double wander_ppm_per_sqrt_s = 0;
  int poll_log2 = 6;
  std::optional<SourceId> system_peer;
  int survivors = 0;
  LeapDecision leap_decision;

  Duration root_dispersion_at(UtcTime t) const;
};

struct DisciplineCounters {
  std::uint64_t samples = 0;
  std::uint64_t popcorn = 0;
  std::uint64_t outliers = 0;
  std::uint64_t clock_changes = 0;  // runs of outliers accepted as a change
  std::uint64_t updates = 0;        // loop filter measurements accepted
  std::uint64_t steps = 0;
  std::uint64_t stepouts_cancelled = 0;
  std::uint64_t path_changes = 0;   // minimum-delay windows restarted on a lengthened path
};

class Discipline {
 public:
  explicit Discipline(DisciplineConfig cfg);

  SourceId add_source(const SourceConfig& cfg);

  // The frequency correction to set before the first command (the drift file's).
  double initial_frequency_ppm() const { return applied_freq_ * 1e6; }

  // A request was sent to the source (ages its reach register).
  void on_poll_sent(SourceId id, UtcTime now);
  // A reply arrived. `sample` comes from measure() on the local clock.
  ClockCommand on_sample(SourceId id, const SourceHeader& header, const Sample& sample, UtcTime now);
  // Housekeeping: call at next_timer() (ends slews, holdover, leap arming).
  ClockCommand on_timer(UtcTime now);
  UtcTime next_timer() const;
  // The clock driver inserted or deleted the armed leap second.
  void on_leap_applied(UtcTime now);

  const SystemState& state() const { return state_; }
  int poll_log2() const { return state_.poll_log2; }
  SourceStatus source_status(SourceId id) const { return sources_.at(id).status; }
  const std::optional<PeerEstimate>& source_estimate(SourceId id) const { return sources_.at(id).filter.estimate(); }
  std::uint64_t times_selected(SourceId id) const { return sources_.at(id).selected; }
  const DisciplineCounters& counters() const { return counters_; }
  const LoopFilter& loop() const { return loop_; }

 private:
  struct Source {
    SourceConfig cfg;
    SourceHeader header;
    bool have_header = false;
    ClockFilter filter;
    std::uint8_t reach = 0;
    std::uint8_t misses = 0;
    std::vector<double> delays_s;  // recent round trips (oldest first), for the path's minimum
    SourceStatus status = SourceStatus::kNoSample;
    std::uint64_t selected = 0;
  };
  struct Selection {
    std::vector<SourceId> ordered;  // system peer first
    Combined combined;
    LeapVotes votes;
  };

  double root_distance(const Source& s, UtcTime now) const;
  double measurement_var(const Source& s, const Sample& sample) const;
  bool path_lengthened(const Source& s) const;
  Selection select(UtcTime now);
  void advance(UtcTime now);
  void set_frequency(UtcTime now, double freq);
  void apply_step(UtcTime now, double step_s);
  ClockCommand steer(UtcTime now, ClockCommand cmd);
  ClockCommand start(UtcTime now, const Selection& sel);
  void publish(UtcTime now, const Selection& sel);
  void housekeeping(UtcTime now, const Selection& sel, ClockCommand& cmd);
  void shift_times(Duration d);

  DisciplineConfig cfg_;
  std::vector<Source> sources_;
  LoopFilter loop_;
  SystemState state_;
  DisciplineCounters counters_;
  double applied_freq_ = 0;  // fraction, offset slew included
  double base_freq_ = 0;     // fraction
  std::optional<UtcTime> slew_end_;
  UtcTime last_time_{};
  bool have_time_ = false;
  bool started_ = false;
  bool exited_ = false;
  UtcTime last_update_{};       // last time the sources updated the clock
  std::optional<UtcTime> stepout_since_;
  UtcTime next_housekeeping_{};
  LeapDecision leap_;
  LeapVotes last_votes_;
  std::optional<UtcTime> leap_done_;
  std::optional<UtcTime> first_time_;
};

}  // namespace linetime::discipline
