#include "dataplane/wire/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace linetime::wire {
namespace {

Ipv6Address v6(const char* text) {
  const auto a = parse_ipv6_address(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.has_value() ? *a : Ipv6Address{};
}

TEST(MacAddress, FormatsLowercaseWithColons) {
  EXPECT_EQ(to_string(MacAddress{{0x02, 0x00, 0x5e, 0x10, 0xAB, 0xff}}), "02:00:5e:10:ab:ff");
  EXPECT_EQ(to_string(MacAddress{}), "00:00:00:00:00:00");
  EXPECT_EQ(to_string(MacAddress::broadcast()), "ff:ff:ff:ff:ff:ff");
}

TEST(MacAddress, ParsesColonsAndDashes) {
  const auto a = parse_mac_address("02:00:5E:10:ab:Ff");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (MacAddress{{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff}}));
  const auto b = parse_mac_address("02-00-5e-10-ab-ff");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*a, *b);
}

TEST(MacAddress, RejectsBadText) {
  for (const char* bad : {"", "02:00:5e:10:ab", "02:00:5e:10:ab:ff:", "02:00:5e:10:ab:fg", "02-00:5e:10:ab:ff",
                          "2:00:5e:10:ab:ff0", "02:00:5e:10:ab:f", "02.00.5e.10.ab.ff", "020:0:5e:10:ab:ff",
                          " 02:00:5e:10:ab:ff"}) {
    const auto a = parse_mac_address(bad);
    ASSERT_FALSE(a.has_value()) << bad;
    EXPECT_EQ(a.error(), ParseError::kBadAddress) << bad;
  }
}

TEST(MacAddress, Classifies) {
  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());
  EXPECT_TRUE((MacAddress{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_multicast());
  EXPECT_FALSE((MacAddress{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_broadcast());
  EXPECT_FALSE((MacAddress{{0x02, 0, 0, 0, 0, 1}}).is_multicast());
  EXPECT_TRUE(MacAddress{}.is_zero());
  EXPECT_FALSE(MacAddress::broadcast().is_zero());
}

TEST(Ipv4Address, ValueIsHostOrder) {
  const Ipv4Address a = Ipv4Address::of(192, 0, 2, 1);
  EXPECT_EQ(a.value, 0xc0000201u);
  EXPECT_EQ(a.octet(0), 192);
  EXPECT_EQ(a.octet(3), 1);
  const Be32 wire = a.to_be();
  EXPECT_EQ(wire.b[0], 192);
  EXPECT_EQ(wire.b[3], 1);
  EXPECT_EQ(Ipv4Address::from(wire), a);
}

TEST(Ipv4Address, TextRoundTrip) {
  EXPECT_EQ(to_string(Ipv4Address::of(192, 0, 2, 1)), "192.0.2.1");
  EXPECT_EQ(to_string(Ipv4Address{}), "0.0.0.0");
  EXPECT_EQ(to_string(Ipv4Address{0xffffffffu}), "255.255.255.255");
  for (const char* text : {"0.0.0.0", "10.1.2.3", "255.255.255.255", "192.168.100.200", "1.0.0.1"}) {
    const auto a = parse_ipv4_address(text);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(to_string(*a), text);
  }
  EXPECT_EQ(parse_ipv4_address("172.16.5.4")->value, 0xac100504u);
}

TEST(Ipv4Address, RejectsBadText) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1..3.4",
                          "1.2.3.", ".1.2.3", "1.2.3.4 ", " 1.2.3.4", "1.2.3.x", "1234.1.1.1", "0x1.2.3.4",
                          "1.2.3.-4", "::1"}) {
    const auto a = parse_ipv4_address(bad);
    ASSERT_FALSE(a.has_value()) << bad;
    EXPECT_EQ(a.error(), ParseError::kBadAddress) << bad;
  }
}

TEST(Ipv4Address, Classifies) {
  EXPECT_TRUE(Ipv4Address::of(224, 0, 0, 1).is_multicast());
  EXPECT_TRUE(Ipv4Address::of(239, 255, 255, 255).is_multicast());
  EXPECT_FALSE(Ipv4Address::of(240, 0, 0, 1).is_multicast());
  EXPECT_FALSE(Ipv4Address::of(223, 255, 255, 255).is_multicast());
  EXPECT_TRUE(Ipv4Address{0xffffffffu}.is_broadcast());
  EXPECT_FALSE(Ipv4Address::of(192, 0, 2, 255).is_broadcast());
  EXPECT_TRUE(Ipv4Address{}.is_unspecified());
  EXPECT_TRUE(Ipv4Address::of(127, 1, 2, 3).is_loopback());
}

