#include "dataplane/wire/arp.h"

namespace linetime::wire {

Parsed<ArpView> parse_arp(Bytes packet) {
  ArpView v;
  v.header = overlay<ArpHeader>(packet);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  const ArpHeader& h = *v.header;
  if (h.htype.get() != kArpHardwareEthernet || h.ptype.get() != kArpProtocolIpv4) {
    return unexpected(ParseError::kUnsupported);
  }
  if (h.hlen != sizeof(MacAddress) || h.plen != sizeof(Be32)) return unexpected(ParseError::kUnsupported);
  const std::uint16_t op = h.oper.get();
  if (op != static_cast<std::uint16_t>(ArpOp::kRequest) && op != static_cast<std::uint16_t>(ArpOp::kReply)) {
    return unexpected(ParseError::kUnsupported);
  }
  if (h.sha.is_multicast()) return unexpected(ParseError::kBadAddress);

  v.op = static_cast<ArpOp>(op);
  v.sender_mac = h.sha;
  v.sender_ip = Ipv4Address::from(h.spa);
  v.target_mac = h.tha;
  v.target_ip = Ipv4Address::from(h.tpa);
  return v;
}

std::size_t write_arp(MutableBytes out, ArpOp op, const MacAddress& sender_mac, Ipv4Address sender_ip,
                      const MacAddress& target_mac, Ipv4Address target_ip) {
  auto* h = overlay<ArpHeader>(out);
  if (h == nullptr) return 0;
  h->htype.set(kArpHardwareEthernet);
  h->ptype.set(kArpProtocolIpv4);
  h->hlen = sizeof(MacAddress);
  h->plen = sizeof(Be32);
  h->oper.set(static_cast<std::uint16_t>(op));
  h->sha = sender_mac;
  h->spa = sender_ip.to_be();
  h->tha = target_mac;
  h->tpa = target_ip.to_be();
  return sizeof(ArpHeader);
}

}  // namespace linetime::wire
