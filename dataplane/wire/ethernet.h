// Ethernet II framing (IEEE 802.3 with an EtherType) and 802.1Q / 802.1ad VLAN
// tags: up to two stacked tags (an 802.1ad S-tag 0x88a8 or a C-tag 0x8100
// outside, a C-tag inside) in front of the payload's EtherType. The frame check
// sequence is not part of the frames seen here (the NIC strips it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination MAC (48)                       |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                       Source MAC (48)                         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |      EtherType or TPID        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct EthernetHeader {
  MacAddress dst;
  MacAddress src;
  Be16 ethertype;
};
static_assert(sizeof(EthernetHeader) == 14);
static_assert(offsetof(EthernetHeader, src) == 6);
static_assert(offsetof(EthernetHeader, ethertype) == 12);

// What follows a TPID (0x8100 or 0x88a8) in a tagged frame:
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | PCP |D|         VID           |   EtherType or inner TPID     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct VlanHeader {
  Be16 tci;
  Be16 ethertype;
};
static_assert(sizeof(VlanHeader) == 4);
static_assert(offsetof(VlanHeader, ethertype) == 2);

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q C-tag
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad S-tag
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
// Values below this are 802.3 length fields (LLC/SNAP frames such as STP).
inline constexpr std::uint16_t kEtherTypeMin = 0x0600;
inline constexpr std::size_t kMaxVlanTags = 2;

// One decoded tag, outermost first in EthernetView::vlans.
struct VlanTag {
  std::uint16_t tpid = kEtherTypeVlan;
  std::uint8_t pcp = 0;   // priority code point, 0..7
  bool dei = false;       // drop eligible
  std::uint16_t vid = 0;  // VLAN identifier, 0..4095

  constexpr std::uint16_t tci() const {
    return static_cast<std::uint16_t>(((pcp & 7u) << 13) | (dei ? 0x1000u : 0u) | (vid & 0x0fffu));
  }
  static constexpr VlanTag from(std::uint16_t tpid, std::uint16_t tci) {
    return VlanTag{tpid, static_cast<std::uint8_t>(tci >> 13), (tci & 0x1000u) != 0,
                   static_cast<std::uint16_t>(tci & 0x0fffu)};
  }
  constexpr bool operator==(const VlanTag&) const = default;
};

struct EthernetView {
  const EthernetHeader* header = nullptr;
  VlanTag vlans[kMaxVlanTags];
  std::size_t vlan_count = 0;
  std::uint16_t ethertype = 0;    // of the payload, after any tags
  std::size_t header_length = 0;  // 14 + 4 per tag
  Bytes payload;                  // everything after the header, padding included
};

// Parses the header and tags of a frame. Errors: kTruncated (shorter than the
// header and its tags), kUnsupported (an 802.3 length instead of an EtherType, a
// third tag, or an S-tag inside a tag), kBadAddress (a group source address).
Parsed<EthernetView> parse_ethernet(Bytes frame);

// Writes the header and `vlans` (outermost first, at most kMaxVlanTags) in front
// of a payload of type `ethertype`. Returns the header length, or 0 when `out`
// is too small or there are too many tags.
std::size_t write_ethernet(MutableBytes out, const MacAddress& dst, const MacAddress& src, std::uint16_t ethertype,
                           std::span<const VlanTag> vlans = {});

}  // namespace linetime::wire
