// NTP time formats (RFC 5905 section 6) and their conversion to and from UTC.
//
// The 64-bit timestamp counts seconds since 1900-01-01T00:00:00Z in 32 bits and
// fractions of a second in 32 bits; it wraps every 2^32 s (136 years), so it
// names a second only within an era. The first rollover is 2036-02-07T06:28:16Z,
// the start of era 1. A timestamp is turned back into UTC by choosing the era
// that puts it nearest a pivot the caller knows to be close (its own clock),
// which is correct within +-68 years of the pivot across any rollover. The
// 128-bit NTP date carries the era explicitly and covers every UtcTime,
// including those before 1970 and before 1900.
//
// The 32-bit short format (16.16 seconds) carries root delay and root
// dispersion: unsigned, at most 65535.99998 s.
#pragma once

#include <cstdint>

#include "hwclock/time.h"

namespace linetime::hwclock {

// Seconds from the NTP prime epoch (1900) to the Unix epoch (1970): 70 years
// including 17 leap days.
inline constexpr std::int64_t kNtpUnixEpochOffsetS = 2'208'988'800;
inline constexpr std::int64_t kNtpEraSeconds = std::int64_t{1} << 32;

namespace detail {
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
// Nanoseconds [0, 1e9) to a 32-bit binary fraction, rounded to nearest.
constexpr std::uint32_t ns_to_frac(std::uint64_t ns) {
  return static_cast<std::uint32_t>(((ns << 32) + kNsPerSec / 2) / kNsPerSec);
}
// A 32-bit binary fraction to nanoseconds, rounded to nearest: [0, 1e9].
constexpr std::int64_t frac_to_ns(std::uint32_t frac) {
  return static_cast<std::int64_t>((std::uint64_t{frac} * kNsPerSec + (std::uint64_t{1} << 31)) >> 32);
}
}  // namespace detail

// RFC 5905 128-bit date: era, seconds within the era, fraction.
struct NtpDate {
  std::int32_t era = 0;
  std::uint32_t era_offset_s = 0;
  std::uint32_t fraction = 0;

  static constexpr NtpDate from_utc(UtcTime t) {
    const std::int64_t sec = detail::floor_div(t.ticks(), kNsPerSec);
    const std::int64_t rem_ns = t.ticks() - sec * kNsPerSec;
    const std::int64_t ntp_s = sec + kNtpUnixEpochOffsetS;
    NtpDate d;
    d.era = static_cast<std::int32_t>(detail::floor_div(ntp_s, kNtpEraSeconds));
    d.era_offset_s = static_cast<std::uint32_t>(ntp_s - std::int64_t{d.era} * kNtpEraSeconds);
    d.fraction = detail::ns_to_frac(static_cast<std::uint64_t>(rem_ns));
    return d;
  }

  // Exact for every date inside the UtcTime range (1678 to 2262).
  constexpr UtcTime to_utc() const {
    const std::int64_t ntp_s = std::int64_t{era} * kNtpEraSeconds + era_offset_s;
    return UtcTime((ntp_s - kNtpUnixEpochOffsetS) * kNsPerSec + detail::frac_to_ns(fraction));
  }

  constexpr bool operator==(const NtpDate&) const = default;
};

// RFC 5905 64-bit timestamp, host byte order. Zero means "unknown" on the wire.
class NtpTimestamp {
 public:
  constexpr NtpTimestamp() = default;
  static constexpr NtpTimestamp from_raw(std::uint64_t raw) { return NtpTimestamp(raw); }
  static constexpr NtpTimestamp from_parts(std::uint32_t seconds, std::uint32_t fraction) {
    return NtpTimestamp((std::uint64_t{seconds} << 32) | fraction);
  }
  // The era is dropped: the result names the same second in every era.
  static constexpr NtpTimestamp from_utc(UtcTime t) {
    const NtpDate d = NtpDate::from_utc(t);
    return from_parts(d.era_offset_s, d.fraction);
  }

