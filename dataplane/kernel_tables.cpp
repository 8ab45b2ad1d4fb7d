#include "dataplane/kernel_tables.h"

#include <cstring>

#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/udp.h"

namespace linetime::dataplane {

shm::NetAddress net_address(wire::Ipv4Address a) {
  shm::NetAddress n;
  n.family = 4;
  for (unsigned i = 0; i < 4; ++i) n.bytes[i] = a.octet(i);
  return n;
}

shm::NetAddress net_address(const wire::Ipv6Address& a) {
  shm::NetAddress n;
  n.family = 6;
  std::memcpy(n.bytes, a.bytes.data(), 16);
  return n;
}

wire::Ipv4Address ipv4_of(const shm::NetAddress& a) {
  return wire::Ipv4Address::of(a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]);
}

wire::Ipv6Address ipv6_of(const shm::NetAddress& a) {
  wire::Ipv6Address v;
  std::memcpy(v.bytes.data(), a.bytes, 16);
  return v;
}

std::string to_string(const shm::NetAddress& a) {
  if (a.family == 4) return wire::to_string(ipv4_of(a));
  if (a.family == 6) return wire::to_string(ipv6_of(a));
  return "none";
}

bool prefix_contains(const shm::NetAddress& prefix, std::uint8_t length, const shm::NetAddress& a) {
  if (prefix.family != a.family || (a.family != 4 && a.family != 6)) return false;
  const unsigned bits = a.family == 4 ? 32 : 128;
  if (length > bits) return false;
  const unsigned whole = length / 8, rest = length % 8;
  if (std::memcmp(prefix.bytes, a.bytes, whole) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return ((prefix.bytes[whole] ^ a.bytes[whole]) & mask) == 0;
}

std::optional<NextHop> choose_next_hop(std::span<const Route> routes, const shm::NetAddress& dst) {
  const Route* best = nullptr;
  for (const Route& r : routes) {
    if (!prefix_contains(r.prefix, r.prefix_length, dst)) continue;
    if (best == nullptr || r.prefix_length > best->prefix_length ||
        (r.prefix_length == best->prefix_length && r.metric < best->metric)) {
      best = &r;
    }
  }
  if (best == nullptr) return std::nullopt;
  return NextHop{best->gateway.family == 0 ? dst : best->gateway, best->source};
}

namespace {

bool ours(const AddressSet& set, const shm::NetAddress& a) {
  if (a.family == 4) return set.has(ipv4_of(a));
  if (a.family == 6) return set.has(ipv6_of(a));
  return false;
}

}  // namespace

shm::NetAddress choose_source(const KernelTables& kernel, const AddressSet& set, const NextHop& hop) {
  const std::uint8_t family = hop.address.family;
  if (hop.source.family == family && ours(set, hop.source)) return hop.source;
  for (const InterfaceAddress& a : kernel.addresses) {
    if (prefix_contains(a.address, a.prefix_length, hop.address) && ours(set, a.address)) return a.address;
  }
  if (family == 4 && !set.ipv4.empty()) return net_address(set.ipv4.front());
  if (family == 6) {
    // A global address before a link-local one, unless the next hop is link-local.
    const bool link = ipv6_of(hop.address).is_link_local();
    for (const wire::Ipv6Address& a : set.ipv6) {
      if (a.is_link_local() == link) return net_address(a);
    }
    if (!set.ipv6.empty()) return net_address(set.ipv6.front());
  }
  return shm::NetAddress{};
}

std::optional<wire::MacAddress> find_neighbour(std::span<const Neighbour> neighbours, const shm::NetAddress& a) {
  for (const Neighbour& n : neighbours) {
    if (n.address == a) return n.mac;
  }
  return std::nullopt;
}

AddressSet merge_addresses(const AddressSet& statics, std::span<const InterfaceAddress> learned) {
  AddressSet s = statics;
  for (const InterfaceAddress& a : learned) {
    if (a.address.family == 4) s.add(ipv4_of(a.address));
    if (a.address.family == 6) s.add(ipv6_of(a.address));
  }
  return s;
}

std::size_t write_upstream_frame(wire::MutableBytes out, const shm::UpstreamRequest& request, const shm::NetAddress& src,
                                 const wire::MacAddress& src_mac, const wire::MacAddress& dst_mac) {
  if (src.family != request.dst.family || request.length > shm::kMaxRingPayload) return 0;
  const bool v6 = src.family == 6;
  if (!v6 && src.family != 4) return 0;
  const std::size_t l3 = sizeof(wire::EthernetHeader);
  const std::size_t l4 = l3 + (v6 ? sizeof(wire::Ipv6Header) : sizeof(wire::Ipv4Header));
  if (out.size() < l4 + sizeof(wire::UdpHeader) + request.length) return 0;
  if (wire::write_ethernet(out, dst_mac, src_mac, v6 ? wire::kEtherTypeIpv6 : wire::kEtherTypeIpv4) != l3) return 0;
  const wire::Bytes payload(request.payload, request.length);
  std::size_t udp = 0;
  if (v6) {
    wire::Ipv6Fields f;
    f.src = ipv6_of(src);
    f.dst = ipv6_of(request.dst);
    udp = wire::write_udp(out.subspan(l4), f.src, f.dst, request.src_port, request.dst_port, payload);
    if (udp == 0 || wire::write_ipv6(out.subspan(l3), f, udp) == 0) return 0;
  } else {
    wire::Ipv4Fields f;
    f.src = ipv4_of(src);
    f.dst = ipv4_of(request.dst);
    udp = wire::write_udp(out.subspan(l4), f.src, f.dst, request.src_port, request.dst_port, payload);
    if (udp == 0 || wire::write_ipv4(out.subspan(l3), f, udp) == 0) return 0;
  }
  std::size_t length = l4 + udp;
  if (length < 60 && out.size() >= 60) {  // the Ethernet minimum, without FCS
    std::memset(out.data() + length, 0, 60 - length);
    length = 60;
  }
  return length;
}

}  // namespace linetime::dataplane
