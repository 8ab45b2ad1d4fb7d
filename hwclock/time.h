// Time points and durations per clock domain.
//
// This module defines the time vocabulary of linetime. Every reading of a clock is
// an Instant<Domain> and every difference of two readings is an Interval<Domain>;
// the domain is part of the type, so a TSC count can never be added to a UTC time
// or compared with a NIC timestamp by accident. Converting between domains is the
// job of the mappings (Timebase and friends), never of arithmetic.
//
// Sign convention for offsets, used everywhere in linetime:
//
//     offset = reference time - local time
//
// A positive offset means the local clock is BEHIND (slow) relative to its
// reference and must be advanced by `offset` to agree with it. This is RFC 5905's
// theta = ((T2 - T1) + (T3 - T4)) / 2 for a client of a server. Code elsewhere
// refers to "the offset convention of hwclock/time.h" rather than restating it.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace linetime::hwclock {

// A signed span of nanoseconds: the difference of two instants of the nanosecond
// domains (UTC and MONO share the unit, not the epoch: their instants stay
// distinct types while their durations are the same type).
class Duration {
 public:
  constexpr Duration() = default;
  constexpr explicit Duration(std::int64_t ns) : ns_(ns) {}

  static constexpr Duration from_ns(std::int64_t ns) { return Duration(ns); }
  static constexpr Duration from_us(std::int64_t us) { return Duration(us * 1'000); }
  static constexpr Duration from_ms(std::int64_t ms) { return Duration(ms * 1'000'000); }
  static constexpr Duration from_s(std::int64_t s) { return Duration(s * 1'000'000'000); }
  // Rounds to the nearest nanosecond; saturates outside the int64 range.
  static constexpr Duration from_seconds(double s) {
    const double ns = s * 1e9;
    if (ns >= 9.2e18) return Duration(std::numeric_limits<std::int64_t>::max());
    if (ns <= -9.2e18) return Duration(std::numeric_limits<std::int64_t>::min());
    return Duration(static_cast<std::int64_t>(ns < 0 ? ns - 0.5 : ns + 0.5));
  }

  constexpr std::int64_t count() const { return ns_; }
  constexpr std::int64_t ns() const { return ns_; }
  constexpr double seconds() const { return static_cast<double>(ns_) * 1e-9; }

  constexpr Duration operator-() const { return Duration(-ns_); }
  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator*(std::int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(std::int64_t k) const { return Duration(ns_ / k); }
  constexpr Duration& operator+=(Duration o) {
    ns_ += o.ns_;
    return *this;
  }
  constexpr Duration& operator-=(Duration o) {
    ns_ -= o.ns_;
    return *this;
  }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  std::int64_t ns_ = 0;
};

// A signed number of ticks of a non-nanosecond domain (TSC cycles, NIC ticks).
template <class Domain>
class Ticks {
 public:
  constexpr Ticks() = default;
  constexpr explicit Ticks(std::int64_t n) : n_(n) {}

  constexpr std::int64_t count() const { return n_; }

  constexpr Ticks operator-() const { return Ticks(-n_); }
  constexpr Ticks operator+(Ticks o) const { return Ticks(n_ + o.n_); }
  constexpr Ticks operator-(Ticks o) const { return Ticks(n_ - o.n_); }
  constexpr auto operator<=>(const Ticks&) const = default;

 private:
  std::int64_t n_ = 0;
};

// Clock domains. Each names the type of a difference of two of its readings.

// CLOCK_REALTIME: UTC as POSIX counts it (no leap seconds): nanoseconds since
// 1970-01-01T00:00:00Z. int64 nanoseconds span the years 1678 to 2262.
struct Utc {
  using Delta = Duration;
  static constexpr const char* name = "UTC";
};

// CLOCK_MONOTONIC: nanoseconds since an unspecified start (boot). Used for
// timers and heartbeats; never sent on the wire.
struct Mono {
  using Delta = Duration;
  static constexpr const char* name = "MONO";
};

// The CPU's time-stamp counter: ticks are cycles of the invariant TSC.
struct Tsc {
  using Delta = Ticks<Tsc>;
  static constexpr const char* name = "TSC";
};

// A NIC's free-running or disciplined clock: ticks are whatever the NIC counts
// (nanoseconds on most, but not UTC until mapped).
struct Nic {
  using Delta = Ticks<Nic>;
  static constexpr const char* name = "NIC";
};

// A reading of a clock of one domain: ticks since the domain's epoch.
template <class Domain>
class Instant {
 public:
  using Delta = typename Domain::Delta;

  constexpr Instant() = default;
  constexpr explicit Instant(std::int64_t ticks) : ticks_(ticks) {}

  constexpr std::int64_t ticks() const { return ticks_; }

  constexpr Instant operator+(Delta d) const { return Instant(ticks_ + d.count()); }
  constexpr Instant operator-(Delta d) const { return Instant(ticks_ - d.count()); }
  constexpr Delta operator-(Instant o) const { return Delta(ticks_ - o.ticks_); }
  constexpr Instant& operator+=(Delta d) {
    ticks_ += d.count();
    return *this;
  }
  constexpr auto operator<=>(const Instant&) const = default;

 private:
  std::int64_t ticks_ = 0;
};

using UtcTime = Instant<Utc>;
using MonoTime = Instant<Mono>;
using TscTime = Instant<Tsc>;
using TscCycles = Ticks<Tsc>;
using NicTime = Instant<Nic>;
using NicTicks = Ticks<Nic>;

inline constexpr std::int64_t kNsPerSec = 1'000'000'000;

constexpr UtcTime utc_from_ns(std::int64_t ns) { return UtcTime(ns); }

}  // namespace linetime::hwclock
