// The discipline end to end on a tiny noiseless world: a local clock with an
// offset and a frequency error, servers that are perfect (or not), commands
// applied at once. Scenarios with noise live in tests/sim.
#include <gtest/gtest.h>

#include <cmath>

#include "discipline/discipline.h"

namespace linetime::discipline {
namespace {

constexpr std::int64_t kEpochS = 1'709'251'200;  // 2024-03-01

class World {
 public:
  World(DisciplineConfig cfg, int servers, double offset_s, double freq_ppm = 0)
      : d_(std::move(cfg)), local_s_(-offset_s), freq_(freq_ppm * 1e-6) {
    for (int i = 0; i < servers; ++i) ids_.push_back(d_.add_source(SourceConfig{false, false, 0x0A000001u + i}));
    error_s_.assign(servers, 0.0);
    up_.assign(servers, true);
    u_ = d_.initial_frequency_ppm() * 1e-6;
  }

  // Runs `seconds` of true time; every server is polled every `poll_s`.
  void run(double seconds, double poll_s = 16) {
    const double end = t_ + seconds;
    while (t_ < end) {
      const double next_poll = std::floor(t_ / poll_s + 1) * poll_s;
      const double next_timer = t_ + std::max(0.0, (utc_rel(d_.next_timer()) - local_s_));
      const double next = std::min({next_poll, next_timer, end});
      advance(next);
      if (next == next_timer && next < next_poll) apply(d_.on_timer(now()));
      if (next == next_poll) {
        for (std::size_t i = 0; i < ids_.size() && !stopped_; ++i) poll(i);
      }
    }
  }

  double offset_s() const { return t_ - local_s_; }  // true - local
  Discipline& d() { return d_; }
  int steps = 0;
  bool panicked = false;
  bool exited = false;
  std::vector<double> error_s_;
  std::vector<bool> up_;

 private:
  UtcTime now() const { return UtcTime(kEpochS * hwclock::kNsPerSec) + Duration::from_seconds(local_s_); }
  double utc_rel(UtcTime u) const { return (u - UtcTime(kEpochS * hwclock::kNsPerSec)).seconds(); }
  void advance(double t) {
    local_s_ += (t - t_) * (1 + freq_ + u_);
    t_ = t;
  }
  void poll(std::size_t i) {
    d_.on_poll_sent(ids_[i], now());
    if (!up_[i]) return;
    const UtcTime t1 = now();
    const double srv = t_ + 100e-6 + error_s_[i];
    const UtcTime base(kEpochS * hwclock::kNsPerSec);
    const UtcTime t2 = base + Duration::from_seconds(srv);
    const UtcTime t3 = base + Duration::from_seconds(srv + 10e-6);
    advance(t_ + 210e-6);
    const UtcTime t4 = now();
    SourceHeader h;
    h.stratum = 1;
    h.precision_log2 = -24;
    h.root_dispersion = Duration::from_us(10);
    apply(d_.on_sample(ids_[i], h, measure(t1, t2, t3, t4, Duration::from_ns(100)), t4));
  }
  void apply(const ClockCommand& c) {
    switch (c.action) {
      case ClockAction::kNone: break;
      case ClockAction::kFrequency: u_ = c.frequency_ppm * 1e-6; break;
      case ClockAction::kStep:
        local_s_ += c.step.seconds();
        u_ = c.frequency_ppm * 1e-6;
        ++steps;
        break;
      case ClockAction::kPanic:
        panicked = true;
        stopped_ = true;
        break;
      case ClockAction::kExit:
        local_s_ += c.step.seconds() + c.slew.seconds();
        if (c.step != Duration{}) ++steps;
        exited = true;
        stopped_ = true;
        break;
    }
  }

