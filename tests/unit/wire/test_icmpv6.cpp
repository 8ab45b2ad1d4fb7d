#include "dataplane/wire/icmpv6.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ip.h"

namespace linetime::wire {
namespace {

Ipv6Address a6(std::uint8_t first, std::uint8_t second, std::uint8_t last) {
  Ipv6Address a{{first, second}};
  a.bytes[15] = last;
  return a;
}

const Ipv6Address kHost = a6(0xfe, 0x80, 1);    // fe80::1
const Ipv6Address kOurs = a6(0xfe, 0x80, 2);    // fe80::2
const Ipv6Address kGroup = solicited_node_multicast(kOurs);  // ff02::1:ff00:2
const MacAddress kHostMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kOurMac{{0x02, 0, 0, 0, 0, 0x02}};

// fe80::1 asks ff02::1:ff00:2 for fe80::2, with its link-layer address; checksum
// 7a97 computed independently.
std::vector<std::uint8_t> solicitation() {
  std::vector<std::uint8_t> m(32, 0);
  m[0] = 135;
  m[2] = 0x7a;
  m[3] = 0x97;
  std::memcpy(&m[8], kOurs.bytes.data(), 16);
  const std::uint8_t option[8] = {1, 1, 0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(&m[24], option, 8);
  return m;
}

void fix_checksum(std::vector<std::uint8_t>& m, const Ipv6Address& src, const Ipv6Address& dst) {
  m[2] = m[3] = 0;
  const std::uint16_t c = transport_checksum(src, dst, kIpProtoIcmpv6, Bytes(m));
  m[2] = static_cast<std::uint8_t>(c >> 8);
  m[3] = static_cast<std::uint8_t>(c);
}

TEST(Icmpv6, ParsesNeighborSolicitation) {
  const auto m = solicitation();
  const auto v = parse_icmpv6(Bytes(m), kHost, kGroup, 255);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const Icmpv6Header*>(m.data()));
  EXPECT_EQ(v->type, Icmpv6Type::kNeighborSolicitation);
  EXPECT_EQ(v->target, kOurs);
  ASSERT_TRUE(v->link_layer.has_value());
  EXPECT_EQ(*v->link_layer, kHostMac);
  EXPECT_EQ(v->na_flags, 0u);
}

TEST(Icmpv6, WriteSolicitationReproducesVector) {
  std::uint8_t buf[32];
  ASSERT_EQ(write_neighbor_solicitation(MutableBytes(buf), kHost, kGroup, kOurs, kHostMac), 32u);
  const auto m = solicitation();
  EXPECT_EQ(std::memcmp(buf, m.data(), 32), 0);
}

TEST(Icmpv6, AdvertisementVectorAndRoundTrip) {
  // fe80::2 answers fe80::1: solicited + override, target link-layer option; 181a.
  std::uint8_t buf[32];
  ASSERT_EQ(write_neighbor_advertisement(MutableBytes(buf), kOurs, kHost, kOurs, kNaFlagSolicited | kNaFlagOverride,
                                         kOurMac),
            32u);
  EXPECT_EQ(buf[0], 136);
  EXPECT_EQ(buf[2], 0x18);
  EXPECT_EQ(buf[3], 0x1a);
  EXPECT_EQ(buf[4], 0x60);
  EXPECT_EQ(buf[24], kNdOptionTargetLinkLayer);
  EXPECT_EQ(buf[25], 1);
  const auto v = parse_icmpv6(Bytes(buf), kOurs, kHost, 255);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, Icmpv6Type::kNeighborAdvertisement);
  EXPECT_EQ(v->target, kOurs);
  EXPECT_EQ(v->na_flags, kNaFlagSolicited | kNaFlagOverride);
  ASSERT_TRUE(v->link_layer.has_value());
  EXPECT_EQ(*v->link_layer, kOurMac);
}

TEST(Icmpv6, UnsolicitedAdvertisementToAllNodes) {
  const Ipv6Address all_nodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  std::uint8_t buf[32];
  ASSERT_EQ(write_neighbor_advertisement(MutableBytes(buf), kOurs, all_nodes, kOurs, kNaFlagOverride | kNaFlagRouter,
                                         kOurMac),
            32u);
  const auto v = parse_icmpv6(Bytes(buf), kOurs, all_nodes, 255);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->na_flags, kNaFlagOverride | kNaFlagRouter);
}

