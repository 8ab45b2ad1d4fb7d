// A deterministic clock-and-network simulator for the discipline.
//
// Virtual true time runs in seconds from the start of a scenario. A simulated
// local oscillator (initial offset, frequency error, random-walk wander,
// frequency steps) is read as the local clock and steered by the discipline's
// commands; simulated servers (good, falsetickers constant or drifting,
// unreachable, stepping, KoD, announcing leap seconds) answer over simulated
// paths (base delay, jitter distributions, asymmetry, loss, delay spikes, route
// changes). Per server, the control daemon's own association
// (control/association.h) sends real NTP requests at the discipline's poll
// interval; the simulated server answers with real NTP packets (basic,
// interleaved or kiss-o'-death) built with dataplane/wire/ntp.h, and the
// association's samples go to discipline::Discipline, exactly as in the
// daemon. Every
// random number comes from std::mt19937_64 streams derived from the scenario's
// seed, drawn through our own exponential and normal transforms, so a run is
// reproducible bit for bit.
//
// The score is taken from the truth: every virtual second the simulator records
// the true offset of the local clock (UTC - local, the hwclock/time.h
// convention) and the true frequency error of its base frequency (oscillator
// error plus the discipline's base correction, excluding the deliberate offset
// slews).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "discipline/discipline.h"

namespace linetime::sim {

struct Jitter {
  enum class Kind : std::uint8_t { kNone, kExponential, kUniform } kind = Kind::kExponential;
  double mean_s = 100e-6;
};

struct RouteChange {
  double at_s = 0;          // true time of the change
  double forward_add_s = 0;  // client -> server
  double backward_add_s = 0;
};

struct Path {
  double base_delay_s = 100e-6;  // one way
  Jitter jitter;                 // per direction, independent
  double asymmetry_s = 0;        // extra forward delay
  double loss = 0;               // probability per packet, each direction
  double spike_probability = 0;  // per packet: add spike_s one way
  double spike_s = 0;
  std::vector<RouteChange> route_changes;
};

enum class ServerKind : std::uint8_t { kGood, kFalseticker, kDrifting, kStepping, kKod };

struct Outage {
  double from_s = 0;
  double to_s = 0;
};

struct ServerSpec {
  ServerKind kind = ServerKind::kGood;
  double error_s = 0;     // falseticker: constant error of its clock
  double drift_ppm = 0;   // drifting: error grows at this rate
  double step_at_s = 0;   // stepping: its clock jumps by step_s at this time
  double step_s = 0;
  std::uint8_t stratum = 1;
  std::uint32_t kod_code = 0x52415445;  // kKod: the kiss code of every answer ("RATE")
  bool interleaved = true;       // answers interleaved requests
  double tx_lag_mean_s = 0;      // exp. delay between writing T3 and the reply leaving
  Path path;
  std::vector<Outage> outages;  // no replies
};

struct FreqStep {
  double at_s = 0;
  double delta_ppm = 0;
};

struct Oscillator {
  double initial_offset_s = 0;  // UTC - local at start
  double freq_error_ppm = 100;  // positive: runs fast
  double wander_per_sqrt_s = 1e-9;  // frequency random walk: sd of the change per second
  std::vector<FreqStep> steps;
};

struct LeapSpec {
  hwclock::UtcTime at;  // 00:00:00 after the leap
  bool insert = true;
};

struct Limits {
  double rms_offset_s = 1;
  double max_offset_s = 1;
  double rms_freq_ppm = 1;
  double converge_s = 1e9;
};

struct Result;

struct Scenario {
  std::string id;
  std::string title;
  std::uint64_t seed = 1;
  double duration_s = 86400;
  double long_duration_s = 7 * 86400;
  hwclock::UtcTime epoch{hwclock::kNsPerSec * 1'709'251'200LL};  // 2024-03-01T00:00:00Z
  Oscillator osc;
  std::vector<ServerSpec> servers;
  discipline::DisciplineConfig cfg;
  bool iburst = true;
  bool xleave = false;  // clients ask for interleaved mode
  std::optional<LeapSpec> leap;
  // The daemon's loop runs every timer (the discipline's and each
  // association's) late by a uniform 0 .. timer_late_max_s of local time, as
  // poll()'s millisecond resolution and the scheduler make it.
  double timer_late_max_s = 0;
  // With late timers: also run the scenario with punctual ones, for the check
  // to compare (Result::punctual_*).
  bool run_punctual_twin = false;
  double converge_band_s = 1e-3;  // converged once |offset| stays within this for 10 min
  std::vector<Outage> unscored;   // true-time windows left out of RMS and max
  Limits limits;
  std::function<std::string(const Result&)> check;  // extra checks; "" when fine
};

struct ModeChange {
  double at_s = 0;
  discipline::SyncMode mode{};
  std::uint8_t stratum = 16;
};

struct Result {
  std::string id;
  double simulated_s = 0;
  double rms_offset_s = 0;
  double max_offset_s = 0;
  double rms_freq_ppm = 0;
  double converge_s = -1;  // -1: never
  double mean_poll_s = 0;
  double max_unscored_offset_s = 0;  // e.g. holdover error
  std::uint64_t samples = 0;
  std::uint64_t steps = 0;
  bool panicked = false;
  bool exited = false;
  int leaps_applied = 0;
  std::vector<std::uint64_t> selected;  // per server: times it was combined
  std::vector<std::uint64_t> requests;  // per server: requests sent
  std::vector<std::uint64_t> kods;      // per server: kisses-o'-death received
  std::vector<std::uint64_t> interleaved;  // per server: interleaved samples
  std::vector<bool> demobilized;        // per server
  std::vector<int> final_poll_log2;     // per server: the association's poll at the end
  std::vector<ModeChange> modes;
  discipline::DisciplineCounters counters;
  double final_offset_s = 0;
  // The punctual twin's figures (Scenario::run_punctual_twin), else -1.
  double punctual_rms_offset_s = -1;
  double punctual_max_offset_s = -1;
  double punctual_rms_freq_ppm = -1;
  bool pass = false;
  std::string failure;
};

Result run(const Scenario& sc, bool long_run);

// The numbered scenarios.
std::vector<Scenario> scenarios();

}  // namespace linetime::sim
