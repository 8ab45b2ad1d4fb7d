// NIC clock -> UTC mapping for hardware timestamps, the NIC clock's own
// discipline, and the RX preamble-to-trailer correction.
//
// A NIC stamps frames with its own clock, which runs free (or as another
// program set it) and is not UTC. The dataplane reads it between two reads of
// the system clock — (CLOCK_REALTIME before, rte_eth_read_clock or
// rte_eth_timesync_read_time, CLOCK_REALTIME after) — and NicClockEstimator
// fits the line NIC ticks -> UTC through those samples with the TSC
// timebase's estimator (hwclock/timebase.h): tightest sample of each round,
// preempted rounds skipped, steps restart the fit, slews bend it.
//
// Optionally the NIC clock is itself steered to UTC, as phc2sys does for a
// PHC, so its timestamps need no mapping: NicClockDiscipline turns the
// mapping's offset into rte_eth_timesync_write_time (far off) or
// rte_eth_timesync_adjust_time (phase corrections, DPDK 22.11 has no
// frequency adjustment for the NIC clock) commands. It is sans-IO: the
// dataplane executes what it returns and reports it back to the estimator.
//
// Offsets follow hwclock/time.h: offset = UTC - NIC time, positive when the NIC
// clock is behind.
#pragma once

#include <cstdint>
#include <optional>

#include "hwclock/time.h"
#include "hwclock/timebase.h"

namespace linetime::hwclock {

struct NicTimebase {
  std::int64_t nic0 = 0;
  std::int64_t utc0_ns = 0;
  std::uint64_t ns_per_tick_q32 = 0;  // UTC nanoseconds per NIC tick, 32 fractional bits
  std::int64_t error_ns = 0;          // estimated error of a conversion near nic0

  bool valid() const { return ns_per_tick_q32 != 0; }

  UtcTime to_utc(NicTime t) const {
    const __int128 d = static_cast<__int128>(t.ticks() - nic0) * static_cast<__int128>(ns_per_tick_q32);
    return UtcTime(utc0_ns + static_cast<std::int64_t>(d >> 32));
  }
  // The NIC reading at UTC `t` (the inverse mapping; needs valid()).
  NicTime to_nic(UtcTime t) const {
    const __int128 d = (static_cast<__int128>(t.ticks() - utc0_ns) << 32) / static_cast<__int128>(ns_per_tick_q32);
    return NicTime(nic0 + static_cast<std::int64_t>(d));
  }
  // UTC - NIC time at NIC reading `t`, for NIC clocks that count nanoseconds.
  Duration offset_at(NicTime t) const { return Duration(to_utc(t).ticks() - t.ticks()); }
};

class NicClockEstimator {
 public:
  // `nominal_ns_per_tick`: 1 for NICs that count nanoseconds (most do).
  explicit NicClockEstimator(double nominal_ns_per_tick = 1.0, Duration step_threshold = Duration::from_ms(1))
      : line_(nominal_ns_per_tick, step_threshold) {}

  // One (system, NIC, system) sample of a round. A reversed bracket is ignored.
  void sample(UtcTime before, NicTime nic, UtcTime after);
  // An exact pair, as PTP_SYS_OFFSET_PRECISE gives (cross-timestamped by the
  // hardware): a zero-width bracket.
  void sample_exact(UtcTime utc, NicTime nic) { sample(utc, nic, utc); }
  // Closes the round; true when the mapping was refitted.
  bool end_round();
  LineEstimator::Round last_round() const { return last_; }

  const NicTimebase& mapping() const { return fit_; }
  const LineEstimator& line() const { return line_; }
  // The NIC clock was moved by `by` (a write or adjust the caller executed).
  void on_nic_adjusted(NicTicks by);
  // The system clock was stepped by `by` by the caller.
  void on_clock_step(Duration by);

 private:
  void publish();
  LineEstimator line_;
  LineEstimator::Round last_ = LineEstimator::Round::kEmpty;
  NicTimebase fit_{};
};

// What the NIC clock's discipline asks the dataplane to do.
struct NicClockCommand {
  enum class Kind {
    kNone,
    kWrite,   // rte_eth_timesync_write_time(port, write_value)
    kAdjust,  // rte_eth_timesync_adjust_time(port, adjust_ns)
  };
  Kind kind = Kind::kNone;
  NicTime write_value{};  // the value to write, at the moment of the call (from the mapping's `now`)
  std::int64_t adjust_ns = 0;
};

// Steers a nanosecond-counting NIC clock to UTC with phase corrections. The
// NIC's frequency error is known from the mapping's slope, so each correction
// also takes out half the drift expected until the next one: the NIC clock
// then stays within +- drift * interval / 2 of UTC instead of drifting a full
// interval's worth one way.
class NicClockDiscipline {
 public:
  struct Config {
    // Beyond this the clock is written, not adjusted (phc2sys's first step).
    Duration step_threshold = Duration::from_ms(20);
    // Corrections smaller than this are not worth a register write.
    Duration deadband = Duration::from_ns(20);
    // Time between two updates (the dataplane's refit period).
    Duration interval = Duration::from_s(1);
  };
  NicClockDiscipline() : NicClockDiscipline(Config{}) {}
  explicit NicClockDiscipline(Config c) : cfg_(c) {}

  // Decides from the fitted mapping at NIC reading `now`. The caller executes
  // the command and then calls NicClockEstimator::on_nic_adjusted with
  // adjusted_by(cmd, now).
  NicClockCommand update(const NicTimebase& mapping, NicTime now) const;
  // How far the command moves the NIC clock when executed at NIC reading `now`.
  static NicTicks adjusted_by(const NicClockCommand& cmd, NicTime now);

 private:
  Config cfg_;
};

// --- RX timestamp position --------------------------------------------------------

// Ethernet's frame check sequence, which DPDK's packet length does not count
// but the wire carries after the payload.
inline constexpr std::uint32_t kEthernetFcsBytes = 4;

// NICs stamp a received frame when its start-of-frame delimiter has passed
// (the end of the preamble); NTP's receive timestamp is when the whole frame
// has arrived (its trailer). The difference is the frame's time on the wire:
// (L2 length from destination MAC to the end of the FCS) * 8 bits / link
// speed. `frame_bytes` is the length without FCS (mbuf pkt_len);
// `link_mbps` the negotiated speed (rte_eth_link.link_speed). An unknown speed
// (0) gives no correction.
Duration rx_trailer_correction(std::uint32_t frame_bytes, std::uint32_t link_mbps);

// A start-of-frame hardware stamp moved to the end of the frame.
inline UtcTime rx_trailer_time(UtcTime start_of_frame, std::uint32_t frame_bytes, std::uint32_t link_mbps) {
  return start_of_frame + rx_trailer_correction(frame_bytes, link_mbps);
}

}  // namespace linetime::hwclock
