#include "discipline/discipline.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace linetime::discipline {

namespace {
constexpr std::uint32_t kRefidLocl = 0x4C4F434C;  // "LOCL"
// Round trips remembered per source for the path's minimum delay. The minimum
// of n samples overestimates the true minimum by a gap that shrinks as n grows
// (as 1/sqrt(n) when both directions queue exponentially), and every sample's
// weight depends on that estimate: at poll 4 on 001's LAN, 64 samples instead
// of 16 take the RMS offset from 9 us to 6.5 us (an exact minimum gives 5.7).
constexpr std::size_t kDelayWindow = 64;
// The newest samples checked for a lengthened path (see path_lengthened()).
constexpr std::size_t kRecentDelays = 24;
constexpr Duration kHousekeeping = Duration::from_s(8);
// Below this the offset is not worth a slew (rounding of the slew's end time).
constexpr double kMinSlewS = 1e-10;
// A slew lasts at least this long. A daemon's timers fire up to a few
// milliseconds late (poll() has millisecond resolution, the scheduler adds
// more); a slew at full rate for a microsecond-sized offset lasts only
// milliseconds, so that lateness would overshoot by as much as the offset
// itself and every slew end would start a new slew back. Over at least
// 100 ms a few ms of lateness overshoot by a few percent, which the next slew
// removes; longer slews would still be running at the next sample of 1 s polling.
constexpr double kMinSlewDurationS = 0.1;
}  // namespace

const char* to_string(SourceStatus s) {
  switch (s) {
    case SourceStatus::kUnreachable: return "unreachable";
    case SourceStatus::kNoSample: return "no-sample";
    case SourceStatus::kNoSelect: return "noselect";
    case SourceStatus::kUnsync: return "unsynchronized";
    case SourceStatus::kStratum: return "stratum";
    case SourceStatus::kDistance: return "distance";
    case SourceStatus::kFalseticker: return "falseticker";
    case SourceStatus::kExcess: return "excess";
    case SourceStatus::kSurvivor: return "survivor";
    case SourceStatus::kSystemPeer: return "system-peer";
  }
  return "?";
}

const char* to_string(SyncMode m) {
  switch (m) {
    case SyncMode::kUnsynchronized: return "unsynchronized";
    case SyncMode::kSynchronized: return "synchronized";
    case SyncMode::kHoldover: return "holdover";
    case SyncMode::kLocalReference: return "local-reference";
  }
  return "?";
}

Duration SystemState::root_dispersion_at(UtcTime t) const {
  const double since_s = (t - reference_time).seconds();
  if (since_s <= 0) return root_dispersion;
  return root_dispersion + Duration::from_seconds(since_s * dispersion_rate);
}

Discipline::Discipline(DisciplineConfig cfg) : cfg_(std::move(cfg)), loop_(cfg_.loop) {
  if (cfg_.drift_ppm) {
    const double lim = cfg_.max_slew_ppm;
    applied_freq_ = std::clamp(*cfg_.drift_ppm, -lim, lim) * 1e-6;
    base_freq_ = applied_freq_;
  }
  state_.poll_log2 = cfg_.loop.min_poll_log2;
  state_.frequency_ppm = base_freq_ * 1e6;
}

SourceId Discipline::add_source(const SourceConfig& cfg) {
  Source s;
  s.cfg = cfg;
  if (cfg.noselect) s.status = SourceStatus::kNoSelect;
  sources_.push_back(std::move(s));
  return static_cast<SourceId>(sources_.size() - 1);
}

void Discipline::on_poll_sent(SourceId id, UtcTime now) {
  Source& s = sources_.at(id);
  s.reach = static_cast<std::uint8_t>(s.reach << 1);
  // RFC 5905 poll(): after three unanswered polls, age the filter with an
  // empty stage for every further one.
  if (++s.misses > 3) s.filter.add_missing(now);
}

