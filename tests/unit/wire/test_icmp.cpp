#include "dataplane/wire/icmp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "dataplane/wire/checksum.h"

namespace linetime::wire {
namespace {

constexpr std::string_view kWindowsPingData = "abcdefghijklmnopqrstuvwabcdefghi";

// A Windows ping: echo request, identifier 1, sequence 1, checksum 4d5a.
std::vector<std::uint8_t> request() {
  const std::uint8_t header[8] = {0x08, 0x00, 0x4d, 0x5a, 0x00, 0x01, 0x00, 0x01};
  std::vector<std::uint8_t> m(sizeof header + kWindowsPingData.size());
  std::memcpy(m.data(), header, sizeof header);
  std::memcpy(m.data() + sizeof header, kWindowsPingData.data(), kWindowsPingData.size());
  return m;
}

void fix_checksum(std::vector<std::uint8_t>& m) {
  m[2] = m[3] = 0;
  const std::uint16_t c = internet_checksum(Bytes(m));
  m[2] = static_cast<std::uint8_t>(c >> 8);
  m[3] = static_cast<std::uint8_t>(c);
}

TEST(Icmp, ParsesCapturedEchoRequest) {
  const auto m = request();
  const auto v = parse_icmp_echo(Bytes(m));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->header, reinterpret_cast<const IcmpEchoHeader*>(m.data()));
  EXPECT_EQ(v->type, IcmpType::kEchoRequest);
  EXPECT_EQ(v->identifier, 1);
  EXPECT_EQ(v->sequence, 1);
  ASSERT_EQ(v->data.size(), 32u);
  EXPECT_EQ(v->data.data(), m.data() + 8);
}

TEST(Icmp, ParsesEchoReplyWithoutData) {
  std::vector<std::uint8_t> m = {0x00, 0x00, 0, 0, 0xab, 0xcd, 0x12, 0x34};
  fix_checksum(m);
  const auto v = parse_icmp_echo(Bytes(m));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, IcmpType::kEchoReply);
  EXPECT_EQ(v->identifier, 0xabcd);
  EXPECT_EQ(v->sequence, 0x1234);
  EXPECT_TRUE(v->data.empty());
}

TEST(Icmp, MalformedInputTable) {
  struct Bad {
    const char* name;
    std::size_t offset;
    std::uint8_t value;
    bool fix;
    ParseError error;
  };
  const Bad table[] = {
      {"checksum off by one", 3, 0x5b, false, ParseError::kBadChecksum},
      {"data changed", 20, 'X', false, ParseError::kBadChecksum},
      {"checksum zero", 2, 0, false, ParseError::kBadChecksum},
      {"destination unreachable", 0, 3, true, ParseError::kUnsupported},
      {"time exceeded", 0, 11, true, ParseError::kUnsupported},
      {"timestamp request", 0, 13, true, ParseError::kUnsupported},
      {"type 255", 0, 255, true, ParseError::kUnsupported},
      {"echo with code 1", 1, 1, true, ParseError::kUnsupported},
  };
  for (const Bad& b : table) {
    auto m = request();
    m[b.offset] = b.value;
    if (b.offset == 2) m[3] = 0;
    if (b.fix) fix_checksum(m);
    const auto v = parse_icmp_echo(Bytes(m));
    ASSERT_FALSE(v.has_value()) << b.name;
    EXPECT_EQ(v.error(), b.error) << b.name << ": got " << to_string(v.error());
  }
  const auto m = request();
  for (std::size_t n = 0; n < 8; ++n) {
    const auto v = parse_icmp_echo(Bytes(m).first(n));
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kTruncated) << n;
  }
  // Cut inside the data: the checksum no longer matches.
  for (std::size_t n = 8; n < m.size(); ++n) {
    const auto v = parse_icmp_echo(Bytes(m).first(n));
    ASSERT_FALSE(v.has_value()) << n;
    EXPECT_EQ(v.error(), ParseError::kBadChecksum) << n;
  }
}

