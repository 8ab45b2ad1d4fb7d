#include "dataplane/wire/udp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ip.h"

namespace linetime::wire {
namespace {

const Ipv4Address kSrc4 = Ipv4Address::of(192, 0, 2, 1);
const Ipv4Address kDst4 = Ipv4Address::of(192, 0, 2, 2);

Ipv6Address doc6(std::uint8_t last) {
  Ipv6Address a{{0x20, 0x01, 0x0d, 0xb8}};
  a.bytes[15] = last;
  return a;
}

// 192.0.2.1:40000 -> 192.0.2.2:123, an NTPv4 client request (48 octets, first
// 0x23); checksum bbbe over IPv4, e44d over IPv6 2001:db8::1 -> ::2 (computed
// independently).
std::vector<std::uint8_t> datagram(std::uint8_t c_hi = 0xbb, std::uint8_t c_lo = 0xbe) {
  std::vector<std::uint8_t> d(56, 0);
  const std::uint8_t header[9] = {0x9c, 0x40, 0x00, 0x7b, 0x00, 0x38, c_hi, c_lo, 0x23};
  std::memcpy(d.data(), header, sizeof header);
  return d;
}

TEST(Udp, ParsesOverIpv4) {
  const auto d = datagram();
  const auto v = parse_udp(Bytes(d), kSrc4, kDst4);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const UdpHeader*>(d.data()));
  EXPECT_EQ(v->src_port, 40000);
  EXPECT_EQ(v->dst_port, 123);
  EXPECT_TRUE(v->has_checksum);
  EXPECT_EQ(v->payload.data(), d.data() + 8);
  ASSERT_EQ(v->payload.size(), 48u);
  EXPECT_EQ(v->payload[0], 0x23);
}

TEST(Udp, ParsesOverIpv6) {
  const auto d = datagram(0xe4, 0x4d);
  const auto v = parse_udp(Bytes(d), doc6(1), doc6(2));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->dst_port, 123);
  EXPECT_EQ(v->payload.size(), 48u);
}

TEST(Udp, ZeroChecksumMeansNoneOverIpv4Only) {
  const auto d = datagram(0, 0);
  const auto v4 = parse_udp(Bytes(d), kSrc4, kDst4);
  ASSERT_TRUE(v4.has_value());
  EXPECT_FALSE(v4->has_checksum);
  const auto v6 = parse_udp(Bytes(d), doc6(1), doc6(2));
  ASSERT_FALSE(v6.has_value());
  EXPECT_EQ(v6.error(), ParseError::kBadChecksum);
}

TEST(Udp, PayloadTrimmedToLengthField) {
  auto d = datagram();
  d.resize(64, 0xee);  // octets behind the datagram (IP payload longer than UDP)
  const auto v = parse_udp(Bytes(d), kSrc4, kDst4);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->payload.size(), 48u);
}

TEST(Udp, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::size_t offset;
    std::uint8_t value;
    bool v6;
    ParseError error;
  };
  const Bad table[] = {
      {"length 0", 5, 0, false, ParseError::kBadLength},
      {"length 7", 5, 7, false, ParseError::kBadLength},
      {"length 57", 5, 57, false, ParseError::kTruncated},
      {"length 0x0138", 4, 1, false, ParseError::kTruncated},
      {"length 0 over IPv6", 5, 0, true, ParseError::kBadLength},
      {"checksum off by one", 7, 0xbf, false, ParseError::kBadChecksum},
      {"payload changed", 30, 1, false, ParseError::kBadChecksum},
      {"port changed", 3, 0x7c, false, ParseError::kBadChecksum},
      {"IPv4 checksum over IPv6", 0, 0x9c, true, ParseError::kBadChecksum},
      {"IPv6 zero checksum", 6, 0, true, ParseError::kBadChecksum},
  };
  for (const Bad& b : table) {
    auto d = datagram();
    d[b.offset] = b.value;
    if (b.offset == 6) d[7] = 0;
    const auto v = b.v6 ? parse_udp(Bytes(d), doc6(1), doc6(2)) : parse_udp(Bytes(d), kSrc4, kDst4);
    ASSERT_FALSE(v.has_value()) << b.name;
    EXPECT_EQ(v.error(), b.error) << b.name << ": got " << to_string(v.error());
  }
  // Wrong addresses in the pseudo-header.
  const auto d = datagram();
  EXPECT_EQ(parse_udp(Bytes(d), kSrc4, Ipv4Address::of(192, 0, 2, 3)).error(), ParseError::kBadChecksum);
  for (std::size_t n = 0; n < d.size(); ++n) {
    const auto v = parse_udp(Bytes(d).first(n), kSrc4, kDst4);
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kTruncated) << n;
  }
}