double Discipline::root_distance(const Source& s, UtcTime now) const {
  const auto& e = s.filter.estimate();
  if (!e) return kMaxDispS;
  const double delay_s = std::max(cfg_.min_distance_s, s.header.root_delay.seconds() + e->delay_s);
  return delay_s / 2 + s.header.root_dispersion.seconds() + s.filter.dispersion_at(now) + e->jitter_s;
}

namespace {
// The four smallest of `v[from..]` and `extra` (kMaxDispS where fewer), ascending.
std::array<double, 4> lowest4(const std::vector<double>& v, std::size_t from, std::optional<double> extra) {
  std::array<double, 4> low;
  low.fill(kMaxDispS);
  auto insert = [&](double d) {
    if (d >= low[3]) return;
    low[3] = d;
    std::sort(low.begin(), low.end());
  };
  if (extra) insert(*extra);
  for (std::size_t i = from; i < v.size(); ++i) insert(v[i]);
  return low;
}
}  // namespace

bool Discipline::path_lengthened(const Source& s) const {
  // After a route change that lengthens the path every new sample sits above
  // the old minimum, which would make every sample look queued (and weigh
  // them all alike) until the window forgot it. Detected when even the
  // smallest of the newest kRecentDelays round trips exceeds the median of
  // the older ones: on an unchanged path each newest sample has an even chance
  // of lying below that median, so all of them above it happens by chance
  // once in 2^24 checks (the 16 million samples of a year at poll 1 s). A lengthening smaller than the median queueing is not
  // detected, and matters less: every excess is overstated by at most that.
  const std::size_t n = s.delays_s.size();
  if (n < 2 * kRecentDelays) return false;
  std::vector<double> older(s.delays_s.begin(), s.delays_s.end() - static_cast<std::ptrdiff_t>(kRecentDelays));
  const auto mid = older.begin() + static_cast<std::ptrdiff_t>(older.size() / 2);
  std::nth_element(older.begin(), mid, older.end());
  const double newest_min_s = *std::min_element(s.delays_s.end() - static_cast<std::ptrdiff_t>(kRecentDelays), s.delays_s.end());
  return newest_min_s > *mid;
}

double Discipline::measurement_var(const Source& s, const Sample& sample) const {
  // |offset error| <= (delay - path minimum) / 2, and uniform within that bound
  // when both directions queue alike (variance e^2 / 12). The path minimum is
  // only estimated (the smallest of the recent delays), and that estimate sits
  // above the true minimum by about the spread of the lowest delays: twice the
  // gap from the smallest to the fourth smallest is added to every excess
  // (the factor measured in tests/sim, where the true minimum is known). A
  // sample at the estimated minimum is thus never taken as exact.
  const std::size_t n = s.delays_s.size() + 1;
  const auto low = lowest4(s.delays_s, 0, sample.delay.seconds());
  const double spread_s = n >= 4 ? low[3] - low[0] : 0.0;
  const double excess_s = sample.delay.seconds() - low[0] + 2 * spread_s;
  const double floor_s = cfg_.measurement_floor_s + log2_seconds(s.header.precision_log2) +
                         log2_seconds(cfg_.precision_log2);
  return floor_s * floor_s + excess_s * excess_s / 12;
}

