#include "dataplane/wire/ipv4.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "dataplane/wire/checksum.h"

namespace linetime::wire {
namespace {

// A captured header: 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, total 115.
std::vector<std::uint8_t> captured_packet() {
  std::vector<std::uint8_t> p = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  for (int i = 0; i < 95; ++i) p.push_back(static_cast<std::uint8_t>(i));
  return p;
}

void fix_checksum(std::vector<std::uint8_t>& p) {
  p[10] = p[11] = 0;
  const std::uint16_t c = ipv4_header_checksum(Bytes(p).first(20));
  p[10] = static_cast<std::uint8_t>(c >> 8);
  p[11] = static_cast<std::uint8_t>(c);
}

TEST(Ipv4, ParsesCapturedHeader) {
  const auto p = captured_packet();
  const auto v = parse_ipv4(Bytes(p));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const Ipv4Header*>(p.data()));
  EXPECT_EQ(v->header->version(), 4u);
  EXPECT_EQ(v->header->ihl(), 5u);
  EXPECT_EQ(v->fields.src, Ipv4Address::of(192, 168, 0, 1));
  EXPECT_EQ(v->fields.dst, Ipv4Address::of(192, 168, 0, 199));
  EXPECT_EQ(v->fields.protocol, kIpProtoUdp);
  EXPECT_EQ(v->fields.ttl, 64);
  EXPECT_EQ(v->fields.tos, 0);
  EXPECT_EQ(v->fields.identification, 0);
  EXPECT_TRUE(v->fields.dont_fragment);
  EXPECT_EQ(v->payload.data(), p.data() + 20);
  EXPECT_EQ(v->payload.size(), 95u);
}

TEST(Ipv4, PayloadExcludesEthernetPadding) {
  auto p = captured_packet();
  p.resize(p.size() + 11, 0);
  const auto v = parse_ipv4(Bytes(p));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->payload.size(), 95u);
}

TEST(Ipv4, AcceptsHeaderOnlyAndOtherFields) {
  auto p = captured_packet();
  p.resize(20);
  p[2] = 0;
  p[3] = 20;
  p[1] = 0xb8;  // DSCP EF
  p[4] = 0x12;  // identification
  p[5] = 0x34;
  p[6] = 0;     // DF clear
  p[8] = 1;     // TTL 1
  p[12] = 0;    // source 0.0.0.0 (a DHCP client) is allowed
  p[13] = 0;
  p[14] = 0;
  p[15] = 0;
  fix_checksum(p);
  const auto v = parse_ipv4(Bytes(p));
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->payload.empty());
  EXPECT_EQ(v->fields.tos, 0xb8);
  EXPECT_EQ(v->fields.identification, 0x1234);
  EXPECT_FALSE(v->fields.dont_fragment);
  EXPECT_EQ(v->fields.ttl, 1);
  EXPECT_TRUE(v->fields.src.is_unspecified());
}

