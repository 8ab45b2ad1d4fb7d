#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "dataplane/wire/ntp.h"

using namespace linetime::wire;

namespace {

std::vector<std::uint8_t> packet(unsigned version, std::vector<std::uint8_t> tail = {}) {
  std::vector<std::uint8_t> b(48, 0);
  b[0] = ntp_li_vn_mode(0, version, 3);
  for (std::uint8_t x : tail) b.push_back(x);  // (insert() trips a GCC 12 -Warray-bounds false positive)
  return b;
}

std::vector<std::uint8_t> extension(std::uint16_t type, std::size_t length) {
  std::vector<std::uint8_t> e(length, 0);
  e[0] = static_cast<std::uint8_t>(type >> 8);
  e[1] = static_cast<std::uint8_t>(type);
  e[2] = static_cast<std::uint8_t>(length >> 8);
  e[3] = static_cast<std::uint8_t>(length);
  for (std::size_t i = 4; i < length; ++i) e[i] = static_cast<std::uint8_t>(i);
  return e;
}

std::vector<std::uint8_t> mac(std::uint32_t key, std::size_t digest) {
  std::vector<std::uint8_t> m{static_cast<std::uint8_t>(key >> 24), static_cast<std::uint8_t>(key >> 16),
                              static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key)};
  for (std::size_t i = 0; i < digest; ++i) m.push_back(static_cast<std::uint8_t>(0xA0 + i));
  return m;
}

std::vector<std::uint8_t> cat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  for (std::uint8_t x : b) a.push_back(x);
  return a;
}

}  // namespace

TEST(NtpHeader, FieldAccessors) {
  NtpHeader h{};
  h.li_vn_mode = ntp_li_vn_mode(2, 3, 4);
  EXPECT_EQ(h.li_vn_mode, 0x9C);
  EXPECT_EQ(h.leap(), 2u);
  EXPECT_EQ(h.version(), 3u);
  EXPECT_EQ(h.mode(), 4u);
}

TEST(NtpParse, PlainHeader) {
  auto b = packet(4);
  b[1] = 2;
  b[40] = 0xE9;  // transmit seconds high byte
  const auto p = parse_ntp(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header->stratum, 2);
  EXPECT_EQ(load_ts(p->header->transmit_ts).seconds(), 0xE900'0000u);
  EXPECT_EQ(p->extension_count, 0u);
  EXPECT_FALSE(p->has_mac);
  EXPECT_EQ(p->authenticated.size(), 48u);
}

TEST(NtpParse, LegacyMacs) {
  for (std::size_t digest : {kNtpMacShortDigest, kNtpMacLongDigest}) {
    const auto b = packet(3, mac(42, digest));
    const auto p = parse_ntp(b);
    ASSERT_TRUE(p) << digest;
    EXPECT_TRUE(p->has_mac);
    EXPECT_EQ(p->mac.key_id, 42u);
    EXPECT_EQ(p->mac.digest.size(), digest);
    EXPECT_EQ(p->mac.digest[0], 0xA0);
    EXPECT_EQ(p->authenticated.size(), 48u);
  }
}

TEST(NtpParse, CryptoNak) {
  const auto p = parse_ntp(packet(4, mac(0, 0)));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->has_mac);
  EXPECT_EQ(p->mac.key_id, 0u);
  EXPECT_TRUE(p->mac.digest.empty());
}

TEST(NtpParse, ExtensionFieldsThenMac) {
  const auto b = packet(4, cat(cat(extension(0x0104, 16), extension(0x0204, 32)), mac(7, 20)));
  const auto p = parse_ntp(b);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->extension_count, 2u);
  EXPECT_EQ(p->extensions[0].type, 0x0104);
  EXPECT_EQ(p->extensions[0].value.size(), 12u);
  EXPECT_EQ(p->extensions[1].type, 0x0204);
  EXPECT_EQ(p->extensions[1].value.size(), 28u);
  EXPECT_EQ(p->extensions[1].value[0], 4);
  EXPECT_TRUE(p->has_mac);
  EXPECT_EQ(p->mac.key_id, 7u);
  EXPECT_EQ(p->authenticated.size(), 48u + 16 + 32);
}

