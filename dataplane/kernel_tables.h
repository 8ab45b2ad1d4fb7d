// What the dataplane knows of the kernel's view of the exception interface:
// its addresses, the routes through it and its neighbours (netlink.h fills
// these from libnl's caches), and the pure decisions taken from them for the
// control's upstream requests: which next hop a destination goes to, which
// source address it is sent from, and the frame that carries it.
//
// Addresses are shm::NetAddress (family 4 or 6, network byte order), the form
// the control's requests use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dataplane/address_set.h"
#include "dataplane/shm/messages.h"
#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"

namespace linetime::dataplane {

struct InterfaceAddress {
  shm::NetAddress address;
  std::uint8_t prefix_length = 0;
  bool operator==(const InterfaceAddress&) const = default;
};

struct Route {
  shm::NetAddress prefix;        // bits past prefix_length are ignored
  std::uint8_t prefix_length = 0;
  shm::NetAddress gateway;       // family 0: the destination is on the link
  shm::NetAddress source;        // the preferred source (RTA_PREFSRC); family 0: none
  std::uint32_t metric = 0;      // lower wins among routes of the same prefix length
  bool operator==(const Route&) const = default;
};

struct Neighbour {
  shm::NetAddress address;
  wire::MacAddress mac;
  bool operator==(const Neighbour&) const = default;
};

struct KernelTables {
  std::vector<InterfaceAddress> addresses;
  std::vector<Route> routes;
  std::vector<Neighbour> neighbours;
};

struct NextHop {
  shm::NetAddress address;  // whose MAC the frame goes to: the destination itself or a gateway
  shm::NetAddress source;   // the route's preferred source, if it names one
};

shm::NetAddress net_address(wire::Ipv4Address a);
shm::NetAddress net_address(const wire::Ipv6Address& a);
wire::Ipv4Address ipv4_of(const shm::NetAddress& a);
wire::Ipv6Address ipv6_of(const shm::NetAddress& a);
// "198.18.0.1", "fd00::1", "none".
std::string to_string(const shm::NetAddress& a);

// Whether the first `length` bits of `a` and `prefix` agree (same family).
bool prefix_contains(const shm::NetAddress& prefix, std::uint8_t length, const shm::NetAddress& a);

// The longest-prefix route to `dst` (the lowest metric among equally long
// ones): on-link routes give the destination itself as next hop, others
// their gateway. None when no route of `dst`'s family matches.
std::optional<NextHop> choose_next_hop(std::span<const Route> routes, const shm::NetAddress& dst);

// The source address for a request through `hop`: the route's preferred
// source when it is one of ours; else our address whose subnet holds the next
// hop; else our first address of the family, learned or static. Family 0 when
// there is none.
shm::NetAddress choose_source(const KernelTables& kernel, const AddressSet& ours, const NextHop& hop);

std::optional<wire::MacAddress> find_neighbour(std::span<const Neighbour> neighbours, const shm::NetAddress& a);

// The addresses answered on: the static ones and every learned one.
AddressSet merge_addresses(const AddressSet& statics, std::span<const InterfaceAddress> learned);

// Writes an Ethernet/IPv4 or Ethernet/IPv6 UDP frame carrying `request`'s
// payload from `src`:request.src_port to request.dst:request.dst_port, with
// both checksums. Returns the frame length, or 0 when `out` is too small, the
// families of `src` and the destination differ, or the request's length is
// beyond kMaxRingPayload.
std::size_t write_upstream_frame(wire::MutableBytes out, const shm::UpstreamRequest& request, const shm::NetAddress& src,
                                 const wire::MacAddress& src_mac, const wire::MacAddress& dst_mac);

}  // namespace linetime::dataplane