TEST(Ipv4, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::function<void(std::vector<std::uint8_t>&)> mutate;
    bool fix;  // recompute the header checksum after mutating
    ParseError error;
  };
  const Bad table[] = {
      {"version 6", [](auto& p) { p[0] = 0x65; }, true, ParseError::kBadVersion},
      {"version 0", [](auto& p) { p[0] = 0x05; }, false, ParseError::kBadVersion},
      {"IHL 0", [](auto& p) { p[0] = 0x40; }, true, ParseError::kBadHeaderLength},
      {"IHL 4", [](auto& p) { p[0] = 0x44; }, true, ParseError::kBadHeaderLength},
      {"IHL 6 (options)", [](auto& p) { p[0] = 0x46; }, true, ParseError::kIpOptions},
      {"IHL 15 (options)", [](auto& p) { p[0] = 0x4f; }, true, ParseError::kIpOptions},
      {"total length 0", [](auto& p) { p[2] = 0; p[3] = 0; }, true, ParseError::kBadLength},
      {"total length 19", [](auto& p) { p[2] = 0; p[3] = 19; }, true, ParseError::kBadLength},
      {"total length beyond buffer", [](auto& p) { p[3] = 0x74; }, true, ParseError::kTruncated},
      {"total length 65535", [](auto& p) { p[2] = 0xff; p[3] = 0xff; }, true, ParseError::kTruncated},
      {"checksum off by one", [](auto& p) { p[11] ^= 1; }, false, ParseError::kBadChecksum},
      {"TTL changed, checksum not", [](auto& p) { p[8] = 63; }, false, ParseError::kBadChecksum},
      {"checksum zero", [](auto& p) { p[10] = 0; p[11] = 0; }, false, ParseError::kBadChecksum},
      {"more fragments", [](auto& p) { p[6] = 0x20; }, true, ParseError::kFragment},
      {"fragment offset 1", [](auto& p) { p[6] = 0x40; p[7] = 0x01; }, true, ParseError::kFragment},
      {"last fragment offset 0x1fff", [](auto& p) { p[6] = 0x1f; p[7] = 0xff; }, true, ParseError::kFragment},
      {"fragment with bad checksum", [](auto& p) { p[6] = 0x20; }, false, ParseError::kBadChecksum},
      {"reserved flag", [](auto& p) { p[6] = 0xc0; }, true, ParseError::kUnsupported},
      {"multicast source", [](auto& p) { p[12] = 224; }, true, ParseError::kBadAddress},
      {"broadcast source", [](auto& p) { std::memset(&p[12], 0xff, 4); }, true, ParseError::kBadAddress},
  };
  for (const Bad& b : table) {
    auto p = captured_packet();
    b.mutate(p);
    if (b.fix) fix_checksum(p);
    const auto v = parse_ipv4(Bytes(p));
    ASSERT_FALSE(v.has_value()) << b.name;
    EXPECT_EQ(v.error(), b.error) << b.name << ": got " << to_string(v.error());
  }
  const auto p = captured_packet();
  for (std::size_t n = 0; n < p.size(); ++n) {
    const auto v = parse_ipv4(Bytes(p).first(n));
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kTruncated) << n;
  }
}

TEST(Ipv4, WriteReproducesCapturedHeader) {
  Ipv4Fields f;
  f.src = Ipv4Address::of(192, 168, 0, 1);
  f.dst = Ipv4Address::of(192, 168, 0, 199);
  f.protocol = kIpProtoUdp;
  std::uint8_t buf[20];
  ASSERT_EQ(write_ipv4(MutableBytes(buf), f, 95), 20u);
  const auto p = captured_packet();
  EXPECT_EQ(std::memcmp(buf, p.data(), 20), 0);
}

TEST(Ipv4, WriteThenParse) {
  Ipv4Fields f;
  f.src = Ipv4Address::of(10, 1, 2, 3);
  f.dst = Ipv4Address::of(224, 0, 1, 1);  // destinations may be multicast
  f.protocol = kIpProtoIcmp;
  f.ttl = 255;
  f.tos = 0x2e;
  f.identification = 0xbeef;
  f.dont_fragment = false;
  std::vector<std::uint8_t> buf(20 + 300, 0xaa);
  ASSERT_EQ(write_ipv4(MutableBytes(buf), f, 300), 20u);
  const auto v = parse_ipv4(Bytes(buf));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->fields, f);
  EXPECT_EQ(v->payload.size(), 300u);
}

TEST(Ipv4, WriteRefusesSmallBufferAndOversizedPayload) {
  std::uint8_t buf[20];
  EXPECT_EQ(write_ipv4(MutableBytes(buf, 19), Ipv4Fields{}, 0), 0u);
  EXPECT_EQ(write_ipv4(MutableBytes(buf), Ipv4Fields{}, 65535 - 20 + 1), 0u);
  EXPECT_EQ(write_ipv4(MutableBytes(buf), Ipv4Fields{}, 65535 - 20), 20u);
  EXPECT_EQ(buf[2], 0xff);
  EXPECT_EQ(buf[3], 0xff);
}

TEST(Ipv4, TtlDecrementByIncrementalUpdate) {
  // A forwarder-style rewrite: TTL 64 -> 63 in place, checksum by RFC 1624.
  auto p = captured_packet();
  const auto old_word = static_cast<std::uint16_t>((p[8] << 8) | p[9]);
  p[8] -= 1;
  const auto new_word = static_cast<std::uint16_t>((p[8] << 8) | p[9]);
  const std::uint16_t c = checksum_update16(0xb861, old_word, new_word);
  p[10] = static_cast<std::uint8_t>(c >> 8);
  p[11] = static_cast<std::uint8_t>(c);
  EXPECT_EQ(c, ipv4_header_checksum(Bytes(p).first(20)));
  EXPECT_TRUE(parse_ipv4(Bytes(p)).has_value());
}

}  // namespace
}  // namespace linetime::wire
