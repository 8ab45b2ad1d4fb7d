// UDP (RFC 768, and RFC 8200 section 8.1 for IPv6). NTP rides on it; the parser
// verifies the checksum against the pseudo-header of the IP layer it came in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Length             |           Checksum            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Data ...
// Length counts the header too. Over IPv4 a zero checksum means "not computed";
// a computed checksum of zero is sent as 0xffff. Over IPv6 the checksum is
// mandatory.
struct UdpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be16 length;
  Be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8);
static_assert(offsetof(UdpHeader, dst_port) == 2);
static_assert(offsetof(UdpHeader, length) == 4);
static_assert(offsetof(UdpHeader, checksum) == 6);

inline constexpr std::size_t kUdpMaxLength = 0xffff;

struct UdpView {
  const UdpHeader* header = nullptr;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  bool has_checksum = false;  // false only over IPv4 with a zero checksum field
  Bytes payload;              // trimmed to the length field
};

// Parses a UDP datagram (the IP payload) from `src` to `dst`. Errors, in order:
// kTruncated (shorter than 8 octets), kBadLength (length field below 8),
// kTruncated (length field beyond the buffer), kBadChecksum (a wrong checksum,
// or over IPv6 a zero one). Octets after the length field's end are ignored.
Parsed<UdpView> parse_udp(Bytes datagram, Ipv4Address src, Ipv4Address dst);
Parsed<UdpView> parse_udp(Bytes datagram, const Ipv6Address& src, const Ipv6Address& dst);

// Writes the header and `payload` with the checksum for src -> dst. `payload` may
// already sit at out[8...] (the NTP responder builds it there): it is moved, not
// copied. Returns 8 + payload.size(), or 0 when `out` is too small or the
// datagram would exceed 65535 octets.
std::size_t write_udp(MutableBytes out, Ipv4Address src, Ipv4Address dst, std::uint16_t src_port,
                      std::uint16_t dst_port, Bytes payload);
std::size_t write_udp(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, std::uint16_t src_port,
                      std::uint16_t dst_port, Bytes payload);

}  // namespace linetime::wire
