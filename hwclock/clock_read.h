// Reading the system's clocks as linetime's time types: one place for the
// clock_gettime() calls of daemons, tools and tests (the dataplane's per-packet
// stamps come from the TSC instead, hwclock/timebase.h).
#pragma once

#include <time.h>

#include <cstdint>

#include "hwclock/time.h"

namespace linetime::hwclock {

// Nanoseconds of clock `id` since its epoch.
inline std::int64_t clock_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return std::int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

// CLOCK_REALTIME, the system clock.
inline UtcTime realtime_now() { return utc_from_ns(clock_ns(CLOCK_REALTIME)); }

// CLOCK_MONOTONIC, for intervals and timeouts.
inline MonoTime monotonic_now() { return MonoTime(clock_ns(CLOCK_MONOTONIC)); }

// CLOCK_MONOTONIC in milliseconds (poll() timeouts).
inline std::int64_t monotonic_ms() { return clock_ns(CLOCK_MONOTONIC) / 1'000'000; }

}  // namespace linetime::hwclock
