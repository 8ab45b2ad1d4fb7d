#include "dataplane/wire/ipv6.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace linetime::wire {
namespace {

// 2001:db8::1 -> 2001:db8::2, traffic class 0xb8, flow label 0x12345, UDP, hop
// limit 64, 8-octet payload.
std::vector<std::uint8_t> packet() {
  std::vector<std::uint8_t> p = {0x6b, 0x81, 0x23, 0x45, 0x00, 0x08, 17, 64};
  const std::uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  p.insert(p.end(), src, src + 16);
  p.insert(p.end(), dst, dst + 16);
  for (int i = 0; i < 8; ++i) p.push_back(static_cast<std::uint8_t>(0xa0 + i));
  return p;
}

Ipv6Address addr(std::uint8_t last) {
  Ipv6Address a{{0x20, 0x01, 0x0d, 0xb8}};
  a.bytes[15] = last;
  return a;
}

TEST(Ipv6, ParsesFields) {
  const auto p = packet();
  const auto v = parse_ipv6(Bytes(p));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const Ipv6Header*>(p.data()));
  EXPECT_EQ(v->header->version(), 6u);
  EXPECT_EQ(v->fields.traffic_class, 0xb8);
  EXPECT_EQ(v->fields.flow_label, 0x12345u);
  EXPECT_EQ(v->fields.next_header, kIpProtoUdp);
  EXPECT_EQ(v->fields.hop_limit, 64);
  EXPECT_EQ(v->fields.src, addr(1));
  EXPECT_EQ(v->fields.dst, addr(2));
  EXPECT_EQ(v->payload.data(), p.data() + 40);
  EXPECT_EQ(v->payload.size(), 8u);
  EXPECT_EQ(v->payload[0], 0xa0);
}

TEST(Ipv6, PayloadTrimmedToPayloadLength) {
  auto p = packet();
  p.resize(p.size() + 6, 0);  // Ethernet padding
  const auto v = parse_ipv6(Bytes(p));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->payload.size(), 8u);
  p[5] = 0;  // payload length 0 (e.g. next header 59)
  p[6] = kIpProtoNoNext;
  const auto empty = parse_ipv6(Bytes(p));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->payload.empty());
}

TEST(Ipv6, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::size_t offset;
    std::uint8_t value;
    ParseError error;
  };
  const Bad table[] = {
      {"version 4", 0, 0x4b, ParseError::kBadVersion},
      {"version 0", 0, 0x0b, ParseError::kBadVersion},
      {"version 15", 0, 0xfb, ParseError::kBadVersion},
      {"payload length 9", 5, 9, ParseError::kTruncated},
      {"payload length 0x0108", 4, 1, ParseError::kTruncated},
      {"fragment header", 6, kIpProtoFragment, ParseError::kFragment},
      {"hop-by-hop options", 6, kIpProtoHopByHop, ParseError::kUnsupported},
      {"routing header", 6, kIpProtoRouting, ParseError::kUnsupported},
      {"destination options", 6, kIpProtoDestOpts, ParseError::kUnsupported},
      {"ESP", 6, kIpProtoEsp, ParseError::kUnsupported},
      {"AH", 6, kIpProtoAh, ParseError::kUnsupported},
      {"mobility", 6, kIpProtoMobility, ParseError::kUnsupported},
      {"HIP", 6, kIpProtoHip, ParseError::kUnsupported},
      {"shim6", 6, kIpProtoShim6, ParseError::kUnsupported},
      {"experimental 253", 6, 253, ParseError::kUnsupported},
      {"multicast source", 8, 0xff, ParseError::kBadAddress},
  };
  for (const Bad& b : table) {
    auto p = packet();
    p[b.offset] = b.value;
    const auto v = parse_ipv6(Bytes(p));
    ASSERT_FALSE(v.has_value()) << b.name;
    EXPECT_EQ(v.error(), b.error) << b.name << ": got " << to_string(v.error());
  }
  const auto p = packet();
  for (std::size_t n = 0; n < p.size(); ++n) {
    const auto v = parse_ipv6(Bytes(p).first(n));
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kTruncated) << n;
  }
}

TEST(Ipv6, UpperLayersAreAccepted) {
  for (std::uint8_t nh : {kIpProtoUdp, kIpProtoTcp, kIpProtoIcmpv6, kIpProtoNoNext, std::uint8_t{41}}) {
    auto p = packet();
    p[6] = nh;
    const auto v = parse_ipv6(Bytes(p));
    ASSERT_TRUE(v.has_value()) << int{nh};
    EXPECT_EQ(v->fields.next_header, nh);
  }
}

TEST(Ipv6, WriteReproducesPacket) {
  Ipv6Fields f;
  f.src = addr(1);
  f.dst = addr(2);
  f.next_header = kIpProtoUdp;
  f.hop_limit = 64;
  f.traffic_class = 0xb8;
  f.flow_label = 0x12345;
  std::uint8_t buf[40];
  ASSERT_EQ(write_ipv6(MutableBytes(buf), f, 8), 40u);
  const auto p = packet();
  EXPECT_EQ(std::memcmp(buf, p.data(), 40), 0);
}

TEST(Ipv6, WriteThenParse) {
  Ipv6Fields f;
  f.src = addr(7);
  f.dst = Ipv6Address{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1}};
  f.next_header = kIpProtoIcmpv6;
  f.hop_limit = 255;
  f.flow_label = 0xfffff;
  std::vector<std::uint8_t> buf(40 + 1000);
  ASSERT_EQ(write_ipv6(MutableBytes(buf), f, 1000), 40u);
  const auto v = parse_ipv6(Bytes(buf));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->fields, f);
  EXPECT_EQ(v->payload.size(), 1000u);
}

TEST(Ipv6, WriteMasksFlowLabelAndRefuses) {
  Ipv6Fields f;
  f.flow_label = 0xfff12345;  // only 20 bits fit
  std::uint8_t buf[40];
  ASSERT_EQ(write_ipv6(MutableBytes(buf), f, 0), 40u);
  EXPECT_EQ(buf[0], 0x60);
  EXPECT_EQ(buf[1], 0x01);
  EXPECT_EQ(buf[2], 0x23);
  EXPECT_EQ(buf[3], 0x45);
  EXPECT_EQ(write_ipv6(MutableBytes(buf, 39), f, 0), 0u);
  EXPECT_EQ(write_ipv6(MutableBytes(buf), f, 65536), 0u);
  EXPECT_EQ(write_ipv6(MutableBytes(buf), f, 65535), 40u);
}

}  // namespace
}  // namespace linetime::wire