Discipline::Selection Discipline::select(UtcTime now) {
  std::vector<Candidate> cands;
  std::vector<SourceId> ids;
  for (SourceId id = 0; id < sources_.size(); ++id) {
    Source& s = sources_[id];
    const auto& e = s.filter.estimate();
    if (s.cfg.noselect) {
      s.status = SourceStatus::kNoSelect;
    } else if (s.reach == 0) {
      s.status = SourceStatus::kUnreachable;
    } else if (!e || !s.have_header) {
      s.status = SourceStatus::kNoSample;
    } else if (s.header.leap == Leap::kUnsync || s.header.stratum == 0 || s.header.stratum >= kMaxStratum) {
      s.status = SourceStatus::kUnsync;
    } else if (s.header.stratum < cfg_.stratum_floor || s.header.stratum > cfg_.stratum_ceiling) {
      s.status = SourceStatus::kStratum;
    } else {
      const double lambda_s = root_distance(s, now);
      if (lambda_s > cfg_.max_distance_s) {
        s.status = SourceStatus::kDistance;
      } else {
        s.status = SourceStatus::kFalseticker;  // until the intersection says otherwise
        cands.push_back(Candidate{id, e->offset_s, lambda_s, e->jitter_s, s.header.stratum, s.cfg.prefer});
        ids.push_back(id);
      }
    }
  }
  Selection sel;
  if (cands.empty()) return sel;
  const auto isect = intersect(cands);
  if (!isect || static_cast<int>(isect->truechimers.size()) < cfg_.min_sane) return sel;
  for (std::size_t i : isect->truechimers) sources_[ids[i]].status = SourceStatus::kExcess;
  const std::vector<std::size_t> ordered = cluster(cands, isect->truechimers, cfg_.min_clock);
  sel.combined = combine(cands, ordered);
  for (std::size_t k = 0; k < ordered.size(); ++k) {
    const SourceId id = ids[ordered[k]];
    Source& s = sources_[id];
    s.status = k == 0 ? SourceStatus::kSystemPeer : SourceStatus::kSurvivor;
    sel.ordered.push_back(id);
    ++sel.votes.total;
    if (s.header.leap == Leap::kInsert) ++sel.votes.insert;
    if (s.header.leap == Leap::kDelete) ++sel.votes.remove;
  }
  return sel;
}

void Discipline::advance(UtcTime now) {
  if (!first_time_) first_time_ = now;
  if (have_time_ && now <= last_time_) return;
  loop_.predict(now, applied_freq_);
  last_time_ = now;
  have_time_ = true;
}

void Discipline::set_frequency(UtcTime now, double freq) {
  const double dfreq = freq - applied_freq_;
  if (dfreq == 0) return;
  for (Source& s : sources_) s.filter.slew_samples(now, dfreq, 0);
  applied_freq_ = freq;
}

void Discipline::shift_times(Duration d) {
  last_time_ += d;
  last_update_ += d;
  next_housekeeping_ += d;
  state_.reference_time += d;
  if (first_time_) *first_time_ += d;
  if (slew_end_) *slew_end_ += d;
  if (stepout_since_) *stepout_since_ += d;
}

void Discipline::apply_step(UtcTime now, double step_s) {
  for (Source& s : sources_) s.filter.slew_samples(now, 0, step_s);
  loop_.stepped(step_s);
  shift_times(Duration::from_seconds(step_s));
  slew_end_.reset();
  ++counters_.steps;
}

ClockCommand Discipline::steer(UtcTime now, ClockCommand cmd) {
  const double max = cfg_.max_slew_ppm * 1e-6;
  base_freq_ = std::clamp(loop_.freq(), -max, max);
  const double x_s = loop_.offset_s();
  double freq = base_freq_;
  slew_end_.reset();
  const bool awaiting_step = cfg_.step_threshold_s > 0 && std::fabs(x_s) > cfg_.step_threshold_s;
  const double avail = max - std::fabs(base_freq_);
  if (!awaiting_step && avail > 1e-9 && std::fabs(x_s) > kMinSlewS) {
    // Remove the estimated offset as fast as the slew bound allows (but over at
    // least kMinSlewDurationS): the offset estimate is the best there is, so
    // every second spent on it is error kept.
    const double duration_s = std::max(std::fabs(x_s) / avail, kMinSlewDurationS);
    freq = base_freq_ + x_s / duration_s;
    slew_end_ = now + Duration::from_seconds(duration_s);
  }
  set_frequency(now, freq);
  if (cmd.action == ClockAction::kNone) cmd.action = ClockAction::kFrequency;
  cmd.frequency_ppm = applied_freq_ * 1e6;
  cmd.base_frequency_ppm = base_freq_ * 1e6;
  return cmd;
}

