// Per-client rate limiting of NTP requests: the arithmetic alone, on the two
// numbers a client's entry in the lcore's client table keeps (client_table.h:
// the time it was last seen and a signed credit). Pure: time comes in as the
// 1/256 s since the client's previous request, as the table counts it (an
// unsigned difference modulo 2^32); a difference of 2^31 or more (97 days)
// is a clock that went back and counts as no time at all, as chrony counts
// it. Randomness comes in as an argument.
//
// ntpd style (shm::RateStyle::kNtpd, `discard average A minimum M`), as
// ntp_monitor() computes it: the credit is a leaky bucket in seconds. A
// request t seconds after the previous one (rounded to the nearest second)
// first drains t from it (not below 0). It is answered when t + 1 >= M and
// credit + 2^A < 8 * 2^A; the credit then becomes credit + 2^A - 2. Otherwise
// it is limited: when the credit was below 8 * 2^A the credit jumps to
// 9 * 2^A and this one request may be answered with a KoD; while the credit
// stays at or above 8 * 2^A no further KoD is sent, so KoDs leave at most
// once per 2^A s (a client that keeps sending keeps the bucket full).
// A client's first request is always answered.
//
// chrony style (kChrony, `ratelimit interval I burst B leak L`): a token
// bucket in 1/256 s. It holds at most B * 2^I s and fills at 1 s per second;
// each answered request costs 2^I s. A request that finds less than that is
// limited; 1 in 2^L of them (L = 0: none) is answered anyway, decided by
// `random`, so that spoofed requests cannot silence a real client. A limited
// request gets a KoD only while the credit is not yet negative, and the KoD
// costs 2^I s too: again at most one KoD per 2^I s.
#pragma once

#include <cstdint>

#include "dataplane/shm/acl_table.h"

namespace linetime::dataplane {

enum class RateVerdict : std::uint8_t {
  kPass,        // answer
  kLimited,     // drop
  kLimitedKod,  // answer with a KoD RATE (when the rule says kod), else drop
};

// Parameter limits accepted from configuration.
inline constexpr int kMinAverageLog2 = 0, kMaxAverageLog2 = 16;   // ntpd: 1 s .. 18 h
inline constexpr int kMinIntervalLog2 = -4, kMaxIntervalLog2 = 12;  // 1/16 s .. 68 min
inline constexpr int kMaxBurst = 255;
inline constexpr int kMaxLeak = 4;

// A configuration's parameters clamped to those limits and turned into the
// constants the arithmetic needs, once when the table is published rather
// than on every request.
struct RateParams {
  RateParams() : RateParams(shm::AclRateLimit{}) {}
  explicit RateParams(const shm::AclRateLimit& p);

  bool chrony = false;
  // ntpd style, in seconds: 2^A, the bucket's size 8 * 2^A, `minimum`.
  std::int64_t head = 0, limit = 0, minimum = 0;
  // chrony style, in 1/256 s: one request's cost 2^I, the bucket's size
  // B * 2^I; a limited request leaks through when random & leak_mask is 0
  // (no leak: leaks is false).
  std::int64_t cost = 0, cap = 0;
  std::uint32_t leak_mask = 0;
  bool leaks = false;
  std::int8_t kod_min_poll = 0;  // kod_min_poll() of the configuration
};

// One request from a client whose credit is `credit`, `elapsed` 1/256 s
// after its previous one (ignored when `fresh`: the client was not in the
// table). Updates `credit`. `random()` gives a uniformly distributed 32-bit
// value; it is called only when a chrony-style limited request may leak.
template <class Random>
RateVerdict rate_limit(const RateParams& p, std::int32_t& credit, std::uint32_t elapsed, bool fresh, Random&& random);
// The same with the configuration as published, the previous and this
// request's times as raw NTP timestamps (32.32 s, counted to 1/256 s as the
// client table does) and the random value given.
RateVerdict rate_limit(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                       std::uint64_t now, std::uint32_t random);

// The poll exponent a KoD RATE carries at least: ntpd's `discard average`
// (ntp_minpoll), chrony's `ratelimit interval`.
std::int8_t kod_min_poll(const shm::AclRateLimit& p);

template <class Random>
[[gnu::always_inline]] inline RateVerdict rate_limit(const RateParams& p, std::int32_t& credit, std::uint32_t elapsed,
                                                     bool fresh, Random&& random) {
  if (static_cast<std::int32_t>(elapsed) < 0) elapsed = 0;  // the clock went back
  if (!p.chrony) {
    if (fresh) {
      credit = 0;
      return RateVerdict::kPass;
    }
    // Whole seconds, rounded to nearest (of times kept to 1/256 s).
    const std::int64_t interval = (std::int64_t{elapsed} + 128) >> 8;
    const std::int64_t left = credit - interval;
    const std::int64_t drained = left > 0 ? left : 0;
    const std::int64_t leak = drained + p.head;
    if (interval + 1 >= p.minimum && leak < p.limit) {
      credit = static_cast<std::int32_t>(leak - 2);
      return RateVerdict::kPass;
    }
    if (drained < p.limit) {
      credit = static_cast<std::int32_t>(p.limit + p.head);
      return RateVerdict::kLimitedKod;
    }
    credit = static_cast<std::int32_t>(drained);
    return RateVerdict::kLimited;
  }
  std::int64_t c = p.cap;
  if (!fresh) {
    const std::int64_t refilled = credit + std::int64_t{elapsed};
    c = refilled < p.cap ? refilled : p.cap;
  }
  RateVerdict v;
  if (c >= p.cost) {
    c -= p.cost;
    v = RateVerdict::kPass;
  } else if (p.leaks && (random() & p.leak_mask) == 0) {
    v = RateVerdict::kPass;  // leaked: costs nothing
  } else if (c >= 0) {
    c -= p.cost;
    v = RateVerdict::kLimitedKod;
  } else {
    v = RateVerdict::kLimited;
  }
  credit = static_cast<std::int32_t>(c);
  return v;
}

}  // namespace linetime::dataplane
