#include "dataplane/wire/ipv6.h"

namespace linetime::wire {

bool is_ipv6_extension_header(std::uint8_t next_header) {
  switch (next_header) {
    case kIpProtoHopByHop:
    case kIpProtoRouting:
    case kIpProtoFragment:
    case kIpProtoEsp:
    case kIpProtoAh:
    case kIpProtoDestOpts:
    case kIpProtoMobility:
    case kIpProtoHip:
    case kIpProtoShim6:
    case 253:  // RFC 3692 experimentation
    case 254:
      return true;
    default:
      return false;
  }
}

Parsed<Ipv6View> parse_ipv6(Bytes packet) {
  Ipv6View v;
  v.header = overlay<Ipv6Header>(packet);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  const Ipv6Header& h = *v.header;
  if (h.version() != 6) return unexpected(ParseError::kBadVersion);
  const std::size_t length = h.payload_length.get();
  if (length > packet.size() - sizeof(Ipv6Header)) return unexpected(ParseError::kTruncated);
  if (h.next_header == kIpProtoFragment) return unexpected(ParseError::kFragment);
  if (is_ipv6_extension_header(h.next_header)) return unexpected(ParseError::kUnsupported);
  if (h.src.is_multicast()) return unexpected(ParseError::kBadAddress);

  v.fields.src = h.src;
  v.fields.dst = h.dst;
  v.fields.next_header = h.next_header;
  v.fields.hop_limit = h.hop_limit;
  v.fields.traffic_class = h.traffic_class();
  v.fields.flow_label = h.flow_label();
  v.payload = packet.subspan(sizeof(Ipv6Header), length);
  return v;
}

std::size_t write_ipv6(MutableBytes out, const Ipv6Fields& fields, std::size_t payload_length) {
  auto* h = overlay<Ipv6Header>(out);
  if (h == nullptr || payload_length > kIpv6MaxPayloadLength) return 0;
  h->version_class_flow.set((6u << 28) | (std::uint32_t{fields.traffic_class} << 20) | (fields.flow_label & 0xfffffu));
  h->payload_length.set(static_cast<std::uint16_t>(payload_length));
  h->next_header = fields.next_header;
  h->hop_limit = fields.hop_limit;
  h->src = fields.src;
  h->dst = fields.dst;
  return sizeof(Ipv6Header);
}

}  // namespace linetime::wire