  constexpr std::uint64_t raw() const { return raw_; }
  constexpr std::uint32_t seconds() const { return static_cast<std::uint32_t>(raw_ >> 32); }
  constexpr std::uint32_t fraction() const { return static_cast<std::uint32_t>(raw_); }
  constexpr bool is_zero() const { return raw_ == 0; }

  // The UTC time this timestamp names in the era that puts it within
  // [pivot - 2^31 s, pivot + 2^31 s).
  constexpr UtcTime to_utc(UtcTime pivot) const { return to_date(pivot).to_utc(); }

  constexpr NtpDate to_date(UtcTime pivot) const {
    const NtpDate p = NtpDate::from_utc(pivot);
    const std::int64_t pivot_ntp_s = std::int64_t{p.era} * kNtpEraSeconds + p.era_offset_s;
    const auto diff = static_cast<std::int32_t>(seconds() - p.era_offset_s);
    const std::int64_t ntp_s = pivot_ntp_s + diff;
    NtpDate d;
    d.era = static_cast<std::int32_t>(detail::floor_div(ntp_s, kNtpEraSeconds));
    d.era_offset_s = seconds();
    d.fraction = fraction();
    return d;
  }

  constexpr bool operator==(const NtpTimestamp&) const = default;

 private:
  constexpr explicit NtpTimestamp(std::uint64_t raw) : raw_(raw) {}
  std::uint64_t raw_ = 0;
};

// a - b as a signed duration, valid when the two are within 68 years of each
// other whatever eras they lie in (RFC 5905: differences are taken modulo 2^64).
constexpr Duration ntp_diff(NtpTimestamp a, NtpTimestamp b) {
  const auto d = static_cast<std::int64_t>(a.raw() - b.raw());
  const __int128 ns = (static_cast<__int128>(d) * kNsPerSec + (__int128{1} << 31)) >> 32;
  return Duration(static_cast<std::int64_t>(ns));
}

// RFC 5905 32-bit short format: unsigned 16.16 seconds.
class NtpShort {
 public:
  static constexpr std::uint32_t kMax = 0xFFFF'FFFF;

  constexpr NtpShort() = default;
  static constexpr NtpShort from_raw(std::uint32_t raw) { return NtpShort(raw); }
  // Rounds up, so an error bound is never understated; negative gives zero and
  // anything at or beyond 65536 s gives the maximum.
  static constexpr NtpShort from_duration(Duration d) {
    if (d.ns() <= 0) return NtpShort(0);
    if (d.ns() >= std::int64_t{65536} * kNsPerSec) return NtpShort(kMax);
    const auto ns = static_cast<std::uint64_t>(d.ns());
    const std::uint64_t units = ((ns << 16) + kNsPerSec - 1) / kNsPerSec;
    return NtpShort(units > kMax ? kMax : static_cast<std::uint32_t>(units));
  }

  constexpr std::uint32_t raw() const { return raw_; }
  constexpr Duration to_duration() const {
    return Duration(static_cast<std::int64_t>((std::uint64_t{raw_} * kNsPerSec + (1u << 15)) >> 16));
  }
  constexpr bool operator==(const NtpShort&) const = default;

 private:
  constexpr explicit NtpShort(std::uint32_t raw) : raw_(raw) {}
  std::uint32_t raw_ = 0;
};

// log2 of a precision in seconds, as the NTP header's precision field carries it
// (rounded up: -20 means about 1 microsecond).
constexpr std::int8_t precision_log2(Duration resolution) {
  std::int8_t p = 0;
  double s = resolution.seconds();
  if (s <= 0) return -32;
  double v = 1.0;
  while (v > s && p > -32) {
    v /= 2;
    --p;
  }
  while (v < s && p < 31) {
    v *= 2;
    ++p;
  }
  return p;
}

}  // namespace linetime::hwclock
