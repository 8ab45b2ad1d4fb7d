// Next-hop and source choice from the kernel's routes and addresses, and the
// frame an upstream request leaves in (parsed back with the wire parsers,
// which verify every length and checksum).
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "dataplane/kernel_tables.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/udp.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

shm::NetAddress v4(const char* text) { return net_address(*wire::parse_ipv4_address(text)); }
shm::NetAddress v6(const char* text) { return net_address(*wire::parse_ipv6_address(text)); }

Route route(shm::NetAddress prefix, std::uint8_t length, shm::NetAddress gateway = {}, std::uint32_t metric = 0,
            shm::NetAddress source = {}) {
  return Route{prefix, length, gateway, source, metric};
}

const wire::MacAddress kOurs{{0x02, 0, 0, 0, 0, 1}};
const wire::MacAddress kGatewayMac{{0x02, 0, 0, 0, 0, 0x99}};

}  // namespace

TEST(KernelTables, PrefixContains) {
  EXPECT_TRUE(prefix_contains(v4("198.18.0.0"), 24, v4("198.18.0.77")));
  EXPECT_FALSE(prefix_contains(v4("198.18.0.0"), 24, v4("198.18.1.77")));
  EXPECT_TRUE(prefix_contains(v4("198.18.0.0"), 15, v4("198.19.255.1")));
  EXPECT_FALSE(prefix_contains(v4("198.18.0.0"), 15, v4("198.20.0.1")));
  EXPECT_TRUE(prefix_contains(v4("0.0.0.0"), 0, v4("203.0.113.5")));
  EXPECT_TRUE(prefix_contains(v4("198.18.0.9"), 32, v4("198.18.0.9")));
  EXPECT_FALSE(prefix_contains(v4("198.18.0.9"), 33, v4("198.18.0.9")));
  EXPECT_TRUE(prefix_contains(v6("fd00:198:18::"), 64, v6("fd00:198:18::2")));
  EXPECT_FALSE(prefix_contains(v6("fd00:198:18::"), 64, v6("fd00:198:19::2")));
  EXPECT_FALSE(prefix_contains(v6("::"), 0, v4("198.18.0.1")));  // families differ
}

