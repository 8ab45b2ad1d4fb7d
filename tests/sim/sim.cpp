#include "tests/sim/sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <variant>
#include <random>

#include "control/association.h"
#include "dataplane/wire/ntp.h"

namespace linetime::sim {

namespace dsc = linetime::discipline;
using hwclock::Duration;
using hwclock::NtpTimestamp;
using hwclock::UtcTime;

namespace {

// Random numbers through our own transforms: std::*_distribution may differ
// between standard libraries, std::mt19937_64 may not.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  double uniform() { return (static_cast<double>(g_() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double exponential(double mean) { return -mean * std::log(uniform()); }
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2 * std::log(uniform()));
    const double a = 2 * M_PI * uniform();
    spare_ = r * std::sin(a);
    have_spare_ = true;
    return r * std::cos(a);
  }

 private:
  std::mt19937_64 g_;
  double spare_ = 0;
  bool have_spare_ = false;
};

std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A reply on its way back to the client.
struct InFlight {
  double arrive_s;
  std::size_t server;
  std::array<std::uint8_t, 48> reply;
  int leap_epoch;  // leaps (local or true) seen when the request was sent
};

// The client side of one server: the daemon's association and its source in
// the discipline.
struct Client {
  control::Association assoc;
  dsc::SourceId id = 0;
  double start_s = 0;  // true time of the first request
};

// What a simulated server remembers about its client for interleaved mode.
struct ServerMemory {
  NtpTimestamp last_rx_sent;
  NtpTimestamp last_tx_precise;
};

