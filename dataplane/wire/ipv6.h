// IPv6 fixed header (RFC 8200). The dataplane answers only packets whose upper
// layer follows the fixed header directly: a Fragment header is refused as a
// fragment, any other extension header as unsupported (the kernel gets those).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"
#include "dataplane/wire/ip.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version| Traffic Class |           Flow Label                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Payload Length        |  Next Header  |   Hop Limit   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                   Source Address (128)                        +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                 Destination Address (128)                     +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Ipv6Header {
  Be32 version_class_flow;
  Be16 payload_length;
  std::uint8_t next_header;
  std::uint8_t hop_limit;
  Ipv6Address src;
  Ipv6Address dst;

  constexpr unsigned version() const { return version_class_flow.get() >> 28; }
  constexpr std::uint8_t traffic_class() const { return static_cast<std::uint8_t>(version_class_flow.get() >> 20); }
  constexpr std::uint32_t flow_label() const { return version_class_flow.get() & 0xfffffu; }
};
static_assert(sizeof(Ipv6Header) == 40);
static_assert(offsetof(Ipv6Header, payload_length) == 4);
static_assert(offsetof(Ipv6Header, next_header) == 6);
static_assert(offsetof(Ipv6Header, hop_limit) == 7);
static_assert(offsetof(Ipv6Header, src) == 8);
static_assert(offsetof(Ipv6Header, dst) == 24);

inline constexpr std::uint8_t kIpv6DefaultHopLimit = 64;
inline constexpr std::size_t kIpv6MaxPayloadLength = 0xffff;  // without jumbograms (which are refused)

// The header fields a sender chooses; write_ipv6 fills in the rest.
struct Ipv6Fields {
  Ipv6Address src;
  Ipv6Address dst;
  std::uint8_t next_header = kIpProtoUdp;
  std::uint8_t hop_limit = kIpv6DefaultHopLimit;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;  // 20 bits
  constexpr bool operator==(const Ipv6Fields&) const = default;
};

struct Ipv6View {
  const Ipv6Header* header = nullptr;
  Ipv6Fields fields;
  Bytes payload;  // trimmed to payload_length: Ethernet padding is not in it
};

// True for the next-header values RFC 8200 section 4 and the IANA "IPv6
// Extension Header Types" registry define as extension headers (ESP included).
bool is_ipv6_extension_header(std::uint8_t next_header);

// Parses the fixed header and delimits the payload. Errors, in order: kTruncated
// (shorter than 40 octets), kBadVersion (not 6), kTruncated (payload length beyond
// the buffer), kFragment (next header is a Fragment header), kUnsupported (any
// other extension header, jumbograms included), kBadAddress (multicast source).
Parsed<Ipv6View> parse_ipv6(Bytes packet);

// Writes a 40-octet header for a payload of `payload_length` octets. Returns 40,
// or 0 when `out` is too small or the payload exceeds 65535 octets.
std::size_t write_ipv6(MutableBytes out, const Ipv6Fields& fields, std::size_t payload_length);

}  // namespace linetime::wire