TEST(Udp, WriteReproducesVectors) {
  std::uint8_t payload[48] = {0x23};
  std::uint8_t buf[56];
  ASSERT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 40000, 123, Bytes(payload)), 56u);
  const auto d4 = datagram();
  EXPECT_EQ(std::memcmp(buf, d4.data(), 56), 0);
  ASSERT_EQ(write_udp(MutableBytes(buf), doc6(1), doc6(2), 40000, 123, Bytes(payload)), 56u);
  const auto d6 = datagram(0xe4, 0x4d);
  EXPECT_EQ(std::memcmp(buf, d6.data(), 56), 0);
}

TEST(Udp, ComputedZeroChecksumIsSentAsFfff) {
  // Choose the last payload word so that the checksum comes out 0.
  std::uint8_t buf[10];
  std::uint8_t payload[2] = {0, 0};
  ASSERT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 1, 2, Bytes(payload)), 10u);
  const std::uint16_t c = static_cast<std::uint16_t>((buf[6] << 8) | buf[7]);
  // Adding the current checksum to the data makes the sum ffff: checksum 0.
  payload[0] = static_cast<std::uint8_t>(c >> 8);
  payload[1] = static_cast<std::uint8_t>(c);
  ASSERT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 1, 2, Bytes(payload)), 10u);
  EXPECT_EQ(buf[6], 0xff);
  EXPECT_EQ(buf[7], 0xff);
  const auto v = parse_udp(Bytes(buf), kSrc4, kDst4);
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->has_checksum);
}

TEST(Udp, WriteInPlaceThenParse) {
  // The payload is built behind the header first, as the NTP responder does.
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{47}, std::size_t{48}, std::size_t{1000}}) {
    std::vector<std::uint8_t> buf(8 + len);
    for (std::size_t i = 0; i < len; ++i) buf[8 + i] = static_cast<std::uint8_t>(i * 13 + 1);
    const std::vector<std::uint8_t> want(buf.begin() + 8, buf.end());
    ASSERT_EQ(write_udp(MutableBytes(buf), doc6(9), doc6(10), 123, 50000, Bytes(buf).subspan(8)), 8 + len);
    const auto v = parse_udp(Bytes(buf), doc6(9), doc6(10));
    ASSERT_TRUE(v.has_value()) << len;
    EXPECT_EQ(v->src_port, 123);
    EXPECT_EQ(v->dst_port, 50000);
    ASSERT_EQ(v->payload.size(), len);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), v->payload.begin()));
    ASSERT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 123, 50000, Bytes(buf).subspan(8)), 8 + len);
    EXPECT_TRUE(parse_udp(Bytes(buf), kSrc4, kDst4).has_value());
  }
}

TEST(Udp, WriteRefusesSmallBufferAndOversize) {
  std::vector<std::uint8_t> buf(70000);
  EXPECT_EQ(write_udp(MutableBytes(buf).first(8 + 47), kSrc4, kDst4, 1, 2, Bytes(buf).subspan(100, 48)), 0u);
  EXPECT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 1, 2, Bytes(buf).subspan(8, 65528)), 0u);
  EXPECT_EQ(write_udp(MutableBytes(buf), kSrc4, kDst4, 1, 2, Bytes(buf).subspan(8, 65527)), 65535u);
}

TEST(Udp, PortRewriteByIncrementalUpdate) {
  auto d = datagram();
  d[2] = 0x01;  // destination port 123 -> 379
  const std::uint16_t c = checksum_update16(0xbbbe, 123, 379);
  d[6] = static_cast<std::uint8_t>(c >> 8);
  d[7] = static_cast<std::uint8_t>(c);
  EXPECT_TRUE(parse_udp(Bytes(d), kSrc4, kDst4).has_value());
}

}  // namespace
}  // namespace linetime::wire
