// IPv4 header (RFC 791). The dataplane answers only plain datagrams: no options,
// no fragments, a valid header checksum. Anything else is refused with a reason
// and left to the kernel or dropped by the caller.
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
// |Version|  IHL  |Type of Service|          Total Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |Flags|      Fragment Offset    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options (IHL > 5: refused)                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Ipv4Header {
  std::uint8_t version_ihl;
  std::uint8_t tos;  // DSCP (6 bits) and ECN (2 bits)
  Be16 total_length;
  Be16 identification;
  Be16 flags_fragment;
  std::uint8_t ttl;
  std::uint8_t protocol;
  Be16 checksum;
  Be32 src;
  Be32 dst;

  constexpr unsigned version() const { return version_ihl >> 4; }
  constexpr unsigned ihl() const { return version_ihl & 0xfu; }  // in 32-bit words
};
static_assert(sizeof(Ipv4Header) == 20);
static_assert(offsetof(Ipv4Header, total_length) == 2);
static_assert(offsetof(Ipv4Header, identification) == 4);
static_assert(offsetof(Ipv4Header, flags_fragment) == 6);
static_assert(offsetof(Ipv4Header, ttl) == 8);
static_assert(offsetof(Ipv4Header, protocol) == 9);
static_assert(offsetof(Ipv4Header, checksum) == 10);
static_assert(offsetof(Ipv4Header, src) == 12);
static_assert(offsetof(Ipv4Header, dst) == 16);

inline constexpr std::uint16_t kIpv4FlagReserved = 0x8000;
inline constexpr std::uint16_t kIpv4FlagDontFragment = 0x4000;
inline constexpr std::uint16_t kIpv4FlagMoreFragments = 0x2000;
inline constexpr std::uint16_t kIpv4FragmentOffsetMask = 0x1fff;
inline constexpr std::size_t kIpv4MaxTotalLength = 0xffff;
inline constexpr std::uint8_t kIpv4DefaultTtl = 64;

// The header fields a sender chooses; write_ipv4 fills in the rest.
struct Ipv4Fields {
  Ipv4Address src;
  Ipv4Address dst;
  std::uint8_t protocol = kIpProtoUdp;
  std::uint8_t ttl = kIpv4DefaultTtl;
  std::uint8_t tos = 0;
  std::uint16_t identification = 0;  // meaningless without fragmentation (RFC 6864)
  bool dont_fragment = true;
  constexpr bool operator==(const Ipv4Fields&) const = default;
};

struct Ipv4View {
  const Ipv4Header* header = nullptr;
  Ipv4Fields fields;
  Bytes payload;  // trimmed to total_length: Ethernet padding is not in it
};

// Parses an IPv4 header and delimits its payload, checks in this order:
// kTruncated (shorter than 20 octets), kBadVersion (not 4), kBadHeaderLength
// (IHL < 5), kIpOptions (IHL > 5), kBadLength (total length below the header),
// kTruncated (total length beyond the buffer), kBadChecksum, kFragment (MF set or
// a non-zero fragment offset), kUnsupported (the reserved flag set), kBadAddress
// (a multicast or limited-broadcast source).
Parsed<Ipv4View> parse_ipv4(Bytes packet);

// Writes a 20-octet header for a payload of `payload_length` octets, computing the
// header checksum. Returns 20, or 0 when `out` is too small or the datagram would
// exceed 65535 octets.
std::size_t write_ipv4(MutableBytes out, const Ipv4Fields& fields, std::size_t payload_length);

}  // namespace linetime::wire