ClockCommand Discipline::start(UtcTime now, const Selection& sel) {
  ClockCommand cmd;
  const double theta_s = sel.combined.offset_s;
  if (cfg_.panic_threshold_s > 0 && std::fabs(theta_s) > cfg_.panic_threshold_s && !cfg_.allow_first_panic) {
    cmd.action = ClockAction::kPanic;
    cmd.offset = Duration::from_seconds(theta_s);
    exited_ = true;
    return cmd;
  }
  if (cfg_.one_shot) {
    cmd.action = ClockAction::kExit;
    if (cfg_.step_threshold_s > 0 && std::fabs(theta_s) > cfg_.step_threshold_s) {
      cmd.step = Duration::from_seconds(theta_s);
    } else {
      cmd.slew = Duration::from_seconds(theta_s);
    }
    exited_ = true;
    return cmd;
  }
  // Start the loop filter from the survivors' stored samples, oldest first, so
  // the first burst already yields a frequency estimate.
  std::vector<std::pair<SourceId, Sample>> samples;
  for (SourceId id : sel.ordered) {
    for (const Sample& s : sources_[id].filter.samples()) samples.emplace_back(id, s);
  }
  std::sort(samples.begin(), samples.end(),
            [](const auto& a, const auto& b) { return a.second.time < b.second.time; });
  const double max = cfg_.max_slew_ppm * 1e-6;
  const double freq_sd = cfg_.drift_ppm ? cfg_.drift_sd_ppm * 1e-6 : max;
  bool first = true;
  for (const auto& [id, s] : samples) {
    const double r = measurement_var(sources_[id], s);
    if (first) {
      loop_.start(s.time, s.offset.seconds(), r + 1e-12, applied_freq_, freq_sd * freq_sd);
      first = false;
      continue;
    }
    loop_.predict(s.time, applied_freq_);
    loop_.measure(s.offset.seconds(), r);
  }
  loop_.predict(now, applied_freq_);
  started_ = true;
  last_update_ = now;
  state_.mode = SyncMode::kSynchronized;
  if (cfg_.step_threshold_s > 0 && std::fabs(theta_s) > cfg_.step_threshold_s) {
    const double step_s = loop_.offset_s();
    apply_step(now, step_s);
    cmd.action = ClockAction::kStep;
    cmd.step = Duration::from_seconds(step_s);
  }
  return steer(now + cmd.step, cmd);
}

void Discipline::publish(UtcTime now, const Selection& sel) {
  const Source& peer = sources_[sel.ordered.front()];
  const PeerEstimate& e = *peer.filter.estimate();
  state_.mode = SyncMode::kSynchronized;
  state_.stratum = static_cast<std::uint8_t>(std::min<int>(kMaxStratum - 1, peer.header.stratum + 1));
  state_.reference_id = peer.cfg.reference_id;
  state_.reference_time = now;
  state_.root_delay = peer.header.root_delay + Duration::from_seconds(e.delay_s);
  state_.root_dispersion = peer.header.root_dispersion +
                           Duration::from_seconds(peer.filter.dispersion_at(now) + sel.combined.system_jitter_s +
                                                  std::sqrt(loop_.offset_var_s2()));
  state_.jitter_s = sel.combined.system_jitter_s;
  state_.system_peer = sel.ordered.front();
  state_.survivors = static_cast<int>(sel.ordered.size());
  for (SourceId id : sel.ordered) ++sources_[id].selected;
}