TEST(KernelTables, ConnectedRouteGivesTheDestinationItself) {
  const std::array routes{route(v4("198.18.0.0"), 24), route(v4("0.0.0.0"), 0, v4("198.18.0.254"))};
  const auto hop = choose_next_hop(routes, v4("198.18.0.2"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v4("198.18.0.2"));
}

TEST(KernelTables, OtherDestinationsGoToTheLongestPrefixGateway) {
  const std::array routes{route(v4("198.18.0.0"), 24), route(v4("0.0.0.0"), 0, v4("198.18.0.254")),
                          route(v4("203.0.113.0"), 24, v4("198.18.0.253")), route(v4("203.0.0.0"), 8, v4("198.18.0.252"))};
  auto hop = choose_next_hop(routes, v4("203.0.113.9"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v4("198.18.0.253"));
  hop = choose_next_hop(routes, v4("203.1.2.3"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v4("198.18.0.252"));
  hop = choose_next_hop(routes, v4("192.0.2.1"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v4("198.18.0.254"));
}

TEST(KernelTables, LowerMetricWinsAmongEquallyLongPrefixes) {
  const std::array routes{route(v4("0.0.0.0"), 0, v4("198.18.0.254"), 200), route(v4("0.0.0.0"), 0, v4("198.18.0.253"), 100),
                          route(v4("0.0.0.0"), 0, v4("198.18.0.252"), 300)};
  const auto hop = choose_next_hop(routes, v4("192.0.2.1"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v4("198.18.0.253"));
}

TEST(KernelTables, NoRouteOfTheFamilyIsNoNextHop) {
  const std::array routes{route(v4("0.0.0.0"), 0, v4("198.18.0.254"))};
  EXPECT_FALSE(choose_next_hop(routes, v6("2001:db8::1")));
  EXPECT_FALSE(choose_next_hop(std::span<const Route>{}, v4("198.18.0.2")));
  const std::array v6routes{route(v6("fd00:198:18::"), 64), route(v6("::"), 0, v6("fe80::1"))};
  auto hop = choose_next_hop(v6routes, v6("2001:db8::5"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v6("fe80::1"));
  hop = choose_next_hop(v6routes, v6("fd00:198:18::7"));
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->address, v6("fd00:198:18::7"));
}

TEST(KernelTables, SourcePrefersTheRouteThenTheSubnetThenAnyOfTheFamily) {
  KernelTables k;
  k.addresses = {{v4("198.18.0.1"), 24}, {v4("198.18.7.1"), 24}, {v6("fd00:198:18::1"), 64}};
  AddressSet ours = merge_addresses(AddressSet{}, k.addresses);
  ours.add(*wire::parse_ipv6_address("fe80::1"));
  // The route names a preferred source that is ours.
  EXPECT_EQ(choose_source(k, ours, NextHop{v4("198.18.0.2"), v4("198.18.7.1")}), v4("198.18.7.1"));
  // A preferred source that is not ours (any more) is passed over.
  EXPECT_EQ(choose_source(k, ours, NextHop{v4("198.18.0.2"), v4("198.18.9.9")}), v4("198.18.0.1"));
  // The subnet holding the next hop.
  EXPECT_EQ(choose_source(k, ours, NextHop{v4("198.18.7.200"), {}}), v4("198.18.7.1"));
  // Otherwise the first of the family; IPv6 global before link-local.
  EXPECT_EQ(choose_source(k, ours, NextHop{v4("10.0.0.1"), {}}), v4("198.18.0.1"));
  EXPECT_EQ(choose_source(k, ours, NextHop{v6("2001:db8::9"), {}}), v6("fd00:198:18::1"));
  EXPECT_EQ(choose_source(k, ours, NextHop{v6("fe80::99"), {}}), v6("fe80::1"));
  // Nothing of the family: none.
  EXPECT_EQ(choose_source(KernelTables{}, AddressSet{}, NextHop{v4("198.18.0.2"), {}}).family, 0);
}

TEST(KernelTables, StaticAndLearnedAddressesMerge) {
  AddressSet statics;
  statics.add(wire::Ipv4Address::of(198, 18, 0, 1));
  const std::vector<InterfaceAddress> learned{{v4("198.18.0.1"), 24}, {v4("198.18.0.5"), 24}, {v6("fd00::1"), 64}};
  const AddressSet s = merge_addresses(statics, learned);
  EXPECT_EQ(s.ipv4.size(), 2u);
  EXPECT_EQ(s.ipv6.size(), 1u);
  EXPECT_TRUE(s.has(wire::Ipv4Address::of(198, 18, 0, 5)));
}

TEST(KernelTables, NeighbourLookup) {
  const std::array n{Neighbour{v4("198.18.0.254"), kGatewayMac}, Neighbour{v6("fe80::1"), kOurs}};
  EXPECT_EQ(find_neighbour(n, v4("198.18.0.254")), kGatewayMac);
  EXPECT_EQ(find_neighbour(n, v6("fe80::1")), kOurs);
  EXPECT_FALSE(find_neighbour(n, v4("198.18.0.253")));
}

TEST(KernelTables, UpstreamFrameOverIpv4) {
  shm::UpstreamRequest r{};
  r.dst = v4("203.0.113.9");
  r.dst_port = 123;
  r.src_port = 40001;
  r.length = 48;
  for (int i = 0; i < 48; ++i) r.payload[i] = static_cast<std::uint8_t>(i * 7);
  std::array<std::uint8_t, 256> buf{};
  const std::size_t n = write_upstream_frame(buf, r, v4("198.18.0.1"), kOurs, kGatewayMac);
  ASSERT_EQ(n, 90u);
  const auto eth = wire::parse_ethernet(wire::Bytes(buf.data(), n));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->header->dst, kGatewayMac);
  EXPECT_EQ(eth->header->src, kOurs);
  ASSERT_EQ(eth->ethertype, wire::kEtherTypeIpv4);
  const auto ip = wire::parse_ipv4(eth->payload);  // verifies the header checksum
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->fields.src, wire::Ipv4Address::of(198, 18, 0, 1));
  EXPECT_EQ(ip->fields.dst, wire::Ipv4Address::of(203, 0, 113, 9));
  EXPECT_EQ(ip->fields.ttl, wire::kIpv4DefaultTtl);
  const auto udp = wire::parse_udp(ip->payload, ip->fields.src, ip->fields.dst);  // and the UDP checksum
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->has_checksum);
  EXPECT_EQ(udp->src_port, 40001);
  EXPECT_EQ(udp->dst_port, 123);
  ASSERT_EQ(udp->payload.size(), 48u);
  EXPECT_EQ(std::memcmp(udp->payload.data(), r.payload, 48), 0);
}

TEST(KernelTables, UpstreamFrameOverIpv6) {
  shm::UpstreamRequest r{};
  r.dst = v6("2001:db8::123");
  r.dst_port = 123;
  r.src_port = 40002;
  r.length = 68;  // header + a 20-octet MAC
  for (int i = 0; i < 68; ++i) r.payload[i] = static_cast<std::uint8_t>(255 - i);
  std::array<std::uint8_t, 256> buf{};
  const std::size_t n = write_upstream_frame(buf, r, v6("fd00:198:18::1"), kOurs, kGatewayMac);
  ASSERT_EQ(n, 14u + 40 + 8 + 68);
  const auto eth = wire::parse_ethernet(wire::Bytes(buf.data(), n));
  ASSERT_TRUE(eth);
  ASSERT_EQ(eth->ethertype, wire::kEtherTypeIpv6);
  const auto ip = wire::parse_ipv6(eth->payload);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->fields.src, *wire::parse_ipv6_address("fd00:198:18::1"));
  EXPECT_EQ(ip->fields.dst, *wire::parse_ipv6_address("2001:db8::123"));
  const auto udp = wire::parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->src_port, 40002);
  ASSERT_EQ(udp->payload.size(), 68u);
  EXPECT_EQ(std::memcmp(udp->payload.data(), r.payload, 68), 0);
}

TEST(KernelTables, UpstreamFrameRefusesWhatCannotBeSent) {
  shm::UpstreamRequest r{};
  r.dst = v6("2001:db8::123");
  r.length = 48;
  std::array<std::uint8_t, 256> buf{};
  EXPECT_EQ(write_upstream_frame(buf, r, v4("198.18.0.1"), kOurs, kGatewayMac), 0u);  // families differ
  r.dst = v4("198.18.0.2");
  r.length = shm::kMaxRingPayload + 1;
  EXPECT_EQ(write_upstream_frame(buf, r, v4("198.18.0.1"), kOurs, kGatewayMac), 0u);
  r.length = 200;
  std::array<std::uint8_t, 100> small{};
  EXPECT_EQ(write_upstream_frame(small, r, v4("198.18.0.1"), kOurs, kGatewayMac), 0u);
  // A short payload is padded to the Ethernet minimum.
  r.length = 4;
  EXPECT_EQ(write_upstream_frame(buf, r, v4("198.18.0.1"), kOurs, kGatewayMac), 60u);
}
