// The Internet checksum (RFC 1071) used by IPv4, ICMP, ICMPv6 and UDP: the
// one's-complement sum of the data read as big-endian 16-bit words, an odd final
// octet padded with a zero octet, and the checksum field holding the complement
// of that sum. It also provides the IPv4/IPv6 pseudo-headers of the transport
// checksums and RFC 1624 incremental updates for fields rewritten in place.
//
// All 16-bit values here are host-order numbers as they read on the wire (the
// RFC 1071 example octets 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2); store them with
// Be16::set. A message that carries a correct checksum sums to 0xffff, so
// internet_checksum() over it returns 0: that is how the parsers verify.
#pragma once

#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::wire {

// One's-complement addition of two 16-bit values (end-around carry).
constexpr std::uint16_t ones_add(std::uint16_t a, std::uint16_t b) {
  const std::uint32_t s = std::uint32_t{a} + b;
  return static_cast<std::uint16_t>((s & 0xffffu) + (s >> 16));
}

// One's-complement sum of `data` added to `initial`, folded to 16 bits and not
// complemented. Any alignment of `data` works. To sum a message in pieces, every
// piece but the last must have an even length.
std::uint16_t ones_sum(Bytes data, std::uint16_t initial = 0);

// The checksum to store: the complement of ones_sum(data, initial). Over a
// message that already holds a correct checksum this returns 0.
inline std::uint16_t internet_checksum(Bytes data, std::uint16_t initial = 0) {
  return static_cast<std::uint16_t>(~ones_sum(data, initial));
}

// Checksum of an IPv4 header (`header` is the whole header, options included);
// the checksum field at offset 10 is skipped, so it need not be zeroed first.
// Returns 0 for a header shorter than 20 octets.
std::uint16_t ipv4_header_checksum(Bytes header);

// Sums of the pseudo-headers transport checksums cover (RFC 768 for IPv4,
// RFC 8200 section 8.1 for IPv6); pass them as `initial` to internet_checksum.
std::uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, std::uint16_t length);
std::uint16_t pseudo_header_sum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                std::uint32_t length);

// Transport checksum (UDP, ICMPv6) of `segment` behind the given pseudo-header.
// Computed with the segment's checksum field zeroed it is the value to store;
// computed over a segment holding a correct checksum it is 0. UDP stores a
// computed 0 as 0xffff (udp.h does that).
std::uint16_t transport_checksum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, Bytes segment);
std::uint16_t transport_checksum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                 Bytes segment);

// RFC 1624 eqn. 3: the checksum `hc` after a 16-bit field changes from `old_value`
// to `new_value`, HC' = ~(~HC + ~m + m'). The 32-bit form treats the field as two
// 16-bit words (for an IPv4 address or an NTP timestamp half at an even offset).
// The one case eqn. 3 cannot see is data that becomes all zero octets: its
// checksum is 0xffff, eqn. 3 gives 0x0000. Storing 0xffff for a 0x0000 result is
// valid either way (non-zero data whose checksum is 0x0000 also verifies with
// 0xffff), which is what callers that may produce all-zero data do.
constexpr std::uint16_t checksum_update16(std::uint16_t hc, std::uint16_t old_value, std::uint16_t new_value) {
  const std::uint16_t s =
      ones_add(ones_add(static_cast<std::uint16_t>(~hc), static_cast<std::uint16_t>(~old_value)), new_value);
  return static_cast<std::uint16_t>(~s);
}
constexpr std::uint16_t checksum_update32(std::uint16_t hc, std::uint32_t old_value, std::uint32_t new_value) {
  hc = checksum_update16(hc, static_cast<std::uint16_t>(old_value >> 16), static_cast<std::uint16_t>(new_value >> 16));
  return checksum_update16(hc, static_cast<std::uint16_t>(old_value), static_cast<std::uint16_t>(new_value));
}

// The same for a rewritten 64-bit field at an even offset (a timestamp, per
// answer), all inline: eqn. 3 over the whole 64-bit word at once, since the
// sum of its four 16-bit words is congruent to it modulo 2^16 - 1. Exactly
// the value of the four 16-bit steps: each one's-complement addition here is
// 0 only when all its terms are.
constexpr std::uint16_t checksum_update64(std::uint16_t hc, std::uint64_t old_value, std::uint64_t new_value) {
  const std::uint64_t m = ~old_value;
  std::uint64_t s = m + new_value;
  s += s < m ? 1 : 0;  // end-around carry; it cannot carry again
  s = (s & 0xffffffffu) + (s >> 32) + static_cast<std::uint16_t>(~hc);  // below 2^34
  s = (s & 0xffffu) + (s >> 16);  // below 2^18 + 2^16
  s = (s & 0xffffu) + (s >> 16);  // at most 0xffff + 4
  s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

// Fixed-size sums for the per-packet fast path: N octets (a multiple of 4,
// at an even offset of the message) as host-order words, fully unrolled, into
// a value congruent to their one's-complement sum and far below 2^64 (so sums
// of several pieces may be added first); fold_sum turns it into the 16-bit
// one's-complement sum in network order. On x86-64 the words are 64 bits wide,
// added in one carry chain (adc), half the instructions of 32-bit words; the
// chain's end-around carry and the 64-bit sum are folded to 33 bits (2^64 and
// 2^32 are both 1 modulo 2^16 - 1, which is all the checksum keeps).
template <std::size_t N>
[[gnu::always_inline]] inline std::uint64_t sum_words(const std::uint8_t* p) {
  static_assert(N % 4 == 0, "whole 32-bit words only");
#if defined(__x86_64__)
  if constexpr (N >= 8) {
    unsigned long long s, w;
    std::memcpy(&s, p, sizeof s);
    unsigned char carry = 0;
#pragma GCC unroll 32
    for (std::size_t i = 8; i + 8 <= N; i += 8) {
      std::memcpy(&w, p + i, sizeof w);
      carry = _addcarry_u64(carry, s, w, &s);
    }
    if constexpr (N % 8 == 4) {
      std::uint32_t last;
      std::memcpy(&last, p + N - 4, sizeof last);
      carry = _addcarry_u64(carry, s, last, &s);
    }
    return (s & 0xffffffffu) + (s >> 32) + carry;
  }
#endif
  std::uint64_t s = 0;
#pragma GCC unroll 32
  for (std::size_t i = 0; i < N; i += 4) {
    std::uint32_t w;
    std::memcpy(&w, p + i, sizeof w);
    s += w;
  }
  return s;
}

[[gnu::always_inline]] inline std::uint16_t fold_sum(std::uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  const auto folded = static_cast<std::uint16_t>(s);
  return static_cast<std::uint16_t>(folded << 8 | folded >> 8);  // host (little-endian) to network order
}

// Whether a message whose sum (sum_words, pieces added) is `s` carries a
// correct checksum, i.e. fold_sum(s) == 0xffff: s is a non-zero multiple of
// 2^16 - 1. A divisibility test, one multiply instead of the folds.
[[gnu::always_inline]] inline bool verifies(std::uint64_t s) { return s % 0xffff == 0 && s != 0; }

// The same for a rewritten run of octets at an even offset of the checksummed
// data (an IPv6 address). `old_bytes` and `new_bytes` must have the same
// length; an odd length is treated as padded with a zero octet.
std::uint16_t checksum_update(std::uint16_t hc, Bytes old_bytes, Bytes new_bytes);

}  // namespace linetime::wire