TEST(Ipv6Address, FormatsRfc5952) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
           Case{"::", "::"},
           Case{"::1", "::1"},
           Case{"1::", "1::"},
           Case{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},      // first of two equal runs
           Case{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},    // a single zero group stays
           Case{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},             // the longest run
           Case{"FE80::ABCD:0:0:1", "fe80::abcd:0:0:1"},
           Case{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
           Case{"::ffff:c000:0201", "::ffff:192.0.2.1"},
           Case{"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
           Case{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
           Case{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
           Case{"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
           Case{"ff02::1:ff00:1", "ff02::1:ff00:1"},
       }) {
    const auto a = parse_ipv6_address(c.in);
    ASSERT_TRUE(a.has_value()) << c.in;
    EXPECT_EQ(to_string(*a), c.out) << c.in;
  }
}

TEST(Ipv6Address, ParsesFields) {
  const Ipv6Address a = v6("2001:db8::102:304");
  const std::uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  EXPECT_EQ(std::memcmp(a.bytes.data(), want, 16), 0);
  EXPECT_EQ(v6("::1.2.3.4"), v6("::102:304"));
  EXPECT_EQ(v6("1:2:3:4:5:6:1.2.3.4"), v6("1:2:3:4:5:6:102:304"));
}

TEST(Ipv6Address, RejectsBadText) {
  for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1::2:",
                          "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::", "1:2:3:4:5:6:7:1.2.3.4",
                          "::1.2.3.4:5", "::1.2.3", "::01.2.3.4", "::256.1.1.1", "1.2.3.4", "fe80::1%eth0",
                          " ::1", "::1 ", "1:::2", "1:2:3:4:5:6:7:8:", ":1:2:3:4:5:6:7:8"}) {
    const auto a = parse_ipv6_address(bad);
    ASSERT_FALSE(a.has_value()) << bad;
    EXPECT_EQ(a.error(), ParseError::kBadAddress) << bad;
  }
}

TEST(Ipv6Address, AgreesWithLibcOnRandomAddresses) {
  // Addresses with many zero groups exercise the "::" choice; libc's inet_ntop
  // follows RFC 5952 too (v4-mapped included; other v4-embedded forms differ).
  std::mt19937 rng(5952);
  for (int i = 0; i < 20000; ++i) {
    Ipv6Address a;
    for (std::size_t g = 0; g < 8; ++g) {
      const unsigned v = (rng() % 3 == 0) ? static_cast<unsigned>(rng()) & 0xffffu : 0;
      a.bytes[2 * g] = static_cast<std::uint8_t>(v >> 8);
      a.bytes[2 * g + 1] = static_cast<std::uint8_t>(v);
    }
    if (a.bytes[0] == 0 && a.bytes[1] == 0 && a.bytes[2] == 0 && a.bytes[3] == 0) a.bytes[0] = 0x20;  // no ::a.b.c.d
    char libc[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.bytes.data(), libc, sizeof libc), nullptr);
    const std::string ours = to_string(a);
    ASSERT_EQ(ours, libc);
    const auto back = parse_ipv6_address(ours);
    ASSERT_TRUE(back.has_value()) << ours;
    ASSERT_EQ(*back, a) << ours;
  }
}

TEST(Ipv6Address, Classifies) {
  EXPECT_TRUE(v6("ff02::1").is_multicast());
  EXPECT_FALSE(v6("fe80::1").is_multicast());
  EXPECT_TRUE(v6("fe80::1").is_link_local());
  EXPECT_TRUE(v6("febf::1").is_link_local());
  EXPECT_FALSE(v6("fec0::1").is_link_local());
  EXPECT_TRUE(v6("::").is_unspecified());
  EXPECT_TRUE(v6("::1").is_loopback());
  EXPECT_FALSE(v6("::2").is_loopback());
  EXPECT_TRUE(v6("::ffff:1.2.3.4").is_v4_mapped());
  EXPECT_FALSE(v6("::fffe:1.2.3.4").is_v4_mapped());
}

TEST(Ipv6Address, SolicitedNodeAndMulticastMacs) {
  EXPECT_EQ(to_string(solicited_node_multicast(v6("2001:db8::aabb:ccdd:eeff"))), "ff02::1:ffdd:eeff");
  EXPECT_EQ(to_string(multicast_mac(v6("ff02::1:ffdd:eeff"))), "33:33:ff:dd:ee:ff");
  EXPECT_EQ(to_string(multicast_mac(Ipv4Address::of(224, 129, 2, 3))), "01:00:5e:01:02:03");  // top bit of octet 1 dropped
  EXPECT_EQ(to_string(multicast_mac(Ipv4Address::of(239, 1, 2, 3))), "01:00:5e:01:02:03");
}

}  // namespace
}  // namespace linetime::wire
