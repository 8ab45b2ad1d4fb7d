// What the server says about its own clock: the values the control publishes and
// every dataplane lcore copies into its answers. This is the payload of the
// shared-memory ServerState seqlock, so it is a fixed-layout, trivially copyable
// struct of fixed-width fields; times are UTC nanoseconds (hwclock/time.h).
#pragma once

#include <cstdint>
#include <type_traits>

#include "hwclock/ntp_time.h"
#include "hwclock/time.h"

namespace linetime::shm {

// RFC 5905 constants the state is measured against.
inline constexpr double kPhiSPerS = 15e-6;                    // frequency tolerance: dispersion growth, s/s
inline constexpr std::int64_t kMaxDispersionNs = 16'000'000'000;  // MAXDISP, 16 s

struct ServerState {
  std::uint8_t leap = 3;          // wire::Leap; 3 = unsynchronized
  std::uint8_t stratum = 16;      // 1..15 synchronized, 16 unsynchronized
  std::int8_t precision = -20;    // log2 seconds of the served timestamps
  std::int8_t min_poll = 4;       // limits of the poll exponent echoed to clients
  std::int8_t max_poll = 17;
  std::uint8_t synchronized = 0;  // 0: answer LI=3 / stratum 16 whatever the rest says
  std::uint8_t leap_pending = 0;  // a leap second is scheduled at the end of the UTC day
  std::uint8_t reserved0 = 0;
  std::uint32_t reference_id = 0;           // as the header field reads big-endian: "LOCL" = 0x4C4F434C
  std::int64_t reference_time_ns = 0;       // UtcTime of the last clock update
  std::int64_t root_delay_ns = 0;           // to the primary reference
  std::int64_t root_dispersion_ns = 0;      // at reference_time
  double dispersion_rate = kPhiSPerS;       // growth of root dispersion, s per s

  hwclock::UtcTime reference_time() const { return hwclock::UtcTime(reference_time_ns); }
  hwclock::Duration root_delay() const { return hwclock::Duration(root_delay_ns); }
  hwclock::Duration root_dispersion() const { return hwclock::Duration(root_dispersion_ns); }

  // Root dispersion grown from the reference time to `at` (never shrinks when
  // `at` is before the reference time, e.g. after the clock was stepped back).
  hwclock::Duration root_dispersion_at(hwclock::UtcTime at) const {
    const std::int64_t since = at.ticks() - reference_time_ns;
    if (since <= 0) return root_dispersion();
    return root_dispersion() + hwclock::Duration::from_seconds(static_cast<double>(since) * 1e-9 * dispersion_rate);
  }
};
static_assert(std::is_trivially_copyable_v<ServerState>);
static_assert(sizeof(ServerState) == 48);

// The state a server publishes for itself as a local reference only (the seeds'
// `server 127.127.1.0` + `fudge 127.127.1.0 stratum 10`): synchronized to its own
// clock at the given stratum, refid "LOCL".
inline ServerState local_reference_state(hwclock::UtcTime now, std::uint8_t stratum, std::int8_t precision) {
  ServerState s;
  s.leap = 0;
  s.stratum = stratum;
  s.precision = precision;
  s.synchronized = 1;
  s.reference_id = 0x4C4F434C;  // "LOCL"
  s.reference_time_ns = now.ticks();
  return s;
}

// The holdover rule: while the control beats, the dataplane serves what it
// published (root dispersion keeps growing at the published rate between
// updates); once the control has been silent for longer than the holdover, the
// dataplane serves "unsynchronized" (LI=3, stratum 16) until it beats again.
inline constexpr std::int64_t kDefaultHoldoverNs = 300'000'000'000;  // 5 minutes

inline ServerState served_state(const ServerState& published, bool control_silent) {
  ServerState s = published;
  if (control_silent) s.synchronized = 0;
  return s;
}

}  // namespace linetime::shm
