// ICMP for IPv4 (RFC 792), echo request and echo reply only: the dataplane answers
// pings to its addresses and hands every other ICMP message to the kernel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/wire/bytes.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Identifier          |        Sequence Number        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Data ...
// +-+-+-+-+-
// The checksum covers the whole ICMP message and no pseudo-header.
struct IcmpEchoHeader {
  std::uint8_t type;
  std::uint8_t code;
  Be16 checksum;
  Be16 identifier;
  Be16 sequence;
};
static_assert(sizeof(IcmpEchoHeader) == 8);
static_assert(offsetof(IcmpEchoHeader, checksum) == 2);
static_assert(offsetof(IcmpEchoHeader, identifier) == 4);
static_assert(offsetof(IcmpEchoHeader, sequence) == 6);

enum class IcmpType : std::uint8_t {
  kEchoReply = 0,
  kEchoRequest = 8,
};

struct IcmpEchoView {
  const IcmpEchoHeader* header = nullptr;
  IcmpType type = IcmpType::kEchoRequest;
  std::uint16_t identifier = 0;
  std::uint16_t sequence = 0;
  Bytes data;  // everything after the 8-octet header
};

// Parses an ICMP echo message (the IPv4 payload). Errors, in order: kTruncated
// (shorter than 8 octets), kBadChecksum, kUnsupported (not an echo request or
// reply, or a non-zero code).
Parsed<IcmpEchoView> parse_icmp_echo(Bytes message);

// Writes an echo message with `data` after the header and its checksum. `data`
// may already sit at out[8...] (a reply built in the request's buffer): it is
// moved, not copied. Returns 8 + data.size(), or 0 when `out` is too small.
std::size_t write_icmp_echo(MutableBytes out, IcmpType type, std::uint16_t identifier, std::uint16_t sequence,
                            Bytes data);

// Turns a verified echo request into its reply in place: changes the type and
// updates the checksum incrementally (RFC 1624). Returns false, changing
// nothing, when `message` is not an echo request.
bool icmp_echo_request_to_reply(MutableBytes message);

}  // namespace linetime::wire