void Discipline::housekeeping(UtcTime now, const Selection& sel, ClockCommand& cmd) {
  const bool usable = started_ && static_cast<int>(sel.ordered.size()) >= cfg_.min_sane;
  if (usable) {
    last_update_ = now;
    last_votes_ = sel.votes;
    const double theta_s = sel.combined.offset_s;
    if (cfg_.step_threshold_s > 0 && std::fabs(theta_s) > cfg_.step_threshold_s) {
      if (!stepout_since_) {
        stepout_since_ = now;
      } else if ((now - *stepout_since_).seconds() >= cfg_.stepout_s) {
        stepout_since_.reset();
        if (cfg_.panic_threshold_s > 0 && std::fabs(theta_s) > cfg_.panic_threshold_s) {
          cmd.action = ClockAction::kPanic;
          cmd.offset = Duration::from_seconds(theta_s);
          exited_ = true;
          return;
        }
        apply_step(now, theta_s);
        loop_.reset_offset(0, sel.combined.system_jitter_s * sel.combined.system_jitter_s);
        cmd.action = ClockAction::kStep;
        cmd.step = Duration::from_seconds(theta_s);
        cmd = steer(now + cmd.step, cmd);
        now += cmd.step;
      }
    } else if (stepout_since_) {
      stepout_since_.reset();
      ++counters_.stepouts_cancelled;
    }
  } else if (started_) {
    const double held_s = (now - last_update_).seconds();
    if (cfg_.local_reference && held_s >= cfg_.local_wait_s) {
      state_.mode = SyncMode::kLocalReference;
    } else if (state_.mode != SyncMode::kLocalReference) {
      state_.mode = SyncMode::kHoldover;
    }
    state_.system_peer.reset();
    state_.survivors = 0;
  } else if (cfg_.local_reference && first_time_ && (now - *first_time_).seconds() >= cfg_.local_wait_s) {
    state_.mode = SyncMode::kLocalReference;
  }
  if (state_.mode == SyncMode::kLocalReference) {
    // As ntpd's LOCAL driver: synchronized to our own clock at the fudged stratum.
    state_.stratum = cfg_.local_stratum;
    state_.reference_id = kRefidLocl;
    state_.reference_time = now;
    state_.root_delay = Duration{};
    state_.root_dispersion = Duration::from_seconds(log2_seconds(cfg_.precision_log2));
  }
  // Leap seconds.
  LeapDecision d = decide_leap(now, cfg_.leap_table ? &*cfg_.leap_table : nullptr, usable ? sel.votes : last_votes_);
  // During the repeated second after an insertion the clock reads the old day
  // again: the leap already done must not be armed a second time.
  if (leap_done_ && d.kind != Leap::kNone && d.at == *leap_done_) d = LeapDecision{};
  // The driver executes an armed leap when its clock reaches the instant; until
  // it reports that (on_leap_applied) the armed decision stands.
  if (leap_.arm && !(leap_done_ && *leap_done_ == leap_.at) && now >= leap_.at && now < leap_.at + Duration::from_s(2)) {
    d = leap_;
  }
  if (!(d == leap_)) {
    leap_ = d;
    cmd.leap = d;
  }
  state_.leap_decision = leap_;
  if (state_.mode == SyncMode::kUnsynchronized) {
    state_.leap = Leap::kUnsync;
    state_.stratum = kMaxStratum;
  } else {
    state_.leap = leap_.announce ? leap_.kind : Leap::kNone;
  }
  if (started_) {
    state_.offset_s = loop_.offset_s();
    state_.offset_sd_s = std::sqrt(loop_.offset_var_s2());
    state_.frequency_ppm = base_freq_ * 1e6;
    state_.wander_ppm_per_sqrt_s = std::sqrt(loop_.wander_per_s()) * 1e6;
    state_.poll_log2 = loop_.poll_log2();
  }
}

