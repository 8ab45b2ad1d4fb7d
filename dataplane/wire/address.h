// Link-layer and IP address value types: how they sit in a frame, how they are
// classified (multicast, broadcast, ...) and how they are written and read as text
// for configuration files, logs and tests.
//
// MacAddress and Ipv6Address are arrays of bytes in wire order with alignment 1, so
// they appear directly as fields of wire structs. Ipv4Address holds its value in
// host order (192.0.2.1 is 0xc0000201) and is stored on the wire through a Be32.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <string_view>

#include "dataplane/wire/bytes.h"

namespace linetime::wire {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  static constexpr MacAddress broadcast() { return MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }

  // Group bit (I/G, the low bit of the first octet): multicast, broadcast included.
  constexpr bool is_multicast() const { return (bytes[0] & 0x01u) != 0; }
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_zero() const { return *this == MacAddress{}; }
  // Two loads and a compare (the defaulted one calls memcmp).
  constexpr bool operator==(const MacAddress& o) const {
    if (std::is_constant_evaluated()) return bytes == o.bytes;
    std::uint32_t a, b;
    std::uint16_t c, d;
    std::memcpy(&a, bytes.data(), 4);
    std::memcpy(&b, o.bytes.data(), 4);
    std::memcpy(&c, bytes.data() + 4, 2);
    std::memcpy(&d, o.bytes.data() + 4, 2);
    return ((a ^ b) | static_cast<std::uint32_t>(c ^ d)) == 0;
  }
};
static_assert(sizeof(MacAddress) == 6 && alignof(MacAddress) == 1);

struct Ipv4Address {
  std::uint32_t value = 0;  // host order

  static constexpr Ipv4Address of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Ipv4Address{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
  }
  static constexpr Ipv4Address from(const Be32& wire) { return Ipv4Address{wire.get()}; }
  constexpr Be32 to_be() const { return Be32::of(value); }
  constexpr std::uint8_t octet(unsigned i) const { return static_cast<std::uint8_t>(value >> (24 - 8 * i)); }

  constexpr bool is_unspecified() const { return value == 0; }                    // 0.0.0.0
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }             // limited broadcast
  constexpr bool is_multicast() const { return (value & 0xf0000000u) == 0xe0000000u; }  // 224.0.0.0/4
  constexpr bool is_loopback() const { return (value & 0xff000000u) == 0x7f000000u; }   // 127.0.0.0/8
  constexpr bool operator==(const Ipv4Address&) const = default;
};

struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};

  constexpr bool is_unspecified() const { return *this == Ipv6Address{}; }        // ::
  constexpr bool is_multicast() const { return bytes[0] == 0xff; }                 // ff00::/8
  constexpr bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }  // fe80::/10
  constexpr bool is_loopback() const {                                             // ::1
    Ipv6Address one{};
    one.bytes[15] = 1;
    return *this == one;
  }
  constexpr bool is_v4_mapped() const {                                            // ::ffff:0:0/96
    for (std::size_t i = 0; i < 10; ++i)
      if (bytes[i] != 0) return false;
    return bytes[10] == 0xff && bytes[11] == 0xff;
  }
  constexpr bool operator==(const Ipv6Address&) const = default;
};
static_assert(sizeof(Ipv6Address) == 16 && alignof(Ipv6Address) == 1);

// Solicited-node multicast group of an address (RFC 4291 section 2.7.1):
// ff02::1:ff00:0/104 with the low 24 bits of `a`. Neighbour solicitations go there.
Ipv6Address solicited_node_multicast(const Ipv6Address& a);

// Ethernet group address a multicast IP address maps to: 33:33 + the low 32 bits
// for IPv6 (RFC 2464 section 7), 01:00:5e + the low 23 bits for IPv4 (RFC 1112).
MacAddress multicast_mac(const Ipv6Address& group);
MacAddress multicast_mac(Ipv4Address group);

// Text: "02:00:5e:10:00:01" (lowercase), "192.0.2.1", and IPv6 in the RFC 5952
// canonical form ("2001:db8::1", "::ffff:192.0.2.1" for v4-mapped addresses).
std::string to_string(const MacAddress& a);
std::string to_string(Ipv4Address a);
std::string to_string(const Ipv6Address& a);

// Parse text; anything else than exactly one address gives kBadAddress.
// MAC: six two-digit hex groups separated by ':' or '-' (one kind throughout).
// IPv4: dotted quad of decimal octets without leading zeros ("010" could be octal).
// IPv6: RFC 4291 section 2.2 forms, with "::" and a dotted-quad tail; no zone index.
Parsed<MacAddress> parse_mac_address(std::string_view text);
Parsed<Ipv4Address> parse_ipv4_address(std::string_view text);
Parsed<Ipv6Address> parse_ipv6_address(std::string_view text);

}  // namespace linetime::wire