TEST(NtpParse, LastExtensionWithoutMacMustBe28) {
  EXPECT_TRUE(parse_ntp(packet(4, extension(0x0104, 28))));
  EXPECT_TRUE(parse_ntp(packet(4, cat(extension(1, 16), extension(2, 28)))));
}

TEST(NtpParse, MalformedTable) {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> bytes;
    ParseError want;
  };
  auto v0 = packet(4);
  v0[0] = ntp_li_vn_mode(0, 0, 3);
  auto v5 = packet(4);
  v5[0] = ntp_li_vn_mode(0, 5, 3);
  auto ef_len_lie = packet(4, extension(1, 28));
  ef_len_lie[48 + 3] = 32;  // claims more than is there
  auto ef_len_odd = packet(4, extension(1, 28));
  ef_len_odd[48 + 3] = 30;
  const Case cases[] = {
      {"empty", {}, ParseError::kTruncated},
      {"47 bytes", std::vector<std::uint8_t>(47, 0x23), ParseError::kTruncated},
      {"version 0", v0, ParseError::kBadVersion},
      {"version 5", v5, ParseError::kBadVersion},
      {"nonzero short mac", packet(4, mac(5, 0)), ParseError::kBadLength},
      {"stray byte", packet(4, {0x01}), ParseError::kTruncated},
      {"8-byte tail", packet(4, std::vector<std::uint8_t>(8, 0)), ParseError::kTruncated},
      {"extension in v3", packet(3, extension(1, 28)), ParseError::kBadLength},
      {"short last extension", packet(4, extension(1, 16)), ParseError::kBadLength},
      {"extension length past end", ef_len_lie, ParseError::kTruncated},
      {"extension length not multiple of 4", ef_len_odd, ParseError::kBadLength},
      {"extension length below 16", packet(4, cat(extension(1, 12), std::vector<std::uint8_t>(16, 0))),
       ParseError::kBadLength},
      {"mac after partial extension", packet(4, cat(extension(1, 16), std::vector<std::uint8_t>(2, 0))),
       ParseError::kTruncated},
  };
  for (const Case& c : cases) {
    const auto p = parse_ntp(c.bytes);
    ASSERT_FALSE(p) << c.name;
    EXPECT_EQ(p.error(), c.want) << c.name << ": got " << to_string(p.error());
  }
  // Too many extension fields.
  std::vector<std::uint8_t> tail;
  for (std::size_t i = 0; i <= kNtpMaxExtensions; ++i) tail = cat(tail, extension(1, 28));
  const auto p = parse_ntp(packet(4, tail));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), ParseError::kUnsupported);
}

TEST(NtpParse, EveryTruncationOfAValidPacketIsRefusedOrShorterValid) {
  const auto b = packet(4, cat(extension(0x0104, 16), cat(extension(0x0204, 32), mac(7, 20))));
  ASSERT_TRUE(parse_ntp(b));
  for (std::size_t n = 0; n < b.size(); ++n) {
    const auto p = parse_ntp(Bytes(b.data(), n));
    if (p) {
      // The only shorter valid readings end exactly at a field boundary.
      std::array<std::uint8_t, 256> out{};
      EXPECT_EQ(serialize_ntp(*p, out), n);
    }
  }
}

TEST(NtpSerialize, RoundTrip) {
  const auto b = packet(4, cat(extension(0x0104, 16), cat(extension(0x0204, 32), mac(7, 20))));
  const auto p = parse_ntp(b);
  ASSERT_TRUE(p);
  std::array<std::uint8_t, 256> out{};
  const std::size_t n = serialize_ntp(*p, out);
  ASSERT_EQ(n, b.size());
  EXPECT_EQ(std::memcmp(out.data(), b.data(), n), 0);
  std::array<std::uint8_t, 100> small{};
  EXPECT_EQ(serialize_ntp(*p, small), 0u);
}
