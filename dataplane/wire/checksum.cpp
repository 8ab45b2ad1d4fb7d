#include "dataplane/wire/checksum.h"

#include <bit>
#include <cstring>

namespace linetime::wire {

namespace {

// Folds a 64-bit one's-complement sum to 16 bits. Every 16-bit lane of a 64-bit
// word has weight 2^(16k), which is 1 modulo 0xffff, so adding the lanes with
// end-around carry gives the 16-bit sum.
inline std::uint16_t fold(std::uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

inline std::uint16_t swap16(std::uint16_t v) { return static_cast<std::uint16_t>((v << 8) | (v >> 8)); }

}  // namespace

std::uint16_t ones_sum(Bytes data, std::uint16_t initial) {
  // Words are loaded in host order (memcpy: any alignment). The one's-complement
  // sum commutes with byte swapping (RFC 1071 section 2(B)), so on a
  // little-endian host the folded sum is swapped once at the end. Loads advance
  // in even steps from the start of `data`, so the 16-bit lanes stay the
  // message's words whatever the address of the first octet.
  //
  // 32-bit words go into 64-bit accumulators with plain additions: no carry
  // can be lost before 2^32 words (16 GiB), far beyond any packet, and the
  // fold at the end adds the carries back (each lane has weight 1 mod 0xffff).
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t a = 0, b = 0;
  auto word32 = [](const std::uint8_t* q) {
    std::uint32_t w;
    std::memcpy(&w, q, sizeof w);
    return std::uint64_t{w};
  };
  while (n >= 16) {
    a += word32(p) + word32(p + 4);
    b += word32(p + 8) + word32(p + 12);
    p += 16;
    n -= 16;
  }
  std::uint64_t sum = a + b;
  while (n >= 4) {
    sum += word32(p);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, sizeof w);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // The odd octet is the high half of a word whose low half is zero.
    const std::uint8_t last[2] = {p[0], 0};
    std::uint16_t w;
    std::memcpy(&w, last, sizeof w);
    sum += w;
  }
  std::uint16_t folded = fold(sum);
  if constexpr (std::endian::native == std::endian::little) folded = swap16(folded);
  return ones_add(folded, initial);
}

std::uint16_t ipv4_header_checksum(Bytes header) {
  constexpr std::size_t kChecksumOffset = 10;
  constexpr std::size_t kMinHeader = 20;
  if (header.size() < kMinHeader) return 0;
  const std::uint16_t before = ones_sum(header.first(kChecksumOffset));
  return internet_checksum(header.subspan(kChecksumOffset + 2), before);
}

std::uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, std::uint16_t length) {
  std::uint16_t s = 0;
  s = ones_add(s, static_cast<std::uint16_t>(src.value >> 16));
  s = ones_add(s, static_cast<std::uint16_t>(src.value));
  s = ones_add(s, static_cast<std::uint16_t>(dst.value >> 16));
  s = ones_add(s, static_cast<std::uint16_t>(dst.value));
  s = ones_add(s, protocol);
  return ones_add(s, length);
}

std::uint16_t pseudo_header_sum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                std::uint32_t length) {
  std::uint16_t s = ones_sum(Bytes(src.bytes));
  s = ones_sum(Bytes(dst.bytes), s);
  s = ones_add(s, static_cast<std::uint16_t>(length >> 16));
  s = ones_add(s, static_cast<std::uint16_t>(length));
  return ones_add(s, next_header);
}

std::uint16_t transport_checksum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, Bytes segment) {
  // The pseudo-header length field is 16 bits; IPv4 cannot carry more anyway.
  const auto length = static_cast<std::uint16_t>(segment.size());
  return internet_checksum(segment, pseudo_header_sum(src, dst, protocol, length));
}

std::uint16_t transport_checksum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                 Bytes segment) {
  const auto length = static_cast<std::uint32_t>(segment.size());
  return internet_checksum(segment, pseudo_header_sum(src, dst, next_header, length));
}

std::uint16_t checksum_update(std::uint16_t hc, Bytes old_bytes, Bytes new_bytes) {
  const auto not_hc = static_cast<std::uint16_t>(~hc);
  const auto not_old = static_cast<std::uint16_t>(~ones_sum(old_bytes));
  const std::uint16_t s = ones_add(ones_add(not_hc, not_old), ones_sum(new_bytes));
  return static_cast<std::uint16_t>(~s);
}

}  // namespace linetime::wire
