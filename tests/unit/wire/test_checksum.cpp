#include "dataplane/wire/checksum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace linetime::wire {
namespace {

// Straight from the definition: big-endian 16-bit words, end-around carry.
std::uint16_t reference_sum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += (std::uint32_t{p[i]} << 8) | p[i + 1];
  if (n % 2 == 1) s += std::uint32_t{p[n - 1]} << 8;
  while (s >> 16) s = (s & 0xffffu) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of these octets is ddf2.
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ones_sum(Bytes(data)), 0xddf2);
  EXPECT_EQ(internet_checksum(Bytes(data)), 0x220d);
}

TEST(Checksum, CapturedIpv4Header) {
  // 192.168.0.1 -> 192.168.0.199, UDP, total length 115: header checksum b861.
  const std::uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ipv4_header_checksum(Bytes(header)), 0xb861);
  EXPECT_EQ(internet_checksum(Bytes(header)), 0);  // verification over the stored checksum
  std::uint8_t zeroed[sizeof header];
  std::memcpy(zeroed, header, sizeof header);
  zeroed[10] = zeroed[11] = 0;
  EXPECT_EQ(internet_checksum(Bytes(zeroed)), 0xb861);
  EXPECT_EQ(ipv4_header_checksum(Bytes(zeroed)), 0xb861);
  EXPECT_EQ(ipv4_header_checksum(Bytes(header).first(19)), 0);  // too short
}

TEST(Checksum, EmptyAndZeroData) {
  EXPECT_EQ(ones_sum(Bytes()), 0);
  EXPECT_EQ(ones_sum(Bytes(), 0x1234), 0x1234);
  const std::uint8_t zeros[13] = {};
  EXPECT_EQ(ones_sum(Bytes(zeros)), 0);
  EXPECT_EQ(internet_checksum(Bytes(zeros)), 0xffff);
  const std::uint8_t ones[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(ones_sum(Bytes(ones).first(8)), 0xffff);  // -0 plus -0
  EXPECT_EQ(ones_sum(Bytes(ones)), 0xff00);           // -0 plus ff00
}

TEST(Checksum, OddLengthPadsLowOctet) {
  const std::uint8_t data[] = {0x12, 0x34, 0x56};
  EXPECT_EQ(ones_sum(Bytes(data)), 0x1234 + 0x5600);
  const std::uint8_t one[] = {0xab};
  EXPECT_EQ(ones_sum(Bytes(one)), 0xab00);
}

TEST(Checksum, CarryWrapsAround) {
  const std::uint8_t data[] = {0xff, 0xff, 0x00, 0x01};
  EXPECT_EQ(ones_sum(Bytes(data)), 0x0001);  // ffff + 0001 = 1 0000 -> 0001
  EXPECT_EQ(ones_add(0xffff, 0x0001), 0x0001);
  EXPECT_EQ(ones_add(0x8000, 0x8000), 0x0001);
  EXPECT_EQ(ones_add(0x1234, 0x0000), 0x1234);
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(20240611);
  std::vector<std::uint8_t> buf(600);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t len = 0; len <= 520; ++len) {
      const std::uint8_t* p = buf.data() + start;
      ASSERT_EQ(ones_sum(Bytes(p, len)), reference_sum(p, len)) << "start " << start << " len " << len;
    }
  }
}

TEST(Checksum, AllOnesDataSumsWithoutOverflow) {
  // Many carries in the 64-bit accumulator: 64 KiB of ff.
  std::vector<std::uint8_t> buf(65536, 0xff);
  EXPECT_EQ(ones_sum(Bytes(buf)), 0xffff);
  EXPECT_EQ(ones_sum(Bytes(buf).subspan(1, 65533)), reference_sum(buf.data() + 1, 65533));
}

// The fast path's fixed-size sums, alone and added in pieces as frame.h adds
// them (IPv4 header, pseudo-header, UDP segment), against the definition.
template <std::size_t N>
void expect_sum_words_matches(const std::uint8_t* p) {
  ASSERT_EQ(fold_sum(sum_words<N>(p)), reference_sum(p, N)) << N;
}

TEST(Checksum, FixedSizeSumsMatchTheReference) {
  std::mt19937 rng(20261121);
  std::vector<std::uint8_t> buf(96);
  for (int round = 0; round < 2000; ++round) {
    // All ones first (most carries), then all zeros.
    for (auto& b : buf) b = static_cast<std::uint8_t>(round < 10 ? 0xff : round < 12 ? 0 : rng());
    if (round == 12) {  // all ones but 01 00 .. 00 after the first eight: the chain wraps to 0 with a carry out
      std::fill(buf.begin(), buf.end(), std::uint8_t{0xff});
      std::fill(buf.begin() + 8, buf.begin() + 16, std::uint8_t{0});
      buf[8] = 1;
    }
    const std::uint8_t* p = buf.data() + 2 * (round % 4);  // even offsets
    expect_sum_words_matches<4>(p);
    expect_sum_words_matches<8>(p);
    expect_sum_words_matches<20>(p);
    expect_sum_words_matches<48>(p);
    expect_sum_words_matches<56>(p);
    expect_sum_words_matches<76>(p);
    // Pieces: 8 + 4 + 56 octets summed apart, then added.
    const std::uint64_t pieces = sum_words<8>(p) + sum_words<4>(p + 8) + sum_words<56>(p + 12);
    ASSERT_EQ(fold_sum(pieces), reference_sum(p, 68)) << round;
  }
}