class Engine {
 public:
  Engine(const Scenario& sc, bool long_run)
      : sc_(sc),
        end_s_(long_run ? sc.long_duration_s : sc.duration_s),
        osc_rng_(stream_seed(sc.seed, 0)),
        poll_rng_(stream_seed(sc.seed, 1)),
        late_rng_(stream_seed(sc.seed, 2)),
        disc_(sc.cfg) {
    for (std::size_t i = 0; i < sc.servers.size(); ++i) {
      path_rng_.emplace_back(stream_seed(sc.seed, 100 + i));
      control::AssociationConfig ac;
      ac.remote = "198.18.0." + std::to_string(i + 1);
      ac.minpoll = sc.cfg.loop.min_poll_log2;
      ac.maxpoll = sc.cfg.loop.max_poll_log2;
      ac.iburst = sc.iburst;
      ac.xleave = sc.xleave;
      ac.precision_log2 = sc.cfg.precision_log2;
      dsc::SourceConfig cfg;
      cfg.reference_id = 0xC0A80001u + static_cast<std::uint32_t>(i);
      Client c{control::Association(ac, stream_seed(sc.seed, 200 + i)), disc_.add_source(cfg), 1 + poll_rng_.uniform() * 2};
      c.assoc.set_system_poll(disc_.poll_log2());
      clients_.push_back(std::move(c));
    }
    memory_.resize(sc.servers.size());
    timer_due_.assign(sc.servers.size() + 1, UtcTime{});
    timer_late_s_.assign(sc.servers.size() + 1, 0.0);
    omega_ = sc.osc.freq_error_ppm * 1e-6;
    local_s_ = utc_rel(0) - sc.osc.initial_offset_s;
    u_ = disc_.initial_frequency_ppm() * 1e-6;
    base_u_ = u_;
    if (sc.leap) leap_true_s_ = (sc.leap->at - sc.epoch).seconds();
    result_.id = sc.id;
    result_.selected.assign(sc.servers.size(), 0);
    result_.requests.assign(sc.servers.size(), 0);
    result_.kods.assign(sc.servers.size(), 0);
    result_.interleaved.assign(sc.servers.size(), 0);
    result_.demobilized.assign(sc.servers.size(), false);
    result_.final_poll_log2.assign(sc.servers.size(), 0);
    if (const char* p = std::getenv("SIM_TRACE")) {
      trace_ = std::fopen(p, "w");
      if (const char* e = std::getenv("SIM_TRACE_EVERY")) trace_every_ = std::max(1L, std::atol(e));
    }
  }
  ~Engine() {
    if (trace_ != nullptr) std::fclose(trace_);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void set_punctual_twin(const Result& r) {
    result_.punctual_rms_offset_s = r.rms_offset_s;
    result_.punctual_max_offset_s = r.max_offset_s;
    result_.punctual_rms_freq_ppm = r.rms_freq_ppm;
  }

  Result run() {
    // Oscillator updates and scoring happen at k + 0.5 s, off the whole seconds
    // at which leap seconds and scheduled events fall.
    double next_second = 0.5;
    mode_ = disc_.state().mode;
    result_.modes.push_back({0, mode_, disc_.state().stratum});
    offsets_.reserve(static_cast<std::size_t>(end_s_) + 1);
    while (t_ < end_s_) {
      // The earliest pending event.
      double next = next_second;
      int kind = 0;  // 0 second, 1 poll, 2 arrival, 3 discipline timer, 4 local leap
      std::size_t which = 0;
      for (std::size_t i = 0; i < clients_.size(); ++i) {
        const double due = next_poll_s(i);
        if (due < next) {
          next = due;
          kind = 1;
          which = i;
        }
      }
      for (std::size_t i = 0; i < flight_.size(); ++i) {
        if (flight_[i].arrive_s < next) {
          next = flight_[i].arrive_s;
          kind = 2;
          which = i;
        }
      }
      if (running_) {
        const double tt = true_time_of_local(late_local_s(0, disc_.next_timer()));
        if (tt < next) {
          next = tt;
          kind = 3;
        }
      }
      if (armed_) {
        const double target = armed_->kind == dsc::Leap::kInsert ? armed_at_rel_ : armed_at_rel_ - 1;
        const double tt = true_time_of_local(target);
        if (tt <= next) {  // the kernel acts at the instant, before anything else
          next = tt;
          kind = 4;
        }
      }
      advance_to(std::max(next, t_));
      switch (kind) {
        case 0:
          on_second();
          next_second += 1;
          break;
        case 1: poll(which); break;
        case 2: {
          const InFlight f = flight_[which];
          flight_.erase(flight_.begin() + static_cast<std::ptrdiff_t>(which));
          arrive(f);
          break;
        }
        case 3: apply(disc_.on_timer(now())); break;
        case 4: local_leap(); break;
      }
    }
    return finish();
  }

 private:
  // True UTC relative to the epoch, seconds (leap seconds included).
  double utc_rel(double t) const {
    if (!leap_true_s_) return t;
    if (sc_.leap->insert) return t >= *leap_true_s_ ? t - 1 : t;
    return t >= *leap_true_s_ - 1 ? t + 1 : t;
  }
  double utc_to_rel(UtcTime u) const { return static_cast<double>((u - sc_.epoch).ns()) * 1e-9; }
  UtcTime to_utc(double rel_s) const { return sc_.epoch + Duration::from_seconds(rel_s); }
  UtcTime now() const { return to_utc(local_s_); }
  double rate() const { return 1 + omega_ + u_; }
  double true_time_of_local(double local_target_s) const {
    if (local_target_s <= local_s_) return t_;
    return t_ + (local_target_s - local_s_) / rate();
  }
  void advance_to(double t) {
    local_s_ += (t - t_) * rate();
    t_ = t;
  }
  bool in(const std::vector<Outage>& w, double t) const {
    return std::any_of(w.begin(), w.end(), [t](const Outage& o) { return t >= o.from_s && t < o.to_s; });
  }

  double server_clock(const ServerSpec& s, double t) const {
    double e = 0;
    switch (s.kind) {
      case ServerKind::kFalseticker: e = s.error_s; break;
      case ServerKind::kDrifting: e = s.error_s + s.drift_ppm * 1e-6 * t; break;
      case ServerKind::kStepping: e = t >= s.step_at_s ? s.step_s : 0; break;
      default: break;
    }
    return utc_rel(t) + e;
  }

  double one_way(std::size_t i, bool forward, double t) {
    const Path& p = sc_.servers[i].path;
    Rng& r = path_rng_[i];
    double d = p.base_delay_s + (forward ? p.asymmetry_s : 0);
    for (const RouteChange& c : p.route_changes) {
      if (t >= c.at_s) d += forward ? c.forward_add_s : c.backward_add_s;
    }
    switch (p.jitter.kind) {
      case Jitter::Kind::kExponential: d += r.exponential(p.jitter.mean_s); break;
      case Jitter::Kind::kUniform: d += 2 * p.jitter.mean_s * r.uniform(); break;
      case Jitter::Kind::kNone: break;
    }
    if (p.spike_probability > 0 && r.uniform() < p.spike_probability) d += p.spike_s;
    return d;
  }

  // Local time at which the loop runs a timer due at `due`: a new deadline
  // draws a new lateness (deterministically, from its own stream).
  double late_local_s(std::size_t timer, UtcTime due) {
    if (sc_.timer_late_max_s <= 0) return utc_to_rel(due);
    if (due != timer_due_[timer]) {
      timer_due_[timer] = due;
      timer_late_s_[timer] = sc_.timer_late_max_s * late_rng_.uniform();
    }
    return utc_to_rel(due) + timer_late_s_[timer];
  }

  // True time at which client i sends next (infinity once demobilized).
  double next_poll_s(std::size_t i) {
    const Client& c = clients_[i];
    if (c.assoc.demobilized()) return std::numeric_limits<double>::infinity();
    if (c.assoc.counters().sent == 0) return std::max(c.start_s, t_);
    return true_time_of_local(late_local_s(i + 1, c.assoc.next_timer()));
  }

  void poll(std::size_t i) {
    Client& c = clients_[i];
    // The local clock read back from double seconds may fall a nanosecond short
    // of the timer it was computed from.
    UtcTime n = now();
    if (c.assoc.counters().sent > 0 && n < c.assoc.next_timer()) n = c.assoc.next_timer();
    const control::Actions acts = c.assoc.on_timer(n);
    for (const control::Action& act : acts) {
      if (const auto* send = std::get_if<control::Send>(&act)) transmit(i, *send);
    }
  }

  // The network and the server: the request travels, the server answers with
  // a real NTP packet, the answer travels back.
  void transmit(std::size_t i, const control::Send& send) {
    Client& c = clients_[i];
    const ServerSpec& s = sc_.servers[i];
    if (running_) disc_.on_poll_sent(c.id, now());
    ++polls_;
    poll_sum_s_ += std::ldexp(1.0, c.assoc.poll_log2());
    ++result_.requests[i];
    Rng& r = path_rng_[i];
    if (in(s.outages, t_)) return;
    if (s.path.loss > 0 && r.uniform() < s.path.loss) return;
    const double d1 = one_way(i, true, t_);
    const double at_server = t_ + d1;
    const double processing_s = 20e-6;
    const auto request = wire::parse_ntp(wire::Bytes(send.packet.data(), send.length));
    if (!request) return;
    const wire::NtpHeader& q = *request->header;

    InFlight f;
    f.server = i;
    f.reply = {};
    auto* h = wire::overlay<wire::NtpHeader>(wire::MutableBytes(f.reply));
    const NtpTimestamp t2 = NtpTimestamp::from_utc(to_utc(server_clock(s, at_server)));
    const NtpTimestamp t3 = NtpTimestamp::from_utc(to_utc(server_clock(s, at_server + processing_s)));
    // The reply leaves tx_lag_s after T3 was written into it; interleaved
    // mode delivers the time it really left.
    const double lag_s = s.tx_lag_mean_s > 0 ? r.exponential(s.tx_lag_mean_s) : 0;
    const double depart_s = at_server + processing_s + lag_s;
    unsigned leap = 0;
    if (sc_.leap) {
      const double u = utc_rel(at_server);
      const double at = utc_to_rel(sc_.leap->at);
      if (u >= at - 86400 && u < at) leap = sc_.leap->insert ? 1 : 2;
    }
    h->poll = q.poll;
    h->precision = -25;
    wire::store_short(h->root_dispersion, hwclock::NtpShort::from_duration(Duration::from_us(10)));
    wire::store_ts(h->receive_ts, t2);
    if (s.kind == ServerKind::kKod) {
      h->li_vn_mode = wire::ntp_li_vn_mode(3, q.version(), 4);
      h->stratum = 0;
      h->reference_id.set(s.kod_code);
      h->origin_ts = q.transmit_ts;
      wire::store_ts(h->transmit_ts, t3);
    } else {
      h->li_vn_mode = wire::ntp_li_vn_mode(leap, q.version(), 4);
      h->stratum = s.stratum;
      h->reference_id.set(0x47505300);  // "GPS"
      ServerMemory& m = memory_[i];
      const NtpTimestamp org = wire::load_ts(q.origin_ts);
      const bool interleaved = s.interleaved && !org.is_zero() && org == m.last_rx_sent &&
                               !(q.receive_ts == q.transmit_ts) && !m.last_tx_precise.is_zero();
      if (interleaved) {
        h->origin_ts = q.receive_ts;
        wire::store_ts(h->transmit_ts, m.last_tx_precise);
      } else {
        h->origin_ts = q.transmit_ts;
        wire::store_ts(h->transmit_ts, t3);
      }
      m.last_rx_sent = t2;
      m.last_tx_precise = NtpTimestamp::from_utc(to_utc(server_clock(s, depart_s)));
    }
    if (s.path.loss > 0 && r.uniform() < s.path.loss) return;
    f.arrive_s = depart_s + one_way(i, false, depart_s);
    f.leap_epoch = leaps_;
    flight_.push_back(f);
  }

  void arrive(const InFlight& f) {
    if (f.leap_epoch != leaps_) return;  // an exchange across a leap is discarded
    Client& c = clients_[f.server];
    const UtcTime t4 = now();
    const control::Actions acts = c.assoc.on_reply(wire::Bytes(f.reply), t4, t4);
    for (const control::Action& act : acts) {
      if (const auto* s = std::get_if<control::SampleReady>(&act)) {
        if (!running_) continue;
        const auto before = disc_.counters();
        apply(disc_.on_sample(c.id, s->header, s->sample, t4));
        if (debug_) {
          const auto& dc = disc_.counters();
          std::fprintf(stderr, "t=%.3f src=%u off=%.1fus delay=%.1fus status=%s upd=%d out=%d pop=%d x=%.2f sd=%.2f\n", t_, c.id,
                       s->sample.offset.seconds() * 1e6, s->sample.delay.seconds() * 1e6,
                       dsc::to_string(disc_.source_status(c.id)), int(dc.updates - before.updates),
                       int(dc.outliers - before.outliers), int(dc.popcorn - before.popcorn), disc_.state().offset_s * 1e6,
                       disc_.state().offset_sd_s * 1e6);
        }
      }
    }
  }

  void apply(const dsc::ClockCommand& c) {
    const double old_u = u_;
    switch (c.action) {
      case dsc::ClockAction::kNone: break;
      case dsc::ClockAction::kFrequency:
        u_ = c.frequency_ppm * 1e-6;
        base_u_ = c.base_frequency_ppm * 1e-6;
        break;
      case dsc::ClockAction::kStep:
        local_s_ += c.step.seconds();
        for (Client& cl : clients_) cl.assoc.on_clock_step(c.step);
        ++result_.steps;
        u_ = c.frequency_ppm * 1e-6;
        base_u_ = c.base_frequency_ppm * 1e-6;
        break;
      case dsc::ClockAction::kPanic:
        result_.panicked = true;
        running_ = false;
        break;
      case dsc::ClockAction::kExit:
        local_s_ += c.step.seconds() + c.slew.seconds();
        for (Client& cl : clients_) cl.assoc.on_clock_step(c.step + c.slew);
        if (c.step != Duration{}) ++result_.steps;
        result_.exited = true;
        running_ = false;
        break;
    }
    if (c.leap) {
      if (debug_) std::fprintf(stderr, "t=%.6f local=%.6f leap decision kind=%d arm=%d at=%.0f\n", t_, local_s_, int(c.leap->kind), int(c.leap->arm), utc_to_rel(c.leap->at)), (void)0;
      if (c.leap->arm && c.leap->kind != dsc::Leap::kNone) {
        armed_ = *c.leap;
        armed_at_rel_ = utc_to_rel(c.leap->at);
      } else {
        armed_.reset();
      }
    }
    if (u_ != old_u) {
      for (Client& cl : clients_) cl.assoc.on_frequency_change(now(), u_ - old_u);
    }
    for (Client& cl : clients_) cl.assoc.set_system_poll(disc_.poll_log2());
    const auto& st = disc_.state();
    if (st.mode != mode_ || st.stratum != stratum_) {
      mode_ = st.mode;
      stratum_ = st.stratum;
      result_.modes.push_back({t_, mode_, stratum_});
    }
  }

  void local_leap() {
    // The kernel's STA_INS repeats 23:59:59 (steps back at midnight); STA_DEL
    // skips it.
    local_s_ += armed_->kind == dsc::Leap::kInsert ? -1 : 1;
    armed_.reset();
    ++leaps_;
    ++result_.leaps_applied;
    disc_.on_leap_applied(now());
  }

  void on_second() {
    // The oscillator: random-walk wander, then any scheduled frequency step.
    omega_ += sc_.osc.wander_per_sqrt_s * osc_rng_.normal();
    for (const FreqStep& s : sc_.osc.steps) {
      if (t_ >= s.at_s && t_ < s.at_s + 1) omega_ += s.delta_ppm * 1e-6;
    }
    if (leap_true_s_ && t_ >= *leap_true_s_ - (sc_.leap->insert ? 0 : 1) && !true_leap_seen_) {
      true_leap_seen_ = true;
      ++leaps_;
    }
    const double off = utc_rel(t_) - local_s_;
    offsets_.push_back(off);
    if (trace_ != nullptr && static_cast<long>(t_) % trace_every_ == 0) {
      const auto& st = disc_.state();
      std::fprintf(trace_, "%.0f %.3f %.4f %d %.3f %.3f %.3g %s %d\n", t_, off * 1e6, (omega_ + base_u_) * 1e6, st.poll_log2,
                   st.offset_s * 1e6, st.offset_sd_s * 1e6, disc_.loop().wander_per_s(), dsc::to_string(st.mode), st.stratum);
    }
    freq_err_.push_back((omega_ + base_u_) * 1e6);
  }

  Result finish() {
    // Converged: the first second from which |offset| stays within the band
    // for 600 s; unscored windows count as in band.
    const std::size_t n = offsets_.size();
    std::size_t run_start = 0;
    std::size_t conv = n;
    for (std::size_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i) + 0.5;
      const bool ok = in(sc_.unscored, t) || std::fabs(offsets_[i]) <= sc_.converge_band_s;
      if (!ok) {
        run_start = i + 1;
      } else if (i + 1 - run_start >= 600) {  // 600 samples = 600 s
        conv = run_start;
        break;
      }
    }
    double sum2 = 0, fsum2 = 0, mx = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i) + 0.5;
      if (in(sc_.unscored, t)) {
        result_.max_unscored_offset_s = std::max(result_.max_unscored_offset_s, std::fabs(offsets_[i]));
        continue;
      }
      if (i < conv) continue;
      sum2 += offsets_[i] * offsets_[i];
      fsum2 += freq_err_[i] * freq_err_[i];
      mx = std::max(mx, std::fabs(offsets_[i]));
      ++k;
    }
    result_.simulated_s = end_s_;
    result_.converge_s = conv < n ? static_cast<double>(conv) + 0.5 : -1;
    if (k > 0) {
      result_.rms_offset_s = std::sqrt(sum2 / static_cast<double>(k));
      result_.rms_freq_ppm = std::sqrt(fsum2 / static_cast<double>(k));
      result_.max_offset_s = mx;
    }
    result_.final_offset_s = n ? offsets_.back() : 0;
    result_.mean_poll_s = polls_ ? poll_sum_s_ / static_cast<double>(polls_) : 0;
    result_.counters = disc_.counters();
    result_.samples = result_.counters.samples;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      const control::Association& a = clients_[i].assoc;
      result_.selected[i] = disc_.times_selected(clients_[i].id);
      result_.kods[i] = a.counters().kod;
      result_.interleaved[i] = a.counters().interleaved;
      result_.demobilized[i] = a.demobilized();
      result_.final_poll_log2[i] = a.poll_log2();
    }
    result_.steps = std::max<std::uint64_t>(result_.steps, result_.counters.steps);

    std::string why;
    const Limits& l = sc_.limits;
    auto fail = [&](const std::string& s) {
      if (!why.empty()) why += "; ";
      why += s;
    };
    const bool scored = !result_.panicked && !result_.exited;
    if (scored) {
      if (result_.converge_s < 0) fail("never converged");
      else if (result_.converge_s > l.converge_s) fail("converged too late");
      if (result_.rms_offset_s > l.rms_offset_s) fail("RMS offset over limit");
      if (result_.max_offset_s > l.max_offset_s) fail("max offset over limit");
      if (result_.rms_freq_ppm > l.rms_freq_ppm) fail("RMS frequency error over limit");
    }
    if (sc_.check) {
      const std::string extra = sc_.check(result_);
      if (!extra.empty()) fail(extra);
    }
    result_.pass = why.empty();
    result_.failure = why;
    return result_;
  }

  const Scenario& sc_;
  double end_s_;
  Rng osc_rng_;
  Rng poll_rng_;
  Rng late_rng_;
  std::vector<Rng> path_rng_;
  // Per timer (the discipline's, then each client's): the deadline last seen
  // and how late the loop will run it.
  std::vector<UtcTime> timer_due_;
  std::vector<double> timer_late_s_;
  dsc::Discipline disc_;
  std::vector<Client> clients_;
  std::vector<ServerMemory> memory_;
  std::vector<InFlight> flight_;
  double t_ = 0;
  double local_s_ = 0;
  double omega_ = 0;
  double u_ = 0;
  double base_u_ = 0;
  bool running_ = true;
  std::optional<double> leap_true_s_;
  bool true_leap_seen_ = false;
  std::optional<dsc::LeapDecision> armed_;
  double armed_at_rel_ = 0;
  int leaps_ = 0;
  std::uint64_t polls_ = 0;
  double poll_sum_s_ = 0;
  dsc::SyncMode mode_{};
  std::uint8_t stratum_ = 16;
  std::vector<double> offsets_;
  std::vector<double> freq_err_;
  Result result_;
  std::FILE* trace_ = nullptr;
  bool debug_ = std::getenv("SIM_DEBUG") != nullptr;
  long trace_every_ = 60;
};

}  // namespace

Result run(const Scenario& sc, bool long_run) {
  std::optional<Result> twin;
  if (sc.run_punctual_twin && sc.timer_late_max_s > 0) {
    Scenario punctual = sc;
    punctual.timer_late_max_s = 0;
    punctual.run_punctual_twin = false;
    punctual.check = nullptr;
    twin = Engine(punctual, long_run).run();
  }
  Engine e(sc, long_run);
  if (twin) e.set_punctual_twin(*twin);
  return e.run();
}

}  // namespace linetime::sim