ClockCommand Discipline::on_sample(SourceId id, const SourceHeader& header, const Sample& sample, UtcTime now) {
  ClockCommand cmd;
  ++counters_.samples;
  advance(now);
  Source& src = sources_.at(id);
  src.header = header;
  src.have_header = true;
  src.reach |= 1;
  src.misses = 0;
  const double precision_s = log2_seconds(header.precision_log2) + log2_seconds(cfg_.precision_log2);
  const FilterVerdict verdict =
      src.filter.add(sample, now, std::ldexp(1.0, state_.poll_log2), precision_s);
  if (verdict == FilterVerdict::kPopcorn) ++counters_.popcorn;
  src.delays_s.push_back(sample.delay.seconds());
  if (src.delays_s.size() > kDelayWindow) src.delays_s.erase(src.delays_s.begin());
  if (path_lengthened(src)) {
    src.delays_s.erase(src.delays_s.begin(), src.delays_s.end() - static_cast<std::ptrdiff_t>(kRecentDelays));
    ++counters_.path_changes;
  }
  // The window without this sample: measurement_var() adds it.
  src.delays_s.pop_back();
  const double r_s2 = measurement_var(src, sample);
  src.delays_s.push_back(sample.delay.seconds());
  if (exited_) return cmd;

  const Selection sel = select(now);
  const bool usable = static_cast<int>(sel.ordered.size()) >= cfg_.min_sane;
  if (!started_) {
    // Start only once every source that answers has filled its filter (or the
    // startup time is up): a lone early source must not be taken on trust
    // before the others can outvote it.
    bool ready = usable;
    const bool waited = first_time_ && (now - *first_time_).seconds() >= cfg_.startup_timeout_s;
    for (const Source& s : sources_) {
      if (s.reach != 0 && !s.cfg.noselect && s.filter.valid_stages() < cfg_.startup_samples && !waited) ready = false;
    }
    for (SourceId s : sel.ordered) ready = ready && sources_[s].filter.valid_stages() >= cfg_.startup_samples;
    if (!ready) {
      housekeeping(now, sel, cmd);
      return cmd;
    }
    cmd = start(now, sel);
    if (exited_) return cmd;
    now += cmd.step;
    publish(now, sel);
    housekeeping(now, sel, cmd);
    return cmd;
  }
  // Every truechimer feeds the loop filter, not only the clustering survivors:
  // the loop filter weighs each sample by its own error bound, which is a finer
  // judgement than clustering's pruning by the filter jitter. Popcorn spikes of
  // the filter's output do not matter here either: the innovation gate judges
  // the raw sample.
  const bool truechimer = src.status == SourceStatus::kSystemPeer || src.status == SourceStatus::kSurvivor ||
                          src.status == SourceStatus::kExcess;
  if (usable && truechimer) {
    // The sample measured the offset at its midpoint, one poll ago for an
    // interleaved one; the loop filter carries it to `now`.
    switch (loop_.measure(sample.offset.seconds(), r_s2, (now - sample.time).seconds())) {
      case MeasureResult::kAccepted: ++counters_.updates; break;
      case MeasureResult::kOutlier: ++counters_.outliers; break;
      case MeasureResult::kAcceptedAfterChange:
        ++counters_.updates;
        ++counters_.clock_changes;
        break;
    }
    cmd = steer(now, cmd);
    publish(now, sel);
  }
  housekeeping(now, sel, cmd);
  return cmd;
}

ClockCommand Discipline::on_timer(UtcTime now) {
  ClockCommand cmd;
  advance(now);
  if (exited_) {
    next_housekeeping_ = now + kHousekeeping;
    return cmd;
  }
  // A driver that wakes a hair early (rounding to its timer's resolution) still ends the slew.
  if (slew_end_ && now + Duration::from_us(1) >= *slew_end_ && started_) cmd = steer(now, cmd);
  if (now >= next_housekeeping_) {
    next_housekeeping_ = now + kHousekeeping;
    const Selection sel = select(now);
    housekeeping(now, sel, cmd);
  }
  return cmd;
}

UtcTime Discipline::next_timer() const {
  if (slew_end_ && *slew_end_ < next_housekeeping_) return *slew_end_;
  return next_housekeeping_;
}

void Discipline::on_leap_applied(UtcTime now) {
  // The clock's reading jumped by one second and so did UTC: offsets are
  // unchanged, only our record of local times moves.
  const Duration d = leap_.kind == Leap::kInsert ? Duration::from_s(-1) : Duration::from_s(1);
  loop_.shift_time(d);
  shift_times(d);
  leap_done_ = leap_.at;
  leap_ = LeapDecision{};
  state_.leap_decision = leap_;
  if (state_.leap == Leap::kInsert || state_.leap == Leap::kDelete) state_.leap = Leap::kNone;
  advance(now);
}

}  // namespace linetime::discipline