TEST(Checksum, VerifiesIsFoldingToAllOnes) {
  std::mt19937_64 rng(65535);
  std::vector<std::uint64_t> sums = {0, 1, 0xffff, 0xfffe, 0x10000, 2 * 0xffffull, 0xffffffffull, 0x1fffffffeull,
                                     ~std::uint64_t{0}, ~std::uint64_t{0} - 0xffff, 0xffffull << 48};
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t r = rng() >> (rng() % 64);
    sums.push_back(r);
    sums.push_back(r - r % 0xffff);  // a multiple of 2^16 - 1
  }
  for (std::uint64_t s : sums) ASSERT_EQ(verifies(s), fold_sum(s) == 0xffff) << s;
  // A header with its checksum verifies; one bit off does not.
  std::array<std::uint8_t, 20> h = {0x45, 0, 0, 0x4c, 0x12, 0x34, 0x40, 0, 0x40, 0x11, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1};
  const std::uint16_t c = internet_checksum(Bytes(h));
  h[10] = static_cast<std::uint8_t>(c >> 8);
  h[11] = static_cast<std::uint8_t>(c);
  EXPECT_TRUE(verifies(sum_words<20>(h.data())));
  h[19] ^= 1;
  EXPECT_FALSE(verifies(sum_words<20>(h.data())));
}

TEST(Checksum, PiecesOfEvenLengthChain) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buf(301);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t split = 0; split <= buf.size(); split += 2) {
    const std::uint16_t first = ones_sum(Bytes(buf).first(split));
    EXPECT_EQ(ones_sum(Bytes(buf).subspan(split), first), reference_sum(buf.data(), buf.size())) << split;
  }
}

TEST(Checksum, PseudoHeaderUdpOverIpv4) {
  // 192.0.2.1:40000 -> 192.0.2.2:123, 48-octet payload starting 0x23 (an NTPv4
  // client request); checksum computed independently: bbbe.
  std::uint8_t udp[56] = {0x9c, 0x40, 0x00, 0x7b, 0x00, 0x38, 0x00, 0x00, 0x23};
  const Ipv4Address src = Ipv4Address::of(192, 0, 2, 1);
  const Ipv4Address dst = Ipv4Address::of(192, 0, 2, 2);
  EXPECT_EQ(pseudo_header_sum(src, dst, 17, 56), 0x844d);
  EXPECT_EQ(transport_checksum(src, dst, 17, Bytes(udp)), 0xbbbe);
  udp[6] = 0xbb;
  udp[7] = 0xbe;
  EXPECT_EQ(transport_checksum(src, dst, 17, Bytes(udp)), 0);
}