TEST(Icmp, WriteReproducesCapture) {
  std::uint8_t buf[40];
  const auto data = Bytes(reinterpret_cast<const std::uint8_t*>(kWindowsPingData.data()), kWindowsPingData.size());
  ASSERT_EQ(write_icmp_echo(MutableBytes(buf), IcmpType::kEchoRequest, 1, 1, data), 40u);
  const auto m = request();
  EXPECT_EQ(std::memcmp(buf, m.data(), m.size()), 0);
  // The reply to it, as Windows sees it: checksum 555a.
  ASSERT_EQ(write_icmp_echo(MutableBytes(buf), IcmpType::kEchoReply, 1, 1, data), 40u);
  EXPECT_EQ(buf[2], 0x55);
  EXPECT_EQ(buf[3], 0x5a);
}

TEST(Icmp, ReplyBuiltInPlace) {
  // The data already sits behind the header: write_icmp_echo moves it onto itself.
  auto m = request();
  const std::size_t n = write_icmp_echo(MutableBytes(m), IcmpType::kEchoReply, 1, 1, Bytes(m).subspan(8));
  ASSERT_EQ(n, m.size());
  const auto v = parse_icmp_echo(Bytes(m));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, IcmpType::kEchoReply);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(v->data.data()), v->data.size()), kWindowsPingData);
}

TEST(Icmp, RequestToReplyIncremental) {
  auto m = request();
  ASSERT_TRUE(icmp_echo_request_to_reply(MutableBytes(m)));
  EXPECT_EQ(m[0], 0);
  EXPECT_EQ(m[2], 0x55);
  EXPECT_EQ(m[3], 0x5a);
  EXPECT_TRUE(parse_icmp_echo(Bytes(m)).has_value());
  // Not a request (any more): nothing changes.
  const auto before = m;
  EXPECT_FALSE(icmp_echo_request_to_reply(MutableBytes(m)));
  EXPECT_EQ(m, before);
  EXPECT_FALSE(icmp_echo_request_to_reply(MutableBytes(m).first(7)));
}

TEST(Icmp, RequestToReplyAllZeroReply) {
  // Found by fuzz_icmp: identifier, sequence and data zero make the reply all
  // zero octets, whose only valid checksum is 0xffff (RFC 1624 eqn. 3 gives 0).
  std::vector<std::uint8_t> m(12, 0);
  ASSERT_EQ(write_icmp_echo(MutableBytes(m), IcmpType::kEchoRequest, 0, 0, Bytes(m).subspan(8)), 12u);
  EXPECT_EQ(m[2], 0xf7);
  EXPECT_EQ(m[3], 0xff);
  ASSERT_TRUE(icmp_echo_request_to_reply(MutableBytes(m)));
  EXPECT_EQ(m[2], 0xff);
  EXPECT_EQ(m[3], 0xff);
  const auto v = parse_icmp_echo(Bytes(m));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, IcmpType::kEchoReply);
}

TEST(Icmp, WriteThenParseOddLengths) {
  std::vector<std::uint8_t> data(101);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t len = 0; len <= data.size(); ++len) {
    std::uint8_t buf[128];
    ASSERT_EQ(write_icmp_echo(MutableBytes(buf), IcmpType::kEchoRequest, 0xffff, static_cast<std::uint16_t>(len),
                              Bytes(data).first(len)),
              8 + len);
    const auto v = parse_icmp_echo(Bytes(buf, 8 + len));
    ASSERT_TRUE(v.has_value()) << len;
    EXPECT_EQ(v->identifier, 0xffff);
    EXPECT_EQ(v->sequence, len);
    ASSERT_EQ(v->data.size(), len);
    EXPECT_TRUE(len == 0 || std::memcmp(v->data.data(), data.data(), len) == 0);
  }
  std::uint8_t small[8];
  EXPECT_EQ(write_icmp_echo(MutableBytes(small), IcmpType::kEchoRequest, 0, 0, Bytes(data).first(1)), 0u);
  EXPECT_EQ(write_icmp_echo(MutableBytes(small), IcmpType::kEchoRequest, 0, 0, Bytes()), 8u);
}

}  // namespace
}  // namespace linetime::wire
