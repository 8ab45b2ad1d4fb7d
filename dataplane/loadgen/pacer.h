// Request pacing for the load generator: a token bucket on the TSC with an
// absolute schedule. Request k is due at start + k * interval; the interval is
// kept in 32.32 fixed-point ticks and the schedule advances by exactly one
// interval per request sent, so rounding never accumulates into a rate error
// (2^-32 tick per request: under a tick after four billion requests). The
// caller asks how many requests are due now, sends what the port takes and
// reports that back; what it could not send stays due.
//
// A sender that falls far behind (a preempted vCPU, a full TX ring) would
// otherwise catch up in one long burst. The backlog is therefore capped: when
// more than `max_backlog` requests are overdue, the schedule skips forward and
// the skipped requests are counted as slipped, so the offered rate reported is
// what was really offered. Pure: time comes in as an argument.
#pragma once

#include <cstdint>

namespace linetime::loadgen {

class Pacer {
 public:
  // `rate_per_s` <= 0 means unpaced: everything asked for is due.
  Pacer(std::uint64_t tsc_hz, double rate_per_s, std::uint64_t start_tsc, std::uint32_t max_backlog = 4096)
      : max_backlog_(max_backlog) {
    if (rate_per_s > 0) {
      const double q = static_cast<double>(tsc_hz) / rate_per_s * 4294967296.0;
      interval_q32_ = q >= 1.8e19 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(q);
      if (interval_q32_ == 0) interval_q32_ = 1;
    }
    next_q32_ = static_cast<unsigned __int128>(start_tsc) << 32;
  }

  bool paced() const { return interval_q32_ != 0; }

  // How many requests may be sent at `now_tsc`, at most `max`. Skips the
  // schedule forward (counting slipped requests) when the backlog is too long.
  unsigned due(std::uint64_t now_tsc, unsigned max) {
    if (!paced()) return max;
    const unsigned __int128 now = static_cast<unsigned __int128>(now_tsc) << 32;
    if (now < next_q32_) return 0;
    unsigned __int128 overdue = (now - next_q32_) / interval_q32_ + 1;
    if (overdue > max_backlog_) {
      const unsigned __int128 skip = overdue - max_backlog_;
      next_q32_ += skip * interval_q32_;
      slipped_ += static_cast<std::uint64_t>(skip);
      overdue = max_backlog_;
    }
    return overdue < max ? static_cast<unsigned>(overdue) : max;
  }

  // `n` requests left: the schedule moves on by n intervals.
  void sent(unsigned n) {
    next_q32_ += static_cast<unsigned __int128>(n) * interval_q32_;
    sent_ += n;
  }

  std::uint64_t total_sent() const { return sent_; }
  std::uint64_t slipped() const { return slipped_; }
  // Tick at which the next request is due (0 when unpaced).
  std::uint64_t next_due_tsc() const { return paced() ? static_cast<std::uint64_t>(next_q32_ >> 32) : 0; }

 private:
  std::uint64_t interval_q32_ = 0;  // ticks per request, 32 fractional bits; 0 = unpaced
  unsigned __int128 next_q32_ = 0;  // when the next request is due, 32 fractional bits
  std::uint32_t max_backlog_;
  std::uint64_t sent_ = 0;
  std::uint64_t slipped_ = 0;
};

}  // namespace linetime::loadgen