TEST(Checksum, PseudoHeaderOverIpv6) {
  std::uint8_t udp[56] = {0x9c, 0x40, 0x00, 0x7b, 0x00, 0x38, 0x00, 0x00, 0x23};
  Ipv6Address src{{0x20, 0x01, 0x0d, 0xb8}};
  Ipv6Address dst = src;
  src.bytes[15] = 1;
  dst.bytes[15] = 2;
  EXPECT_EQ(transport_checksum(src, dst, 17, Bytes(udp)), 0xe44d);

  // ICMPv6 echo request fe80::1 -> fe80::2, id 0x1234, seq 1, data "abcd": abb8.
  std::uint8_t icmp[12] = {128, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd'};
  Ipv6Address a{{0xfe, 0x80}};
  Ipv6Address b = a;
  a.bytes[15] = 1;
  b.bytes[15] = 2;
  EXPECT_EQ(transport_checksum(a, b, 58, Bytes(icmp)), 0xabb8);
  // Swapping source and destination leaves the pseudo-header sum unchanged.
  EXPECT_EQ(transport_checksum(b, a, 58, Bytes(icmp)), 0xabb8);
}

TEST(Checksum, IncrementalUpdateEqualsRecomputation) {
  std::mt19937 rng(1624);
  std::vector<std::uint8_t> msg(64);
  for (int round = 0; round < 2000; ++round) {
    for (auto& b : msg) b = static_cast<std::uint8_t>(rng());
    msg[0] = msg[1] = 0;  // checksum field
    const std::uint16_t hc = internet_checksum(Bytes(msg));

    // A 16-bit field at an even offset.
    const std::size_t at16 = 2 + 2 * (rng() % 31);
    const auto old16 = static_cast<std::uint16_t>((msg[at16] << 8) | msg[at16 + 1]);
    const auto new16 = static_cast<std::uint16_t>(rng());
    msg[at16] = static_cast<std::uint8_t>(new16 >> 8);
    msg[at16 + 1] = static_cast<std::uint8_t>(new16);
    const std::uint16_t hc16 = checksum_update16(hc, old16, new16);
    ASSERT_EQ(hc16, internet_checksum(Bytes(msg))) << "round " << round;

    // A 32-bit field.
    const std::size_t at32 = 2 + 2 * (rng() % 30);
    const std::uint32_t old32 = (std::uint32_t{msg[at32]} << 24) | (std::uint32_t{msg[at32 + 1]} << 16) |
                                (std::uint32_t{msg[at32 + 2]} << 8) | msg[at32 + 3];
    const auto new32 = static_cast<std::uint32_t>(rng());
    for (int i = 0; i < 4; ++i) msg[at32 + i] = static_cast<std::uint8_t>(new32 >> (24 - 8 * i));
    const std::uint16_t hc32 = checksum_update32(hc16, old32, new32);
    ASSERT_EQ(hc32, internet_checksum(Bytes(msg))) << "round " << round;

    // A 64-bit field (a timestamp); some rounds to all ones, to zero, to the
    // old value plus one or to the old value itself.
    const std::size_t at64 = 2 + 2 * (rng() % 28);
    std::uint64_t old64 = 0;
    for (int i = 0; i < 8; ++i) old64 = old64 << 8 | msg[at64 + i];
    std::uint64_t new64 = std::uint64_t{rng()} << 32 | rng();
    if (round % 10 == 1) new64 = ~std::uint64_t{0};
    if (round % 10 == 2) new64 = 0;
    if (round % 10 == 3) new64 = old64 + 1;
    if (round % 10 == 4) new64 = old64;
    for (int i = 0; i < 8; ++i) msg[at64 + i] = static_cast<std::uint8_t>(new64 >> (56 - 8 * i));
    const std::uint16_t hc64 = checksum_update64(hc32, old64, new64);
    ASSERT_EQ(hc64, checksum_update32(checksum_update32(hc32, static_cast<std::uint32_t>(old64 >> 32),
                                                       static_cast<std::uint32_t>(new64 >> 32)),
                                      static_cast<std::uint32_t>(old64), static_cast<std::uint32_t>(new64)))
        << "round " << round << ": the same as four 16-bit steps";
    ASSERT_EQ(hc64, internet_checksum(Bytes(msg))) << "round " << round;

    // A 16-octet run (an IPv6 address).
    const std::size_t at128 = 2 + 2 * (rng() % 24);
    std::uint8_t old_bytes[16];
    std::uint8_t new_bytes[16];
    std::memcpy(old_bytes, msg.data() + at128, 16);
    for (auto& b : new_bytes) b = static_cast<std::uint8_t>(rng());
    std::memcpy(msg.data() + at128, new_bytes, 16);
    ASSERT_EQ(checksum_update(hc64, Bytes(old_bytes), Bytes(new_bytes)), internet_checksum(Bytes(msg)));
  }
}

TEST(Checksum, Update64IsFourUpdate16sAtTheEdges) {
  // Where the end-around carries and the two zeros of one's complement meet.
  const std::uint16_t checksums[] = {0, 1, 0x7fff, 0xfffe, 0xffff};
  const std::uint64_t values[] = {0, ~std::uint64_t{0}, 1, ~std::uint64_t{0} - 1, 0xffff, 0xffffull << 48,
                                  0x0000ffffffff0000ull, 0x8000000000000000ull, 0x0123456789abcdefull};
  for (std::uint16_t hc : checksums) {
    for (std::uint64_t old_value : values) {
      for (std::uint64_t new_value : values) {
        std::uint16_t stepwise = hc;
        for (int shift = 48; shift >= 0; shift -= 16) {
          stepwise = checksum_update16(stepwise, static_cast<std::uint16_t>(old_value >> shift),
                                       static_cast<std::uint16_t>(new_value >> shift));
        }
        ASSERT_EQ(checksum_update64(hc, old_value, new_value), stepwise) << hc << " " << old_value << " " << new_value;
      }
    }
  }
  EXPECT_EQ(checksum_update64(0xffff, ~std::uint64_t{0}, 0), 0xffff) << "every term zero";
  EXPECT_EQ(checksum_update64(0, 0, 0), 0x0000) << "eqn. 3's 0x0000 where a recomputation may give 0xffff";
}

TEST(Checksum, IncrementalUpdateRfc1624Example) {
  // RFC 1624 section 4: HC = dd2f, m = 5555, m' = 3285 gives HC' = 0000.
  EXPECT_EQ(checksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
  EXPECT_EQ(checksum_update16(0x1234, 0xabcd, 0xabcd), 0x1234);
}

}  // namespace
}  // namespace linetime::wire