  Discipline d_;
  std::vector<SourceId> ids_;
  double t_ = 0;
  double local_s_;
  double freq_;
  double u_ = 0;
  bool stopped_ = false;
};

DisciplineConfig quick() {
  DisciplineConfig c;
  c.loop.min_poll_log2 = 4;
  c.loop.max_poll_log2 = 4;
  c.precision_log2 = -24;
  return c;
}

TEST(Discipline, SlewsASmallOffsetAndLearnsTheFrequency) {
  World w(quick(), 3, 50e-3, 80);
  w.run(3600);
  EXPECT_EQ(w.steps, 0);
  EXPECT_LT(std::fabs(w.offset_s()), 2e-6);
  EXPECT_NEAR(w.d().state().frequency_ppm, -80, 0.05);
  EXPECT_EQ(w.d().state().mode, SyncMode::kSynchronized);
  EXPECT_EQ(w.d().state().stratum, 2);
  EXPECT_EQ(w.d().state().leap, Leap::kNone);
  EXPECT_TRUE(w.d().state().system_peer.has_value());
}

TEST(Discipline, StepsBeyondTheStepThreshold) {
  World w(quick(), 3, 0.5);
  w.run(600);
  EXPECT_EQ(w.steps, 1);
  EXPECT_LT(std::fabs(w.offset_s()), 2e-6);
}

TEST(Discipline, NeverStepsWhenStepIsDisabled) {
  DisciplineConfig c = quick();
  c.step_threshold_s = 0;
  World w(c, 3, 0.2);
  w.run(3600);
  EXPECT_EQ(w.steps, 0);
  EXPECT_LT(std::fabs(w.offset_s()), 2e-6);  // 0.2 s at ~500 ppm takes 400 s
}

TEST(Discipline, PanicsBeyondThePanicThresholdUnlessAllowed) {
  World w(quick(), 3, 5000);
  w.run(600);
  EXPECT_TRUE(w.panicked);
  EXPECT_EQ(w.steps, 0);
  EXPECT_NEAR(w.offset_s(), 5000, 1e-3);

  DisciplineConfig g = quick();
  g.allow_first_panic = true;
  World w2(g, 3, -5000);
  w2.run(600);
  EXPECT_FALSE(w2.panicked);
  EXPECT_EQ(w2.steps, 1);
  EXPECT_LT(std::fabs(w2.offset_s()), 2e-6);
}

TEST(Discipline, StepsOnlyAfterStepoutWhenTheOffsetPersists) {
  World w(quick(), 3, 0);
  w.run(1800);
  ASSERT_EQ(w.steps, 0);
  // Every server jumps 0.3 s ahead (as if our clock had been set back).
  for (double& e : w.error_s_) e = 0.3;
  w.run(200);
  EXPECT_EQ(w.steps, 0) << "stepped before stepout";
  w.run(400);
  EXPECT_EQ(w.steps, 1);
  EXPECT_NEAR(w.offset_s(), -0.3, 1e-4);  // now agrees with the servers
}

TEST(Discipline, OneShotStepsOrSlewsThenExits) {
  DisciplineConfig c = quick();
  c.one_shot = true;
  World w(c, 3, 2.0);
  w.run(300);
  EXPECT_TRUE(w.exited);
  EXPECT_EQ(w.steps, 1);
  EXPECT_LT(std::fabs(w.offset_s()), 1e-4);
  World w2(c, 3, 0.01);
  w2.run(300);
  EXPECT_TRUE(w2.exited);
  EXPECT_EQ(w2.steps, 0);
}

TEST(Discipline, DriftFileSetsTheInitialFrequency) {
  DisciplineConfig c = quick();
  c.drift_ppm = -42.5;
  Discipline d(c);
  EXPECT_DOUBLE_EQ(d.initial_frequency_ppm(), -42.5);
}

TEST(Discipline, FalsetickerIsNeverSelected) {
  World w(quick(), 4, 0, 30);
  w.error_s_[2] = 0.05;
  w.run(7200);
  EXPECT_EQ(w.d().times_selected(2), 0u);
  EXPECT_EQ(w.d().source_status(2), SourceStatus::kFalseticker);
  EXPECT_GT(w.d().times_selected(0), 0u);
  EXPECT_LT(std::fabs(w.offset_s()), 2e-6);
}

TEST(Discipline, HoldoverKeepsFrequencyThenLocalReferenceTakesOverAndHandsBack) {
  DisciplineConfig c = quick();
  c.local_reference = true;
  c.local_stratum = 10;
  c.local_wait_s = 600;
  World w(c, 3, 0, 25);
  w.run(3600);
  const double freq = w.d().state().frequency_ppm;
  const UtcTime ref = w.d().state().reference_time;
  const Duration disp0 = w.d().state().root_dispersion;
  for (std::size_t i = 0; i < w.up_.size(); ++i) w.up_[i] = false;
  w.run(300);  // eight polls unanswered: unreachable, holdover
  EXPECT_EQ(w.d().state().mode, SyncMode::kHoldover);
  EXPECT_EQ(w.d().state().stratum, 2);
  EXPECT_DOUBLE_EQ(w.d().state().frequency_ppm, freq);
  // Root dispersion published at the reference time grows at PHI from there.
  const UtcTime later = ref + Duration::from_s(1000);
  EXPECT_NEAR((w.d().state().root_dispersion_at(later) - disp0).seconds(), 15e-6 * 1000, 1e-7);
  w.run(900);
  EXPECT_EQ(w.d().state().mode, SyncMode::kLocalReference);
  EXPECT_EQ(w.d().state().stratum, 10);
  EXPECT_EQ(w.d().state().reference_id, 0x4C4F434Cu);
  EXPECT_EQ(w.d().state().leap, Leap::kNone);
  // The free-running clock kept the learned frequency: tiny holdover error.
  EXPECT_LT(std::fabs(w.offset_s()), 5e-6);
  for (std::size_t i = 0; i < w.up_.size(); ++i) w.up_[i] = true;
  w.run(600);
  EXPECT_EQ(w.d().state().mode, SyncMode::kSynchronized);
  EXPECT_EQ(w.d().state().stratum, 2);
}

TEST(Discipline, UnsynchronizedUntilTheFirstUpdate) {
  Discipline d(quick());
  EXPECT_EQ(d.state().mode, SyncMode::kUnsynchronized);
  EXPECT_EQ(d.state().stratum, kMaxStratum);
  EXPECT_EQ(d.state().leap, Leap::kUnsync);
}

}  // namespace
}  // namespace linetime::discipline
