#include "dataplane/wire/icmpv6.h"

#include <cstring>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ip.h"

namespace linetime::wire {

namespace {

constexpr std::size_t kNdOptionUnit = 8;

bool is_solicited_node_group(const Ipv6Address& a) {
  const Ipv6Address prefix = solicited_node_multicast(Ipv6Address{});
  return std::memcmp(a.bytes.data(), prefix.bytes.data(), 13) == 0;
}

Parsed<Icmpv6View> parse_nd(Icmpv6View v, Bytes message, const Ipv6Address& src, const Ipv6Address& dst,
                            std::uint8_t hop_limit) {
  if (hop_limit != kNdHopLimit) return unexpected(ParseError::kBadAddress);
  const auto* nd = overlay<NdHeader>(message);
  if (nd == nullptr) return unexpected(ParseError::kTruncated);
  if (nd->target.is_multicast()) return unexpected(ParseError::kBadAddress);
  v.target = nd->target;

  const bool solicitation = v.type == Icmpv6Type::kNeighborSolicitation;
  const std::uint8_t wanted = solicitation ? kNdOptionSourceLinkLayer : kNdOptionTargetLinkLayer;
  Bytes options = message.subspan(sizeof(NdHeader));
  while (!options.empty()) {
    if (options.size() < 2) return unexpected(ParseError::kTruncated);
    const std::size_t len = std::size_t{options[1]} * kNdOptionUnit;
    if (len == 0) return unexpected(ParseError::kBadLength);
    if (len > options.size()) return unexpected(ParseError::kTruncated);
    if (options[0] == wanted) {
      if (len != sizeof(NdLinkLayerOption)) return unexpected(ParseError::kUnsupported);
      if (!v.link_layer) v.link_layer = overlay<NdLinkLayerOption>(options)->address;
    }
    options = options.subspan(len);
  }

  if (solicitation) {
    // Duplicate address detection (RFC 4861 section 7.1.1).
    if (src.is_unspecified() && (!is_solicited_node_group(dst) || v.link_layer)) {
      return unexpected(ParseError::kBadAddress);
    }
  } else {
    v.na_flags = nd->flags.get() & kNaFlagMask;
    if (dst.is_multicast() && (v.na_flags & kNaFlagSolicited) != 0) return unexpected(ParseError::kBadAddress);
  }
  return v;
}

std::size_t write_nd(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, Icmpv6Type type,
                     const Ipv6Address& target, std::uint32_t flags, std::uint8_t option_type,
                     std::optional<MacAddress> mac) {
  const std::size_t need = sizeof(NdHeader) + (mac ? sizeof(NdLinkLayerOption) : 0);
  if (out.size() < need) return 0;
  auto* nd = overlay<NdHeader>(out);
  nd->type = static_cast<std::uint8_t>(type);
  nd->code = 0;
  nd->checksum.set(0);
  nd->flags.set(flags);
  nd->target = target;
  if (mac) {
    auto* opt = overlay<NdLinkLayerOption>(out.subspan(sizeof(NdHeader)));
    opt->type = option_type;
    opt->length = 1;
    opt->address = *mac;
  }
  nd->checksum.set(transport_checksum(src, dst, kIpProtoIcmpv6, out.first(need)));
  return need;
}

}  // namespace

Parsed<Icmpv6View> parse_icmpv6(Bytes message, const Ipv6Address& src, const Ipv6Address& dst,
                                std::uint8_t hop_limit) {
  Icmpv6View v;
  v.header = overlay<Icmpv6Header>(message);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  if (transport_checksum(src, dst, kIpProtoIcmpv6, message) != 0) return unexpected(ParseError::kBadChecksum);
  if (v.header->code != 0) return unexpected(ParseError::kUnsupported);

  switch (static_cast<Icmpv6Type>(v.header->type)) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply: {
      v.type = static_cast<Icmpv6Type>(v.header->type);
      const auto* echo = overlay<Icmpv6EchoHeader>(message);
      if (echo == nullptr) return unexpected(ParseError::kTruncated);
      v.identifier = echo->identifier.get();
      v.sequence = echo->sequence.get();
      v.data = message.subspan(sizeof(Icmpv6EchoHeader));
      return v;
    }
    case Icmpv6Type::kNeighborSolicitation:
    case Icmpv6Type::kNeighborAdvertisement:
      v.type = static_cast<Icmpv6Type>(v.header->type);
      return parse_nd(v, message, src, dst, hop_limit);
  }
  return unexpected(ParseError::kUnsupported);
}

std::size_t write_icmpv6_echo(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, Icmpv6Type type,
                              std::uint16_t identifier, std::uint16_t sequence, Bytes data) {
  const std::size_t need = sizeof(Icmpv6EchoHeader) + data.size();
  if (out.size() < need) return 0;
  if (!data.empty()) std::memmove(out.data() + sizeof(Icmpv6EchoHeader), data.data(), data.size());
  auto* h = overlay<Icmpv6EchoHeader>(out);
  h->type = static_cast<std::uint8_t>(type);
  h->code = 0;
  h->checksum.set(0);
  h->identifier.set(identifier);
  h->sequence.set(sequence);
  h->checksum.set(transport_checksum(src, dst, kIpProtoIcmpv6, out.first(need)));
  return need;
}

std::size_t write_neighbor_solicitation(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst,
                                        const Ipv6Address& target, std::optional<MacAddress> source_mac) {
  return write_nd(out, src, dst, Icmpv6Type::kNeighborSolicitation, target, 0, kNdOptionSourceLinkLayer,
                  source_mac);
}

std::size_t write_neighbor_advertisement(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst,
                                         const Ipv6Address& target, std::uint32_t flags,
                                         std::optional<MacAddress> target_mac) {
  return write_nd(out, src, dst, Icmpv6Type::kNeighborAdvertisement, target, flags & kNaFlagMask,
                  kNdOptionTargetLinkLayer, target_mac);
}

}  // namespace linetime::wire
