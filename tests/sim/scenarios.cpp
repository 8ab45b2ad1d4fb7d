// The numbered simulation scenarios of the clock discipline issue, with their
// pass limits. Limits are set from measured figures with margin for other seeds
// (scripts/sim.sh --long runs the multi-day versions).
#include <cmath>
#include <cstdio>

#include "tests/sim/sim.h"

namespace linetime::sim {

namespace dsc = linetime::discipline;
using hwclock::Duration;
using hwclock::UtcTime;

namespace {

constexpr double kHour = 3600;
constexpr double kDay = 86400;

UtcTime utc_date(int y, int m, int d) {
  return UtcTime(dsc::days_from_civil({y, m, d}) * 86400 * hwclock::kNsPerSec);
}

std::string fmt(const char* f, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

// 001's setting: a LAN, four good stratum-1 servers, 100 us one-way delay plus
// exponential jitter of mean 100 us each way, an oscillator 100 ppm off that
// wanders 1e-9 per sqrt(s) (the clknetsim defaults chrony's tests use),
// minpoll 6 / maxpoll 10 with iburst.
Scenario lan(const std::string& id, const std::string& title, double jitter_s = 100e-6) {
  Scenario s;
  s.id = id;
  s.title = title;
  s.seed = 1000;
  for (char c : id) s.seed = s.seed * 131 + static_cast<unsigned char>(c);
  s.osc.freq_error_ppm = 100;
  s.osc.wander_per_sqrt_s = 1e-9;
  ServerSpec good;
  good.path.base_delay_s = 100e-6;
  good.path.jitter = {Jitter::Kind::kExponential, jitter_s};
  s.servers.assign(4, good);
  s.cfg.precision_log2 = -25;
  s.cfg.measurement_floor_s = 20e-9;
  s.cfg.loop.min_poll_log2 = 6;
  s.cfg.loop.max_poll_log2 = 10;
  s.duration_s = kDay;
  s.long_duration_s = 7 * kDay;
  s.converge_band_s = 100e-6;
  return s;
}

}  // namespace

std::vector<Scenario> scenarios() {
  std::vector<Scenario> v;
  {
    Scenario s = lan("001", "LAN, 4 servers, 100us+exp(100us), 100ppm+wander, poll 6-10");
    s.limits = {45e-6, 250e-6, 0.08, 600};
    v.push_back(s);
  }
  {
    // The goal: 20 % better than chrony's 12 us, i.e. at most 9.6 us.
    Scenario s = lan("001p4", "as 001 with poll 4 (16 s), chrony's 12 us setting");
    s.cfg.loop.min_poll_log2 = s.cfg.loop.max_poll_log2 = 4;
    s.converge_band_s = 50e-6;
    s.limits = {9.6e-6, 80e-6, 0.1, 600};
    s.check = [](const Result& r) -> std::string {
      return r.counters.path_changes == 0 ? "" : fmt("%.0f path changes on an unchanged path", double(r.counters.path_changes), 0);
    };
    v.push_back(s);
  }
  {
    Scenario s = lan("002a", "as 001 with exp(10us) jitter", 10e-6);
    s.converge_band_s = 20e-6;
    s.limits = {8e-6, 60e-6, 0.05, 900};
    v.push_back(s);
  }
  {
    Scenario s = lan("002b", "as 001 with exp(1ms) jitter", 1e-3);
    s.converge_band_s = 1e-3;
    s.limits = {450e-6, 2.5e-3, 0.5, 900};
    v.push_back(s);
  }
  {
    Scenario s = lan("003", "one falseticker (+50 ms) among four: never selected");
    s.servers[3].kind = ServerKind::kFalseticker;
    s.servers[3].error_s = 50e-3;
    s.limits = {45e-6, 250e-6, 0.15, 600};
    s.check = [](const Result& r) -> std::string {
      return r.selected[3] == 0 ? "" : "falseticker was selected";
    };
    v.push_back(s);
  }
  {
    Scenario s = lan("004", "all sources lost 24 h: holdover, LOCL stratum 10 takes over, hands back");
    s.cfg.local_reference = true;
    s.cfg.local_stratum = 10;
    s.cfg.local_wait_s = 600;
    const double from = 6 * kHour, to = 30 * kHour;
    for (ServerSpec& sv : s.servers) sv.outages.push_back({from, to});
    s.duration_s = 2 * kDay;
    s.long_duration_s = 4 * kDay;
    // Holdover and the way back are scored separately (the 24 h holdover error).
    s.unscored.push_back({from, to + 2 * kHour});
    s.limits = {45e-6, 250e-6, 0.08, 600};
    s.check = [from, to](const Result& r) -> std::string {
      if (r.max_unscored_offset_s > 50e-3) return fmt("holdover error %.1f ms over 50 ms", r.max_unscored_offset_s * 1e3, 0);
      bool took_over = false, handed_back = false;
      for (const ModeChange& m : r.modes) {
        if (m.mode == dsc::SyncMode::kLocalReference && m.stratum == 10 && m.at_s > from && m.at_s < to) took_over = true;
        if (took_over && m.mode == dsc::SyncMode::kSynchronized && m.stratum == 2 && m.at_s >= to) handed_back = true;
      }
      if (!took_over) return "local reference did not take over";
      if (!handed_back) return "local reference did not hand back";
      return "";
    };
    v.push_back(s);
  }
  {
    Scenario s = lan("005a", "initial offset 50 ms: slewed, no step");
    s.osc.initial_offset_s = 50e-3;
    s.duration_s = 12 * kHour;
    s.long_duration_s = 2 * kDay;
    s.limits = {55e-6, 250e-6, 0.1, 900};
    s.check = [](const Result& r) -> std::string { return r.steps == 0 ? "" : "stepped"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("005b", "initial offset 0.5 s: one step");
    s.osc.initial_offset_s = 0.5;
    s.duration_s = 12 * kHour;
    s.long_duration_s = 2 * kDay;
    s.limits = {45e-6, 250e-6, 0.08, 600};
    s.check = [](const Result& r) -> std::string { return r.steps == 1 ? "" : "not exactly one step"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("005c", "initial offset 5000 s without -g: panic, clock untouched");
    s.osc.initial_offset_s = 5000;
    s.duration_s = kHour;
    s.long_duration_s = kHour;
    s.check = [](const Result& r) -> std::string {
      if (!r.panicked) return "did not panic";
      return r.steps == 0 ? "" : "stepped";
    };
    v.push_back(s);
  }
  {
    Scenario s = lan("005d", "initial offset 5000 s with -g: one step");
    s.osc.initial_offset_s = -5000;
    s.cfg.allow_first_panic = true;
    s.duration_s = 12 * kHour;
    s.long_duration_s = 2 * kDay;
    s.limits = {45e-6, 250e-6, 0.08, 600};
    s.check = [](const Result& r) -> std::string { return r.steps == 1 ? "" : "not exactly one step"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("006", "frequency step of +10 ppm at 12 h");
    s.osc.steps.push_back({12 * kHour, 10});
    s.duration_s = kDay;
    s.limits = {350e-6, 7e-3, 1.2, 600};
    v.push_back(s);
  }
  {
    Scenario s = lan("007a", "positive leap second (leap file and LI votes), 2016-12-31");
    s.epoch = utc_date(2016, 12, 30);
    s.leap = LeapSpec{utc_date(2017, 1, 1), true};
    s.cfg.leap_table = dsc::LeapTable({{utc_date(2015, 7, 1), 36}, {utc_date(2017, 1, 1), 37}}, utc_date(2017, 12, 28));
    s.duration_s = 3 * kDay;
    s.long_duration_s = 3 * kDay;
    s.limits = {45e-6, 250e-6, 0.08, 600};
    s.check = [](const Result& r) -> std::string { return r.leaps_applied == 1 && r.steps == 0 ? "" : "leap not applied once without steps"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("007b", "negative leap second (LI votes only), 2030-06-30");
    s.epoch = utc_date(2030, 6, 28);
    s.leap = LeapSpec{utc_date(2030, 7, 1), false};
    s.duration_s = 3 * kDay;
    s.long_duration_s = 3 * kDay;
    s.limits = {45e-6, 250e-6, 0.08, 600};
    s.check = [](const Result& r) -> std::string { return r.leaps_applied == 1 && r.steps == 0 ? "" : "leap not applied once without steps"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("008", "asymmetric route change: +200 us outbound at 12 h (all servers)");
    for (ServerSpec& sv : s.servers) sv.path.route_changes.push_back({12 * kHour, 200e-6, 0});
    s.limits = {130e-6, 350e-6, 0.08, 600};
    s.check = [](const Result& r) -> std::string {
      // Every source restarts its minimum-delay window on the longer path.
      return r.counters.path_changes >= 4 ? "" : fmt("%.0f path changes detected (4 expected)", double(r.counters.path_changes), 0);
    };
    v.push_back(s);
  }
  // The latency-lab setting: a quiet LAN (50 us + exp(2 us)) at a fixed poll.
  auto quiet = [&](const char* name, const char* what, int poll_log2, double hours, double long_days, double rms_s,
                   double freq_ppm) {
    Scenario s = lan(name, what, 2e-6);
    for (ServerSpec& sv : s.servers) sv.path.base_delay_s = 50e-6;
    s.cfg.loop.min_poll_log2 = s.cfg.loop.max_poll_log2 = poll_log2;
    // The band no wider than the maximum allowed after convergence, so the
    // start-up transient is never scored as converged.
    s.converge_band_s = 4e-6;
    s.duration_s = hours * kHour;
    s.long_duration_s = long_days * kDay;
    s.limits = {rms_s, 4e-6, freq_ppm, 900};
    v.push_back(s);
  };
  quiet("009a", "quiet LAN (50 us + exp(2 us)), poll 4 (16 s)", 4, 12, 3, 0.8e-6, 0.03);
  quiet("009b", "quiet LAN (50 us + exp(2 us)), poll 0 (1 s)", 0, 6, 2, 0.5e-6, 0.3);
  {
    Scenario s = lan("010", "one of four servers steps its clock by +1 s at 6 h: not followed");
    s.servers[3].kind = ServerKind::kStepping;
    s.servers[3].step_at_s = 6 * kHour;
    s.servers[3].step_s = 1.0;
    s.limits = {55e-6, 350e-6, 0.1, 900};
    s.check = [](const Result& r) -> std::string { return r.steps == 0 ? "" : "stepped"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("011", "drifting falseticker: one of four servers runs 2 ppm fast (7 ms/h)");
    s.servers[3].kind = ServerKind::kDrifting;
    s.servers[3].drift_ppm = 2;
    s.limits = {45e-6, 250e-6, 0.1, 900};
    s.check = [](const Result& r) -> std::string { return r.steps == 0 ? "" : "stepped"; };
    v.push_back(s);
  }
  {
    Scenario s = lan("012", "kiss-o'-death: a fourth server answers RATE, a fifth DENY");
    s.servers[3].kind = ServerKind::kKod;
    s.servers.push_back(s.servers[3]);
    s.servers[4].kod_code = 0x44454E59;  // "DENY"
    s.limits = {55e-6, 250e-6, 0.1, 600};
    s.check = [](const Result& r) -> std::string {
      if (r.kods[3] == 0) return "no RATE kiss received";
      // RATE raises the poll at every kiss: far fewer requests than to a good server.
      if (r.requests[3] * 4 > r.requests[0]) return fmt("%.0f requests to the RATE server (good: %.0f)", double(r.requests[3]), double(r.requests[0]));
      if (r.final_poll_log2[3] <= 10) return "RATE did not raise the poll beyond maxpoll";
      if (!r.demobilized[4] || r.requests[4] != 1) return "DENY did not demobilize after one request";
      if (r.selected[3] != 0 || r.selected[4] != 0) return "a kissing server was selected";
      return "";
    };
    v.push_back(s);
  }
  {
    Scenario s = lan("013", "10 % packet loss in each direction on every path");
    for (ServerSpec& sv : s.servers) sv.path.loss = 0.1;
    s.limits = {55e-6, 250e-6, 0.1, 900};
    v.push_back(s);
  }
  // Interleaved mode on the quiet LAN: the servers write T3 about 20 us
  // (exponential) before the reply leaves, which basic mode takes as path
  // asymmetry and interleaved mode corrects with the precise transmit time of
  // the previous reply. Every interleaved sample measures the exchange one
  // poll earlier.
  auto lagged = [&](const char* name, const char* what, bool xleave, double band_s, double rms_s, double max_s) {
    Scenario s = lan(name, what, 2e-6);
    for (ServerSpec& sv : s.servers) {
      sv.path.base_delay_s = 50e-6;
      sv.tx_lag_mean_s = 20e-6;
    }
    s.xleave = xleave;
    s.cfg.loop.min_poll_log2 = s.cfg.loop.max_poll_log2 = 4;
    s.converge_band_s = band_s;
    s.duration_s = 12 * kHour;
    s.long_duration_s = 3 * kDay;
    s.limits = {rms_s, max_s, 0.05, 900};
    if (xleave) {
      s.check = [](const Result& r) -> std::string {
        for (std::size_t i = 0; i < r.requests.size(); ++i) {
          // All but the first exchange of every server (and the iburst's) are interleaved.
          if (r.interleaved[i] * 10 < r.requests[i] * 9) {
            return fmt("server %.0f: only %.0f interleaved samples", double(i), double(r.interleaved[i]));
          }
        }
        return "";
      };
    }
    v.push_back(s);
  };
  lagged("014", "quiet LAN, servers' T3 20 us early, interleaved, poll 4", true, 5e-6, 1e-6, 5e-6);
  lagged("014b", "as 014 in basic mode", false, 20e-6, 6e-6, 25e-6);
  // The daemon's loop runs its timers late (poll()'s millisecond resolution,
  // the scheduler): every timer up to 5 ms late must not change the results
  // materially. The scenario runs a second time with punctual timers and the
  // two are compared.
  auto late = [&](const char* name, const char* of, const char* what) {
    Scenario s;
    for (const Scenario& o : v) {
      if (o.id == of) s = o;
    }
    s.id = name;
    s.title = what;
    s.timer_late_max_s = 5e-3;
    s.run_punctual_twin = true;
    s.check = [](const Result& r) -> std::string {
      if (r.punctual_rms_offset_s < 0) return "the punctual twin did not run";
      // RMS figures within 10 % (or 50 ns) and 25 % of the punctual run's; the
      // maximum (an extreme, shifted by the other trajectory) is held to the
      // original scenario's limit.
      const double d_rms = std::fabs(r.rms_offset_s - r.punctual_rms_offset_s);
      if (d_rms > std::max(0.1 * r.punctual_rms_offset_s, 50e-9)) {
        return fmt("RMS offset %.3f us with late timers, %.3f us punctual", r.rms_offset_s * 1e6, r.punctual_rms_offset_s * 1e6);
      }
      if (r.rms_freq_ppm > 1.25 * r.punctual_rms_freq_ppm + 1e-3) {
        return fmt("RMS frequency error %.4f ppm with late timers, %.4f ppm punctual", r.rms_freq_ppm, r.punctual_rms_freq_ppm);
      }
      return "";
    };
    v.push_back(s);
  };
  late("015a", "009a", "as 009a (quiet LAN, poll 4) with every timer 0-5 ms late");
  late("015b", "014", "as 014 (interleaved) with every timer 0-5 ms late");
  late("015c", "001", "as 001 with every timer 0-5 ms late");
  return v;
}

}  // namespace linetime::sim
