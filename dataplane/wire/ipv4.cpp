#include "dataplane/wire/ipv4.h"

#include "dataplane/wire/checksum.h"

namespace linetime::wire {

Parsed<Ipv4View> parse_ipv4(Bytes packet) {
  Ipv4View v;
  v.header = overlay<Ipv4Header>(packet);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  const Ipv4Header& h = *v.header;
  if (h.version() != 4) return unexpected(ParseError::kBadVersion);
  if (h.ihl() < 5) return unexpected(ParseError::kBadHeaderLength);
  if (h.ihl() > 5) return unexpected(ParseError::kIpOptions);
  const std::size_t total = h.total_length.get();
  if (total < sizeof(Ipv4Header)) return unexpected(ParseError::kBadLength);
  if (total > packet.size()) return unexpected(ParseError::kTruncated);
  if (internet_checksum(packet.first(sizeof(Ipv4Header))) != 0) return unexpected(ParseError::kBadChecksum);
  const std::uint16_t flags = h.flags_fragment.get();
  if ((flags & (kIpv4FlagMoreFragments | kIpv4FragmentOffsetMask)) != 0) return unexpected(ParseError::kFragment);
  if ((flags & kIpv4FlagReserved) != 0) return unexpected(ParseError::kUnsupported);

  v.fields.src = Ipv4Address::from(h.src);
  v.fields.dst = Ipv4Address::from(h.dst);
  if (v.fields.src.is_multicast() || v.fields.src.is_broadcast()) return unexpected(ParseError::kBadAddress);
  v.fields.protocol = h.protocol;
  v.fields.ttl = h.ttl;
  v.fields.tos = h.tos;
  v.fields.identification = h.identification.get();
  v.fields.dont_fragment = (flags & kIpv4FlagDontFragment) != 0;
  v.payload = packet.subspan(sizeof(Ipv4Header), total - sizeof(Ipv4Header));
  return v;
}

std::size_t write_ipv4(MutableBytes out, const Ipv4Fields& fields, std::size_t payload_length) {
  auto* h = overlay<Ipv4Header>(out);
  if (h == nullptr || payload_length > kIpv4MaxTotalLength - sizeof(Ipv4Header)) return 0;
  h->version_ihl = 0x45;
  h->tos = fields.tos;
  h->total_length.set(static_cast<std::uint16_t>(sizeof(Ipv4Header) + payload_length));
  h->identification.set(fields.identification);
  h->flags_fragment.set(fields.dont_fragment ? kIpv4FlagDontFragment : 0);
  h->ttl = fields.ttl;
  h->protocol = fields.protocol;
  h->checksum.set(0);
  h->src = fields.src.to_be();
  h->dst = fields.dst.to_be();
  h->checksum.set(ipv4_header_checksum(out.first(sizeof(Ipv4Header))));
  return sizeof(Ipv4Header);
}

}  // namespace linetime::wire
