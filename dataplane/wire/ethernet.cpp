#include "dataplane/wire/ethernet.h"

namespace linetime::wire {

namespace {

constexpr bool is_tpid(std::uint16_t t) { return t == kEtherTypeVlan || t == kEtherTypeQinQ; }

}  // namespace

Parsed<EthernetView> parse_ethernet(Bytes frame) {
  EthernetView v;
  v.header = overlay<EthernetHeader>(frame);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  if (v.header->src.is_multicast()) return unexpected(ParseError::kBadAddress);

  std::size_t offset = sizeof(EthernetHeader);
  std::uint16_t type = v.header->ethertype.get();
  while (is_tpid(type)) {
    // An S-tag only ever sits outermost; a third tag is beyond what we accept.
    if (v.vlan_count == kMaxVlanTags || (v.vlan_count > 0 && type == kEtherTypeQinQ)) {
      return unexpected(ParseError::kUnsupported);
    }
    const auto* tag = overlay<VlanHeader>(frame.subspan(offset));
    if (tag == nullptr) return unexpected(ParseError::kTruncated);
    v.vlans[v.vlan_count++] = VlanTag::from(type, tag->tci.get());
    type = tag->ethertype.get();
    offset += sizeof(VlanHeader);
  }
  if (type < kEtherTypeMin) return unexpected(ParseError::kUnsupported);

  v.ethertype = type;
  v.header_length = offset;
  v.payload = frame.subspan(offset);
  return v;
}

std::size_t write_ethernet(MutableBytes out, const MacAddress& dst, const MacAddress& src, std::uint16_t ethertype,
                           std::span<const VlanTag> vlans) {
  if (vlans.size() > kMaxVlanTags) return 0;
  const std::size_t need = sizeof(EthernetHeader) + vlans.size() * sizeof(VlanHeader);
  if (out.size() < need) return 0;

  auto* h = overlay<EthernetHeader>(out);
  h->dst = dst;
  h->src = src;
  h->ethertype.set(vlans.empty() ? ethertype : vlans[0].tpid);
  std::size_t offset = sizeof(EthernetHeader);
  for (std::size_t i = 0; i < vlans.size(); ++i) {
    auto* tag = overlay<VlanHeader>(out.subspan(offset));
    tag->tci.set(vlans[i].tci());
    tag->ethertype.set(i + 1 < vlans.size() ? vlans[i + 1].tpid : ethertype);
    offset += sizeof(VlanHeader);
  }
  return need;
}

}  // namespace linetime::wire
