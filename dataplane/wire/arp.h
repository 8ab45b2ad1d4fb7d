// ARP (RFC 826) for IPv4 over Ethernet, the only kind the dataplane answers:
// requests for its own addresses get replies, everything else goes to the kernel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |      Hardware type (1)        |    Protocol type (0x0800)     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  HLEN (6)     |   PLEN (4)    |          Operation            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Sender hardware address (48)                  |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |  Sender protocol address (32) |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                 Target hardware address (48)                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Target protocol address (32)                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct ArpHeader {
  Be16 htype;
  Be16 ptype;
  std::uint8_t hlen;
  std::uint8_t plen;
  Be16 oper;
  MacAddress sha;
  Be32 spa;
  MacAddress tha;
  Be32 tpa;
};
static_assert(sizeof(ArpHeader) == 28);
static_assert(offsetof(ArpHeader, hlen) == 4);
static_assert(offsetof(ArpHeader, oper) == 6);
static_assert(offsetof(ArpHeader, sha) == 8);
static_assert(offsetof(ArpHeader, spa) == 14);
static_assert(offsetof(ArpHeader, tha) == 18);
static_assert(offsetof(ArpHeader, tpa) == 24);

inline constexpr std::uint16_t kArpHardwareEthernet = 1;
inline constexpr std::uint16_t kArpProtocolIpv4 = 0x0800;

enum class ArpOp : std::uint16_t {
  kRequest = 1,
  kReply = 2,
};

struct ArpView {
  const ArpHeader* header = nullptr;
  ArpOp op = ArpOp::kRequest;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;  // zero in a request
  Ipv4Address target_ip;
};

// Parses an ARP packet (the Ethernet payload; padding after the 28 octets is
// ignored). Errors: kTruncated; kUnsupported for another hardware or protocol
// type, other address lengths, or an operation other than request and reply;
// kBadAddress for a group sender hardware address.
Parsed<ArpView> parse_arp(Bytes packet);

// Writes an Ethernet/IPv4 ARP packet. Returns 28, or 0 when `out` is too small.
std::size_t write_arp(MutableBytes out, ArpOp op, const MacAddress& sender_mac, Ipv4Address sender_ip,
                      const MacAddress& target_mac, Ipv4Address target_ip);

}  // namespace linetime::wire
