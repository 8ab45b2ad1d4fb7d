#include "hwclock/nic_clock.h"

#include <cmath>
#include <cstdlib>

namespace linetime::hwclock {

void NicClockEstimator::sample(UtcTime before, NicTime nic, UtcTime after) {
  if (after < before) return;
  const std::int64_t bracket = (after - before).count();
  line_.sample({nic.ticks(), before.ticks() + bracket / 2, bracket / 2});
}

bool NicClockEstimator::end_round() {
  last_ = line_.end_round();
  if (last_ == LineEstimator::Round::kEmpty || last_ == LineEstimator::Round::kSkipped) return false;
  publish();
  return true;
}

void NicClockEstimator::on_nic_adjusted(NicTicks by) {
  line_.shift_x(by.count());
  if (line_.valid()) publish();
}

void NicClockEstimator::on_clock_step(Duration by) {
  line_.shift(by);
  if (line_.valid()) publish();
}

void NicClockEstimator::publish() {
  const LineEstimator::Fit& f = line_.fit();
  fit_.nic0 = f.x0;
  fit_.utc0_ns = f.y0_ns;
  fit_.ns_per_tick_q32 = slope_to_q32(f.slope);
  fit_.error_ns = f.error_ns;
}

NicClockCommand NicClockDiscipline::update(const NicTimebase& mapping, NicTime now) const {
  NicClockCommand cmd;
  if (!mapping.valid()) return cmd;
  const Duration offset = mapping.offset_at(now);
  if (std::llabs(offset.ns()) > cfg_.step_threshold.ns()) {
    cmd.kind = NicClockCommand::Kind::kWrite;
    cmd.write_value = NicTime(mapping.to_utc(now).ticks());
    return cmd;
  }
  // UTC gains (slope - 1) ns per NIC ns on the NIC clock: half an interval's
  // worth of that is added so the error is centred on zero until the next update.
  const double slope = static_cast<double>(mapping.ns_per_tick_q32) / 4294967296.0;
  const double ahead = (slope - 1.0) * static_cast<double>(cfg_.interval.ns()) * 0.5;
  const std::int64_t adjust = offset.ns() + static_cast<std::int64_t>(std::llround(ahead));
  if (std::llabs(adjust) < cfg_.deadband.ns()) return cmd;
  cmd.kind = NicClockCommand::Kind::kAdjust;
  cmd.adjust_ns = adjust;
  return cmd;
}

NicTicks NicClockDiscipline::adjusted_by(const NicClockCommand& cmd, NicTime now) {
  switch (cmd.kind) {
    case NicClockCommand::Kind::kWrite:
      return cmd.write_value - now;
    case NicClockCommand::Kind::kAdjust:
      return NicTicks(cmd.adjust_ns);
    case NicClockCommand::Kind::kNone:
      break;
  }
  return NicTicks(0);
}

Duration rx_trailer_correction(std::uint32_t frame_bytes, std::uint32_t link_mbps) {
  if (link_mbps == 0) return Duration(0);
  // bits / (Mb/s) = µs; scaled to ns with rounding.
  const std::uint64_t bits = (std::uint64_t{frame_bytes} + kEthernetFcsBytes) * 8;
  return Duration(static_cast<std::int64_t>((bits * 1000 + link_mbps / 2) / link_mbps));
}

}  // namespace linetime::hwclock