TEST(Icmpv6, DuplicateAddressDetection) {
  // From ::, to the solicited-node group, without a link-layer option.
  std::uint8_t buf[24];
  ASSERT_EQ(write_neighbor_solicitation(MutableBytes(buf), Ipv6Address{}, kGroup, kOurs, std::nullopt), 24u);
  const auto v = parse_icmpv6(Bytes(buf), Ipv6Address{}, kGroup, 255);
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->link_layer.has_value());
  EXPECT_EQ(v->target, kOurs);
}

TEST(Icmpv6, SkipsOtherOptions) {
  // A nonce option (type 14, 8 octets) before the link-layer option, and an
  // unknown 16-octet option after it.
  std::vector<std::uint8_t> m = solicitation();
  const std::uint8_t nonce[8] = {14, 1, 1, 2, 3, 4, 5, 6};
  m.insert(m.begin() + 24, nonce, nonce + 8);
  m.resize(m.size() + 16, 0);
  m[40] = 200;
  m[41] = 2;
  fix_checksum(m, kHost, kGroup);
  const auto v = parse_icmpv6(Bytes(m), kHost, kGroup, 255);
  ASSERT_TRUE(v.has_value());
  ASSERT_TRUE(v->link_layer.has_value());
  EXPECT_EQ(*v->link_layer, kHostMac);
}

TEST(Icmpv6, EchoVectorAndRoundTrip) {
  // fe80::1 -> fe80::2, id 0x1234, seq 1, data "abcd": checksum abb8.
  const std::uint8_t data[4] = {'a', 'b', 'c', 'd'};
  std::uint8_t buf[12];
  ASSERT_EQ(write_icmpv6_echo(MutableBytes(buf), kHost, kOurs, Icmpv6Type::kEchoRequest, 0x1234, 1, Bytes(data)), 12u);
  const std::uint8_t want[12] = {128, 0, 0xab, 0xb8, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd'};
  EXPECT_EQ(std::memcmp(buf, want, 12), 0);
  // Echo has no hop-limit rule.
  const auto v = parse_icmpv6(Bytes(buf), kHost, kOurs, 3);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, Icmpv6Type::kEchoRequest);
  EXPECT_EQ(v->identifier, 0x1234);
  EXPECT_EQ(v->sequence, 1);
  ASSERT_EQ(v->data.size(), 4u);
  EXPECT_EQ(v->data[3], 'd');
  // The reply, built in place for the swapped addresses.
  ASSERT_EQ(write_icmpv6_echo(MutableBytes(buf), kOurs, kHost, Icmpv6Type::kEchoReply, 0x1234, 1,
                              Bytes(buf).subspan(8)),
            12u);
  const auto r = parse_icmpv6(Bytes(buf), kOurs, kHost, 64);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->type, Icmpv6Type::kEchoReply);
  EXPECT_EQ(r->data[0], 'a');
  // The checksum binds the addresses: the wrong pseudo-header fails.
  EXPECT_EQ(parse_icmpv6(Bytes(buf), kHost, kHost, 64).error(), ParseError::kBadChecksum);
}

