// Per-client rate limiting of NTP requests: the arithmetic alone, on the two
// numbers a client's entry in the lcore's client table keeps (client_table.h:
// the time it was last seen and a signed credit). Pure: time comes in as raw
// NTP timestamps (32.32 seconds), randomness as an argument.
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

// One request from a client whose credit is `credit`, last seen at
// `previous` (raw NTP; ignored when `fresh`: the client was not in the table),
// arriving at `now`. Updates `credit`. `random` is a uniformly distributed
// 32-bit value (chrony style only).
RateVerdict rate_limit(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                       std::uint64_t now, std::uint32_t random);

// The poll exponent a KoD RATE carries at least: ntpd's `discard average`
// (ntp_minpoll), chrony's `ratelimit interval`.
std::int8_t kod_min_poll(const shm::AclRateLimit& p);

// Parameter limits accepted from configuration.
inline constexpr int kMinAverageLog2 = 0, kMaxAverageLog2 = 16;   // ntpd: 1 s .. 18 h
inline constexpr int kMinIntervalLog2 = -4, kMaxIntervalLog2 = 12;  // 1/16 s .. 68 min
inline constexpr int kMaxBurst = 255;
inline constexpr int kMaxLeak = 4;

}  // namespace linetime::dataplane
