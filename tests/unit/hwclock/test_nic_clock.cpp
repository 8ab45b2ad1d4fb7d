#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "hwclock/nic_clock.h"

using namespace linetime::hwclock;

namespace {

// A NIC clock counting nanoseconds, `ppm` fast against UTC, read between two
// system clock reads that take 300-2000 ns (a PCIe register read), 15 % of
// them preempted for 50 us.
struct NicSim {
  double ppm = 80;
  std::int64_t nic_minus_utc = -37 * kNsPerSec;  // at utc_base
  std::int64_t utc_base = 1'800'000'000LL * kNsPerSec;
  std::int64_t adjusted = 0;  // everything written or adjusted into the NIC
  std::mt19937_64 rng{7};

  std::int64_t nic_at(std::int64_t utc) const {
    return utc + nic_minus_utc + adjusted +
           static_cast<std::int64_t>(std::llround(static_cast<double>(utc - utc_base) * ppm * 1e-6));
  }
  void round(NicClockEstimator& est, std::int64_t& utc) {
    std::uniform_int_distribution<int> width(300, 2000);
    std::bernoulli_distribution preempted(0.15);
    for (int i = 0; i < 6; ++i) {
      const std::int64_t before = utc;
      std::int64_t after = before + width(rng);
      if (preempted(rng)) after += 50'000;
      const std::int64_t read_at = before + static_cast<std::int64_t>((after - before) * std::uniform_real_distribution<double>(0, 1)(rng));
      est.sample(UtcTime(before), NicTime(nic_at(read_at)), UtcTime(after));
      utc = after + 500;
    }
    est.end_round();
  }
};

}  // namespace

TEST(NicTimebase, ConvertsBothWays) {
  NicTimebase m;
  m.nic0 = 1'000;
  m.utc0_ns = 5'000'000;
  m.ns_per_tick_q32 = std::uint64_t{1} << 32;  // 1 ns per tick
  EXPECT_EQ(m.to_utc(NicTime(3'000)).ticks(), 5'002'000);
  EXPECT_EQ(m.to_nic(UtcTime(5'002'000)).ticks(), 3'000);
  EXPECT_EQ(m.offset_at(NicTime(3'000)).ns(), 4'999'000);
}

TEST(NicClockEstimator, FitsAFreeRunningNicClock) {
  NicSim sim;
  NicClockEstimator est;
  std::int64_t utc = sim.utc_base;
  for (int r = 0; r < 40; ++r) {
    sim.round(est, utc);
    utc += kNsPerSec / 4;
  }
  const NicTimebase& m = est.mapping();
  std::int64_t worst = 0;
  for (std::int64_t ahead : {std::int64_t{0}, kNsPerSec / 4}) {
    const std::int64_t at = utc + ahead;
    const std::int64_t err = m.to_utc(NicTime(sim.nic_at(at))).ticks() - at;
    worst = std::max<std::int64_t>(worst, std::llabs(err));
  }
  EXPECT_LT(worst, 150);
  const double slope = static_cast<double>(m.ns_per_tick_q32) / 4294967296.0;
  EXPECT_NEAR((1 / slope - 1) * 1e6, 80, 0.2);
  EXPECT_LT(m.error_ns, 1000);
  EXPECT_EQ(est.line().steps_seen(), 0u);
  std::printf("NIC mapping, 80 ppm, 300-2000 ns brackets, 15%% preempted: worst error %lld ns, reported %lld ns\n",
              static_cast<long long>(worst), static_cast<long long>(m.error_ns));
}

TEST(NicClockDiscipline, WritesThenKeepsTheNicClockOnUtc) {
  NicSim sim;
  NicClockEstimator est;
  NicClockDiscipline::Config cfg;
  cfg.interval = Duration::from_s(1);
  const NicClockDiscipline disc(cfg);
  std::int64_t utc = sim.utc_base;
  int writes = 0, adjusts = 0;
  std::int64_t worst_late = 0;
  double sum = 0;
  int n = 0;
  for (int r = 0; r < 60; ++r) {
    sim.round(est, utc);
    const NicTime now(sim.nic_at(utc));
    const NicClockCommand cmd = disc.update(est.mapping(), now);
    if (cmd.kind == NicClockCommand::Kind::kWrite) ++writes;
    if (cmd.kind == NicClockCommand::Kind::kAdjust) ++adjusts;
    const NicTicks by = NicClockDiscipline::adjusted_by(cmd, now);
    sim.adjusted += by.count();
    est.on_nic_adjusted(by);
    // The NIC's error (NIC - UTC) over the next interval.
    if (r >= 10) {
      for (std::int64_t d : {std::int64_t{0}, kNsPerSec / 2, kNsPerSec - 1}) {
        const std::int64_t e = sim.nic_at(utc + d) - (utc + d);
        worst_late = std::max<std::int64_t>(worst_late, std::llabs(e));
        sum += static_cast<double>(e);
        ++n;
      }
    }
    utc += kNsPerSec;
  }
  EXPECT_EQ(writes, 1);
  EXPECT_GT(adjusts, 40);
  // 80 ppm over 1 s is 80 us, centred: within +-40 us plus the fit's error.
  EXPECT_LT(worst_late, 41'000);
  EXPECT_LT(std::fabs(sum / n), 2'000);
  EXPECT_EQ(est.line().steps_seen(), 0u);
  std::printf("NIC discipline, 80 ppm, 1 s updates: worst |NIC - UTC| %lld ns, mean %.0f ns\n",
              static_cast<long long>(worst_late), sum / n);
}

TEST(NicClock, RxTrailerCorrectionIsTheFrameTimeOnTheWire) {
  // An NTP request over IPv4: 14 + 20 + 8 + 48 = 90 bytes, 94 with the FCS.
  EXPECT_EQ(rx_trailer_correction(90, 1'000).ns(), 752);
  EXPECT_EQ(rx_trailer_correction(90, 10'000).ns(), 75);
  EXPECT_EQ(rx_trailer_correction(90, 25'000).ns(), 30);
  EXPECT_EQ(rx_trailer_correction(90, 100).ns(), 7'520);
  EXPECT_EQ(rx_trailer_correction(1514, 10'000).ns(), 1'214);
  EXPECT_EQ(rx_trailer_correction(90, 0).ns(), 0);  // speed unknown: no correction
  EXPECT_EQ(rx_trailer_time(UtcTime(1'000), 90, 1'000).ticks(), 1'752);
}