TEST(Icmpv6, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::vector<std::uint8_t> message;
    Ipv6Address src;
    Ipv6Address dst;
    std::uint8_t hop_limit;
    bool fix;
    ParseError error;
  };
  auto with = [](std::size_t offset, std::uint8_t value) {
    auto m = solicitation();
    m[offset] = value;
    return m;
  };
  std::vector<Bad> table = {
      {"checksum off by one", with(3, 0x98), kHost, kGroup, 255, false, ParseError::kBadChecksum},
      {"wrong source for checksum", solicitation(), kOurs, kGroup, 255, false, ParseError::kBadChecksum},
      {"checksum zero", with(2, 0), kHost, kGroup, 255, false, ParseError::kBadChecksum},
      {"code 1", with(1, 1), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"router solicitation", with(0, 133), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"router advertisement", with(0, 134), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"redirect", with(0, 137), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"destination unreachable", with(0, 1), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"MLD query", with(0, 130), kHost, kGroup, 255, true, ParseError::kUnsupported},
      {"hop limit 254", solicitation(), kHost, kGroup, 254, false, ParseError::kBadAddress},
      {"hop limit 64", solicitation(), kHost, kGroup, 64, false, ParseError::kBadAddress},
      {"multicast target", with(8, 0xff), kHost, kGroup, 255, true, ParseError::kBadAddress},
      {"option length 0", with(25, 0), kHost, kGroup, 255, true, ParseError::kBadLength},
      {"option length 2 past end", with(25, 2), kHost, kGroup, 255, true, ParseError::kTruncated},
      {"DAD with link-layer option", solicitation(), Ipv6Address{}, kGroup, 255, true, ParseError::kBadAddress},
  };
  // Duplicate address detection sent to a unicast address.
  {
    auto m = solicitation();
    m.resize(24);
    table.push_back({"DAD to unicast", m, Ipv6Address{}, kOurs, 255, true, ParseError::kBadAddress});
    table.push_back({"DAD to another group", m, Ipv6Address{}, a6(0xff, 0x02, 1), 255, true, ParseError::kBadAddress});
  }
  // A link-layer option that is not Ethernet-sized (16 octets).
  {
    auto m = solicitation();
    m[25] = 2;
    m.resize(40, 0);
    table.push_back({"16-octet link-layer option", m, kHost, kGroup, 255, true, ParseError::kUnsupported});
  }
  // One stray octet after the options.
  {
    auto m = solicitation();
    m.push_back(1);
    table.push_back({"1-octet option", m, kHost, kGroup, 255, true, ParseError::kTruncated});
  }
  // A solicited advertisement to a multicast group.
  {
    std::vector<std::uint8_t> m(32);
    ASSERT_EQ(write_neighbor_advertisement(MutableBytes(m), kOurs, kGroup, kOurs, kNaFlagSolicited, kOurMac), 32u);
    table.push_back({"solicited NA to multicast", m, kOurs, kGroup, 255, false, ParseError::kBadAddress});
  }
  // ND messages cut below 24 octets; echo cut below 8.
  for (std::size_t n = 4; n < 24; ++n) {
    auto m = solicitation();
    m.resize(n);
    table.push_back({"short solicitation", m, kHost, kGroup, 255, true, ParseError::kTruncated});
  }
  for (std::size_t n = 4; n < 8; ++n) {
    std::vector<std::uint8_t> m(n, 0);
    m[0] = 128;
    table.push_back({"short echo", m, kHost, kOurs, 64, true, ParseError::kTruncated});
  }
  for (std::size_t n = 0; n < 4; ++n) {
    table.push_back({"no header", std::vector<std::uint8_t>(n, 0), kHost, kOurs, 255, false, ParseError::kTruncated});
  }

  for (Bad& b : table) {
    if (b.fix) fix_checksum(b.message, b.src, b.dst);
    const auto v = parse_icmpv6(Bytes(b.message), b.src, b.dst, b.hop_limit);
    ASSERT_FALSE(v.has_value()) << b.name << " size " << b.message.size();
    EXPECT_EQ(v.error(), b.error) << b.name << " size " << b.message.size() << ": got " << to_string(v.error());
  }
}

TEST(Icmpv6, WriteRefusesSmallBuffers) {
  std::uint8_t buf[31];
  EXPECT_EQ(write_neighbor_solicitation(MutableBytes(buf), kHost, kGroup, kOurs, kHostMac), 0u);
  EXPECT_EQ(write_neighbor_advertisement(MutableBytes(buf), kOurs, kHost, kOurs, 0, kOurMac), 0u);
  EXPECT_EQ(write_neighbor_advertisement(MutableBytes(buf, 23), kOurs, kHost, kOurs, 0, std::nullopt), 0u);
  EXPECT_EQ(write_neighbor_advertisement(MutableBytes(buf, 24), kOurs, kHost, kOurs, 0, std::nullopt), 24u);
  EXPECT_EQ(write_icmpv6_echo(MutableBytes(buf, 7), kHost, kOurs, Icmpv6Type::kEchoRequest, 0, 0, Bytes()), 0u);
}

}  // namespace
}  // namespace linetime::wire
