// Network-byte-order fields and the parse error type shared by every wire layout.
//
// Wire structs are built from Be16/Be32/Be64 and plain bytes only, so every
// struct has alignment 1 and can be overlaid on any byte of a frame without
// `packed` attributes; loads and stores compile to a single (byte-swapping) move.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "hwclock/expected.h"

namespace linetime::wire {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire accessors assume a little-endian host");

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

template <class U>
constexpr U byteswap(U v) {
  if constexpr (sizeof(U) == 2) return static_cast<U>(__builtin_bswap16(v));
  if constexpr (sizeof(U) == 4) return static_cast<U>(__builtin_bswap32(v));
  if constexpr (sizeof(U) == 8) return static_cast<U>(__builtin_bswap64(v));
}

template <class U>
struct BigEndian {
  std::uint8_t b[sizeof(U)];

  constexpr U get() const {
    if (std::is_constant_evaluated()) {
      U v = 0;
      for (std::size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | b[i]);
      return v;
    }
    U v;
    std::memcpy(&v, b, sizeof v);
    return byteswap(v);  // x86 and arm64 are little-endian hosts
  }
  constexpr void set(U v) {
    if (std::is_constant_evaluated()) {
      for (std::size_t i = sizeof(U); i-- > 0;) {
        b[i] = static_cast<std::uint8_t>(v);
        v = static_cast<U>(v >> 8);
      }
      return;
    }
    v = byteswap(v);
    std::memcpy(b, &v, sizeof v);
  }
  static constexpr BigEndian of(U v) {
    BigEndian r{};
    r.set(v);
    return r;
  }
  constexpr bool operator==(const BigEndian&) const = default;
};

using Be16 = BigEndian<std::uint16_t>;
using Be32 = BigEndian<std::uint32_t>;
using Be64 = BigEndian<std::uint64_t>;
static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);
static_assert(sizeof(Be64) == 8 && alignof(Be64) == 1);

// Why a parser refused its input. The dataplane counts these per reason.
enum class ParseError : std::uint8_t {
  kTruncated,          // shorter than the header or than a length field claims
  kBadVersion,         // IP version or NTP version outside what we accept
  kBadLength,          // a length field inconsistent with the data or the rules
  kBadChecksum,        // IPv4 header, UDP or ICMP checksum mismatch
  kBadHeaderLength,    // IPv4 IHL < 5
  kFragment,           // IPv4/IPv6 fragment: never reassembled, never answered
  kIpOptions,          // IPv4 options present
  kUnsupported,        // a type, hardware kind or extension we do not handle
  kBadAddress,         // broadcast, multicast or otherwise unusable address
  kCount
};

const char* to_string(ParseError e);

template <class T>
using Parsed = Expected<T, ParseError>;

// Overlays a wire struct on the front of a buffer; nullptr when it does not fit.
template <class Header>
const Header* overlay(Bytes b) {
  static_assert(alignof(Header) == 1, "wire structs must have alignment 1");
  return b.size() < sizeof(Header) ? nullptr : reinterpret_cast<const Header*>(b.data());
}
template <class Header>
Header* overlay(MutableBytes b) {
  static_assert(alignof(Header) == 1, "wire structs must have alignment 1");
  return b.size() < sizeof(Header) ? nullptr : reinterpret_cast<Header*>(b.data());
}

}  // namespace linetime::wire
