#include "dataplane/wire/ethernet.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace linetime::wire {
namespace {

const MacAddress kDst{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddress kSrc{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// dst, src, then the given type/tag octets and a 4-octet payload.
std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& after_src) {
  const std::uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  const std::uint8_t payload[4] = {0xde, 0xad, 0xbe, 0xef};
  // Sized up front and filled by memcpy: vector::insert trips a false -Warray-bounds in GCC 12 at -O2.
  std::vector<std::uint8_t> f(sizeof macs + after_src.size() + sizeof payload);
  std::memcpy(f.data(), macs, sizeof macs);
  if (!after_src.empty()) std::memcpy(f.data() + sizeof macs, after_src.data(), after_src.size());
  std::memcpy(f.data() + sizeof macs + after_src.size(), payload, sizeof payload);
  return f;
}

TEST(Ethernet, ParsesUntaggedFrame) {
  const auto f = frame({0x08, 0x00});
  const auto v = parse_ethernet(Bytes(f));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header->dst, kDst);
  EXPECT_EQ(v->header->src, kSrc);
  EXPECT_EQ(v->ethertype, kEtherTypeIpv4);
  EXPECT_EQ(v->vlan_count, 0u);
  EXPECT_EQ(v->header_length, 14u);
  ASSERT_EQ(v->payload.size(), 4u);
  EXPECT_EQ(v->payload.data(), f.data() + 14);
  EXPECT_EQ(v->payload[0], 0xde);
}

TEST(Ethernet, ParsesOneTag) {
  // PCP 5, DEI 1, VID 0x123; inner type IPv6.
  const auto f = frame({0x81, 0x00, 0xb1, 0x23, 0x86, 0xdd});
  const auto v = parse_ethernet(Bytes(f));
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->vlan_count, 1u);
  EXPECT_EQ(v->vlans[0].tpid, kEtherTypeVlan);
  EXPECT_EQ(v->vlans[0].pcp, 5);
  EXPECT_TRUE(v->vlans[0].dei);
  EXPECT_EQ(v->vlans[0].vid, 0x123);
  EXPECT_EQ(v->vlans[0].tci(), 0xb123);
  EXPECT_EQ(v->ethertype, kEtherTypeIpv6);
  EXPECT_EQ(v->header_length, 18u);
  EXPECT_EQ(v->payload.size(), 4u);
}

TEST(Ethernet, ParsesQinQ) {
  const auto f = frame({0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0xe0, 0x0a, 0x08, 0x06});
  const auto v = parse_ethernet(Bytes(f));
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->vlan_count, 2u);
  EXPECT_EQ(v->vlans[0], (VlanTag{kEtherTypeQinQ, 0, false, 100}));
  EXPECT_EQ(v->vlans[1], (VlanTag{kEtherTypeVlan, 7, false, 10}));
  EXPECT_EQ(v->ethertype, kEtherTypeArp);
  EXPECT_EQ(v->header_length, 22u);
  EXPECT_EQ(v->payload.size(), 4u);
}

TEST(Ethernet, AcceptsTwoCTags) {
  const auto f = frame({0x81, 0x00, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02, 0x08, 0x00});
  const auto v = parse_ethernet(Bytes(f));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->vlans[0].vid, 1);
  EXPECT_EQ(v->vlans[1].vid, 2);
}

TEST(Ethernet, EmptyPayloadIsFine) {
  std::vector<std::uint8_t> f = frame({0x08, 0x00});
  f.resize(14);
  const auto v = parse_ethernet(Bytes(f));
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->payload.empty());
}

struct Bad {
  const char* name;
  std::vector<std::uint8_t> bytes;
  ParseError error;
};

