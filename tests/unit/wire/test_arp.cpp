#include "dataplane/wire/arp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace linetime::wire {
namespace {

// Who has 192.0.2.10? Tell 192.0.2.1 (02:00:00:00:00:01).
const std::vector<std::uint8_t> kRequest = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,        // Ethernet, IPv4, 6, 4, request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192,  0,    2, 1,  // sender
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192,  0,    2, 10  // target
};

TEST(Arp, ParsesRequest) {
  const auto v = parse_arp(Bytes(kRequest));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const ArpHeader*>(kRequest.data()));
  EXPECT_EQ(v->op, ArpOp::kRequest);
  EXPECT_EQ(v->sender_mac, (MacAddress{{0x02, 0, 0, 0, 0, 0x01}}));
  EXPECT_EQ(v->sender_ip, Ipv4Address::of(192, 0, 2, 1));
  EXPECT_TRUE(v->target_mac.is_zero());
  EXPECT_EQ(v->target_ip, Ipv4Address::of(192, 0, 2, 10));
}

TEST(Arp, IgnoresEthernetPadding) {
  std::vector<std::uint8_t> padded = kRequest;
  padded.resize(46, 0);
  const auto v = parse_arp(Bytes(padded));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->target_ip, Ipv4Address::of(192, 0, 2, 10));
}

TEST(Arp, ParsesReplyAndGratuitous) {
  std::vector<std::uint8_t> p = kRequest;
  p[7] = 2;
  const auto reply = parse_arp(Bytes(p));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->op, ArpOp::kReply);
  // Gratuitous ARP: sender and target address equal, target MAC broadcast.
  p = kRequest;
  std::memset(&p[18], 0xff, 6);
  std::memcpy(&p[24], &p[14], 4);
  const auto g = parse_arp(Bytes(p));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->sender_ip, g->target_ip);
  EXPECT_TRUE(g->target_mac.is_broadcast());
}

TEST(Arp, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::size_t offset;
    std::uint8_t value;
    ParseError error;
  };
  const Bad table[] = {
      {"hardware type 6 (IEEE 802)", 1, 6, ParseError::kUnsupported},
      {"hardware type 0x0101", 0, 1, ParseError::kUnsupported},
      {"protocol type IPv6", 2, 0x86, ParseError::kUnsupported},
      {"hardware length 8", 4, 8, ParseError::kUnsupported},
      {"protocol length 16", 5, 16, ParseError::kUnsupported},
      {"operation 0", 7, 0, ParseError::kUnsupported},
      {"operation 3 (RARP request)", 7, 3, ParseError::kUnsupported},
      {"operation 0x0101", 6, 1, ParseError::kUnsupported},
      {"group sender MAC", 8, 0x03, ParseError::kBadAddress},
  };
  for (const Bad& b : table) {
    std::vector<std::uint8_t> p = kRequest;
    p[b.offset] = b.value;
    const auto v = parse_arp(Bytes(p));
    ASSERT_FALSE(v.has_value()) << b.name;
    EXPECT_EQ(v.error(), b.error) << b.name;
  }
  for (std::size_t n = 0; n < kRequest.size(); ++n) {
    const auto v = parse_arp(Bytes(kRequest).first(n));
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kTruncated) << n;
  }
}

TEST(Arp, WriteReplyExactBytes) {
  std::uint8_t buf[28];
  const MacAddress ours{{0x02, 0, 0, 0, 0, 0x0a}};
  ASSERT_EQ(write_arp(MutableBytes(buf), ArpOp::kReply, ours, Ipv4Address::of(192, 0, 2, 10),
                      MacAddress{{0x02, 0, 0, 0, 0, 0x01}}, Ipv4Address::of(192, 0, 2, 1)),
            28u);
  const std::uint8_t want[28] = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0, 0, 0, 0, 0x0a, 192, 0,
                                 2,    10,   0x02, 0,    0,    0,    0,    0x01, 192,  0, 2, 1};
  EXPECT_EQ(std::memcmp(buf, want, sizeof want), 0);
}

TEST(Arp, WriteThenParse) {
  std::uint8_t buf[28];
  const MacAddress sha{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
  const MacAddress tha{{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}};
  for (ArpOp op : {ArpOp::kRequest, ArpOp::kReply}) {
    ASSERT_EQ(write_arp(MutableBytes(buf), op, sha, Ipv4Address{0x0a000001}, tha, Ipv4Address{0x0a0000fe}), 28u);
    const auto v = parse_arp(Bytes(buf));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->op, op);
    EXPECT_EQ(v->sender_mac, sha);
    EXPECT_EQ(v->sender_ip, Ipv4Address{0x0a000001});
    EXPECT_EQ(v->target_mac, tha);
    EXPECT_EQ(v->target_ip, Ipv4Address{0x0a0000fe});
  }
}

TEST(Arp, WriteRefusesSmallBuffer) {
  std::uint8_t buf[27];
  EXPECT_EQ(write_arp(MutableBytes(buf), ArpOp::kRequest, MacAddress{}, Ipv4Address{}, MacAddress{}, Ipv4Address{}),
            0u);
}

}  // namespace
}  // namespace linetime::wire
