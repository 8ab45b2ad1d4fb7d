// ICMPv6 (RFC 4443) echo and Neighbor Discovery (RFC 4861) neighbour
// solicitation and advertisement: what the dataplane needs to answer pings and to
// resolve and defend its IPv6 addresses. Other ICMPv6 messages (router
// advertisements, MLD, errors) go to the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::wire {

// Every ICMPv6 message starts with type, code and a checksum over the message and
// the IPv6 pseudo-header (next header 58).
struct Icmpv6Header {
  std::uint8_t type;
  std::uint8_t code;
  Be16 checksum;
};
static_assert(sizeof(Icmpv6Header) == 4);

// Echo request / reply:
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Identifier          |        Sequence Number        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Data ...
struct Icmpv6EchoHeader {
  std::uint8_t type;
  std::uint8_t code;
  Be16 checksum;
  Be16 identifier;
  Be16 sequence;
};
static_assert(sizeof(Icmpv6EchoHeader) == 8);
static_assert(offsetof(Icmpv6EchoHeader, identifier) == 4);

// Neighbour solicitation (flags reserved, zero) and advertisement:
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |R|S|O|                     Reserved                            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// +                       Target Address (128)                    +
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   Options ...
struct NdHeader {
  std::uint8_t type;
  std::uint8_t code;
  Be16 checksum;
  Be32 flags;
  Ipv6Address target;
};
static_assert(sizeof(NdHeader) == 24);
static_assert(offsetof(NdHeader, flags) == 4);
static_assert(offsetof(NdHeader, target) == 8);

// Source / target link-layer address option for Ethernet (RFC 4861 section 4.6.1,
// RFC 2464 section 6): length is in units of 8 octets, so 1.
struct NdLinkLayerOption {
  std::uint8_t type;
  std::uint8_t length;
  MacAddress address;
};
static_assert(sizeof(NdLinkLayerOption) == 8);
static_assert(offsetof(NdLinkLayerOption, address) == 2);

enum class Icmpv6Type : std::uint8_t {
  kEchoRequest = 128,
  kEchoReply = 129,
  kNeighborSolicitation = 135,
  kNeighborAdvertisement = 136,
};

inline constexpr std::uint8_t kNdOptionSourceLinkLayer = 1;
inline constexpr std::uint8_t kNdOptionTargetLinkLayer = 2;
inline constexpr std::uint32_t kNaFlagRouter = 0x80000000u;
inline constexpr std::uint32_t kNaFlagSolicited = 0x40000000u;
inline constexpr std::uint32_t kNaFlagOverride = 0x20000000u;
inline constexpr std::uint32_t kNaFlagMask = kNaFlagRouter | kNaFlagSolicited | kNaFlagOverride;
// ND messages must arrive with this hop limit: proof they were not routed.
inline constexpr std::uint8_t kNdHopLimit = 255;

struct Icmpv6View {
  const Icmpv6Header* header = nullptr;
  Icmpv6Type type = Icmpv6Type::kEchoRequest;
  // Echo request and reply.
  std::uint16_t identifier = 0;
  std::uint16_t sequence = 0;
  Bytes data;  // everything after the 8-octet echo header
  // Neighbour solicitation and advertisement.
  Ipv6Address target;
  std::uint32_t na_flags = 0;               // kNaFlag* bits of an advertisement
  std::optional<MacAddress> link_layer;     // source (NS) or target (NA) link-layer address option
};

// Parses an ICMPv6 message (the IPv6 payload) that arrived from `src` to `dst`
// with `hop_limit`. Errors, in order: kTruncated (shorter than 4 octets),
// kBadChecksum, kUnsupported (another type, or a non-zero code); then for echo
// kTruncated (shorter than 8); for ND (RFC 4861 section 7.1) kBadAddress (hop
// limit not 255: the message was routed), kTruncated (shorter than 24, or an
// option running past the end), kBadAddress (multicast target), kBadLength (an
// option of length 0), kUnsupported (a link-layer option that is not 8 octets),
// kBadAddress (a solicitation from :: not sent to a solicited-node group or
// carrying a source link-layer option; an advertisement to a multicast group with
// the solicited flag). Options other than the link-layer one are skipped.
Parsed<Icmpv6View> parse_icmpv6(Bytes message, const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t hop_limit);

// Writes an echo request or reply with `data` after the header, computing the
// checksum for the pseudo-header src -> dst. `data` may already sit at out[8...]
// (it is moved, not copied). Returns 8 + data.size(), or 0 when `out` is too small.
std::size_t write_icmpv6_echo(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, Icmpv6Type type,
                              std::uint16_t identifier, std::uint16_t sequence, Bytes data);

// Writes a neighbour solicitation for `target`, with a source link-layer address
// option when `source_mac` is given (it must not be when src is ::). Returns 24
// or 32, or 0 when `out` is too small.
std::size_t write_neighbor_solicitation(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst,
                                        const Ipv6Address& target, std::optional<MacAddress> source_mac);

// Writes a neighbour advertisement for `target` with `flags` (kNaFlag* bits) and a
// target link-layer address option when `target_mac` is given. Returns 24 or 32,
// or 0 when `out` is too small.
std::size_t write_neighbor_advertisement(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst,
                                         const Ipv6Address& target, std::uint32_t flags,
                                         std::optional<MacAddress> target_mac);

}  // namespace linetime::wire