TEST(Ethernet, MalformedInputTable) {
  std::vector<Bad> table = {
      {"802.3 length field", frame({0x00, 0x2e}), ParseError::kUnsupported},
      {"type 0x05ff", frame({0x05, 0xff}), ParseError::kUnsupported},
      {"three tags", frame({0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x08, 0x00}),
       ParseError::kUnsupported},
      {"S-tag inside C-tag", frame({0x81, 0x00, 0, 1, 0x88, 0xa8, 0, 2, 0x08, 0x00}), ParseError::kUnsupported},
      {"tag with length inner", frame({0x81, 0x00, 0, 1, 0x00, 0x40}), ParseError::kUnsupported},
  };
  auto group_src = frame({0x08, 0x00});
  group_src[6] = 0x01;
  table.push_back({"group source address", group_src, ParseError::kBadAddress});
  auto bcast_src = frame({0x08, 0x00});
  for (int i = 6; i < 12; ++i) bcast_src[i] = 0xff;
  table.push_back({"broadcast source address", bcast_src, ParseError::kBadAddress});

  // Every truncation inside the header and its tags.
  const auto untagged = frame({0x08, 0x00});
  for (std::size_t n = 0; n < 14; ++n) {
    table.push_back({"untagged truncated", std::vector<std::uint8_t>(untagged.begin(), untagged.begin() + n),
                     ParseError::kTruncated});
  }
  const auto qinq = frame({0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0xe0, 0x0a, 0x08, 0x06});
  for (std::size_t n = 14; n < 22; ++n) {
    table.push_back(
        {"QinQ truncated", std::vector<std::uint8_t>(qinq.begin(), qinq.begin() + n), ParseError::kTruncated});
  }

  for (const Bad& b : table) {
    const auto v = parse_ethernet(Bytes(b.bytes));
    ASSERT_FALSE(v.has_value()) << b.name << " size " << b.bytes.size();
    EXPECT_EQ(v.error(), b.error) << b.name << " size " << b.bytes.size() << ": " << to_string(v.error());
  }
}

TEST(Ethernet, WriteThenParse) {
  const VlanTag tags[] = {{kEtherTypeQinQ, 3, true, 4095}, {kEtherTypeVlan, 1, false, 0}};
  for (std::size_t count = 0; count <= 2; ++count) {
    std::uint8_t buf[64] = {};
    const std::size_t n = write_ethernet(MutableBytes(buf), kDst, kSrc, kEtherTypeIpv6, std::span(tags, count));
    ASSERT_EQ(n, 14 + 4 * count);
    const auto v = parse_ethernet(Bytes(buf, n + 10));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->header->dst, kDst);
    EXPECT_EQ(v->header->src, kSrc);
    EXPECT_EQ(v->ethertype, kEtherTypeIpv6);
    ASSERT_EQ(v->vlan_count, count);
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(v->vlans[i], tags[i]);
    EXPECT_EQ(v->header_length, n);
    EXPECT_EQ(v->payload.size(), 10u);
  }
}

TEST(Ethernet, WriteExactBytes) {
  std::uint8_t buf[18];
  const VlanTag tag{kEtherTypeVlan, 6, false, 42};
  ASSERT_EQ(write_ethernet(MutableBytes(buf), MacAddress::broadcast(), kSrc, kEtherTypeArp, std::span(&tag, 1)), 18u);
  const std::uint8_t want[18] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x02,
                                 0x81, 0x00, 0xc0, 0x2a, 0x08, 0x06};
  EXPECT_EQ(std::memcmp(buf, want, sizeof want), 0);
}

TEST(Ethernet, WriteRefusesSmallBufferAndTooManyTags) {
  std::uint8_t buf[64];
  const VlanTag tags[3] = {};
  EXPECT_EQ(write_ethernet(MutableBytes(buf, 13), kDst, kSrc, kEtherTypeIpv4), 0u);
  EXPECT_EQ(write_ethernet(MutableBytes(buf, 17), kDst, kSrc, kEtherTypeIpv4, std::span(tags, 1)), 0u);
  EXPECT_EQ(write_ethernet(MutableBytes(buf), kDst, kSrc, kEtherTypeIpv4, std::span(tags, 3)), 0u);
  EXPECT_EQ(write_ethernet(MutableBytes(buf, 14), kDst, kSrc, kEtherTypeIpv4), 14u);
}

}  // namespace
}  // namespace linetime::wire
