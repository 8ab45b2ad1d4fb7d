#include "dataplane/loadgen/traffic.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::loadgen {
namespace {

using Frame = std::array<std::uint8_t, kRequestFrameLength>;

RequestConfig config() {
  RequestConfig c;
  c.src_mac = wire::MacAddress{{0x02, 0, 0, 0, 0, 0x02}};
  c.dst_mac = wire::MacAddress{{0x02, 0, 0, 0, 0, 0x01}};
  c.dst = wire::Ipv4Address::of(198, 18, 0, 1);
  c.population.first_address = wire::Ipv4Address::of(198, 18, 128, 1);
  c.population.addresses = 5;
  c.population.first_port = 20000;
  c.population.ports = 7;
  return c;
}

TEST(RequestTemplates, EveryClientsRequestIsAValidNtpRequest) {
  const RequestConfig c = config();
  const RequestTemplates t(c);
  std::mt19937_64 rng(7);
  Frame f{};
  for (std::uint64_t client = 0; client < c.population.clients(); ++client) {
    const std::uint64_t origin = client % 3 == 0 ? 0 : rng();
    const std::uint64_t receive = client % 3 == 0 ? 0 : rng();
    const std::uint64_t transmit = rng();
    t.write(client, f.data(), origin, receive, transmit);
    const wire::Bytes frame(f.data(), f.size());
    const auto ip = wire::parse_ipv4(frame.subspan(14));
    ASSERT_TRUE(ip.has_value()) << client;
    const wire::Ipv4Address src = ip->fields.src;
    EXPECT_EQ(src.value, c.population.first_address.value + client % 5);
    EXPECT_EQ(ip->fields.dst, c.dst);
    const auto udp = wire::parse_udp(frame.subspan(34), src, c.dst);  // verifies the checksum
    ASSERT_TRUE(udp.has_value()) << client;
    EXPECT_EQ(udp->src_port, 20000 + client / 5);
    EXPECT_EQ(udp->dst_port, 123);
    const auto ntp = wire::parse_ntp(frame.subspan(kNtpOffset));
    ASSERT_TRUE(ntp.has_value());
    EXPECT_EQ(ntp->header->mode(), 3u);
    EXPECT_EQ(ntp->header->version(), 4u);
    EXPECT_EQ(ntp->header->origin_ts.get(), origin);
    EXPECT_EQ(ntp->header->receive_ts.get(), receive);
    EXPECT_EQ(ntp->header->transmit_ts.get(), transmit);
    EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, c.dst_mac.bytes.begin()));
  }
}

TEST(RequestTemplates, BasicBurstWritesTheSameBytes) {
  const RequestConfig c = config();
  const RequestTemplates t(c);
  // 40 requests from client 30 wrap around the 35 clients.
  std::vector<Frame> burst(40);
  std::vector<std::uint8_t*> out;
  for (Frame& f : burst) out.push_back(f.data());
  const std::uint64_t t1 = 0xE1234567'89ABCDEFull;
  t.write_basic_burst(30, out.data(), 40, t1);
  Frame one{};
  for (unsigned i = 0; i < 40; ++i) {
    t.write((30 + i) % 35, one.data(), 0, 0, t1);
    EXPECT_EQ(burst[i], one) << i;
  }
}

TEST(RequestTemplates, AllOnesTimestampsStillVerify) {
  const RequestTemplates t(config());
  Frame f{};
  t.write(3, f.data(), ~std::uint64_t{0}, ~std::uint64_t{0}, ~std::uint64_t{0});
  const wire::Ipv4Address src = wire::Ipv4Address::of(198, 18, 128, 4);
  EXPECT_EQ(wire::transport_checksum(src, config().dst, wire::kIpProtoUdp, wire::Bytes(f.data() + 34, 56)), 0);
}

// The answer a server would send to `f`, with the given timestamps.
Frame answer_to(const Frame& f, std::uint64_t origin, std::uint64_t receive, std::uint64_t transmit) {
  Frame a = f;
  for (int i = 0; i < 6; ++i) std::swap(a[i], a[6 + i]);
  for (int i = 0; i < 4; ++i) std::swap(a[26 + i], a[30 + i]);
  std::swap(a[34], a[36]);
  std::swap(a[35], a[37]);
  a[kNtpOffset] = wire::ntp_li_vn_mode(0, 4, 4);
  a[kNtpOffset + 1] = 2;
  for (int i = 0; i < 8; ++i) {
    a[kNtpOffset + 24 + i] = static_cast<std::uint8_t>(origin >> (56 - 8 * i));
    a[kNtpOffset + 32 + i] = static_cast<std::uint8_t>(receive >> (56 - 8 * i));
    a[kNtpOffset + 40 + i] = static_cast<std::uint8_t>(transmit >> (56 - 8 * i));
  }
  return a;
}

TEST(Classify, FindsTheClientOfAnAnswer) {
  const RequestConfig c = config();
  const RequestTemplates t(c);
  Frame f{};
  t.write(23, f.data(), 0, 0, 0x1111);
  const Frame a = answer_to(f, 0x1111, 0x2222, 0x3333);
  Answer got;
  ASSERT_EQ(classify(a.data(), a.size(), c.population, got), FrameKind::kAnswer);
  EXPECT_EQ(got.client, 23u);
  EXPECT_EQ(got.origin, 0x1111u);
  EXPECT_EQ(got.receive, 0x2222u);
  EXPECT_EQ(got.transmit, 0x3333u);
  EXPECT_EQ(got.stratum, 2);
  // The request itself (a forwarder sends it back) is not an answer.
  EXPECT_EQ(classify(f.data(), f.size(), c.population, got), FrameKind::kOther);
  // Nor is an answer to an address outside the population, or a short frame.
  Frame foreign = a;
  foreign[33] = 200;
  EXPECT_EQ(classify(foreign.data(), foreign.size(), c.population, got), FrameKind::kOther);
  EXPECT_EQ(classify(a.data(), 60, c.population, got), FrameKind::kOther);
  Frame arp{};
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(classify(arp.data(), 60, c.population, got), FrameKind::kArpRequest);
}

TEST(Population, ClientNumbering) {
  Population p = config().population;
  EXPECT_EQ(p.clients(), 35u);
  EXPECT_EQ(p.client_of(wire::Ipv4Address::of(198, 18, 128, 1), 20000), 0u);
  EXPECT_EQ(p.client_of(wire::Ipv4Address::of(198, 18, 128, 5), 20006), 34u);
  EXPECT_EQ(p.client_of(wire::Ipv4Address::of(198, 18, 128, 6), 20000), 35u);
  EXPECT_EQ(p.client_of(wire::Ipv4Address::of(198, 18, 128, 0), 20000), 35u);
  EXPECT_EQ(p.client_of(wire::Ipv4Address::of(198, 18, 128, 1), 20007), 35u);
  EXPECT_TRUE(p.contains(wire::Ipv4Address::of(198, 18, 128, 3)));
  EXPECT_FALSE(p.contains(wire::Ipv4Address::of(198, 18, 128, 9)));
}

TEST(Exchanges, BasicAnswersNeedNoState) {
  Exchanges x(35, false);
  std::uint64_t origin = 1, receive = 1;
  x.on_send(4, 1000, origin, receive);
  EXPECT_EQ(origin, 0u);
  EXPECT_EQ(receive, 0u);
  Answer a;
  a.client = 4;
  a.origin = 1000ull << 20;
  a.receive = 1100ull << 20;
  a.transmit = 1150ull << 20;
  Exchange e;
  EXPECT_EQ(x.on_answer(a, 1300ull << 20, 900ull << 20, e), Match::kBasic);
  EXPECT_EQ(e.residence_ns, ntp_diff_ns(1150ull << 20, 1100ull << 20));
  // An origin from before the run, or after its own arrival, matches nothing.
  EXPECT_EQ(x.on_answer(a, 1300ull << 20, 1001ull << 20, e), Match::kUnmatched);
  EXPECT_EQ(x.on_answer(a, 999ull << 20, 900ull << 20, e), Match::kUnmatched);
  a.origin = 0;
  EXPECT_EQ(x.on_answer(a, 1300ull << 20, 0, e), Match::kUnmatched);
}

TEST(Exchanges, InterleavedFollowsTheClientRule) {
  Exchanges x(35, true);
  const std::uint64_t s = 1ull << 32;  // one second
  std::uint64_t origin = 0, receive = 0;
  // Exchange A: a basic request first.
  const std::uint64_t t1a = 100 * s, t2a = t1a + s / 100, t3a_sw = t2a + s / 1000, t4a = t1a + s / 50;
  x.on_send(9, t1a, origin, receive);
  EXPECT_EQ(origin, 0u);
  Answer a;
  a.client = 9;
  a.origin = t1a;
  a.receive = t2a;
  a.transmit = t3a_sw;
  Exchange e;
  EXPECT_EQ(x.on_answer(a, t4a, 99 * s, e), Match::kBasic);
  // Exchange B: the request carries A's T2 and T4.
  const std::uint64_t t1b = 101 * s;
  x.on_send(9, t1b, origin, receive);
  EXPECT_EQ(origin, t2a);
  EXPECT_EQ(receive, t4a);
  // The server answers interleaved: origin = our T4 of A, receive = T2 of B,
  // transmit = the precise T3 of A.
  const std::uint64_t t2b = t1b + s / 100, t3a_precise = t3a_sw + s / 10000, t4b = t1b + s / 50;
  a.origin = t4a;
  a.receive = t2b;
  a.transmit = t3a_precise;
  ASSERT_EQ(x.on_answer(a, t4b, 99 * s, e), Match::kInterleaved);
  const Exchange want = measure(t1a, t2a, t3a_precise, t4a);
  EXPECT_EQ(e.offset_ns, want.offset_ns);
  EXPECT_EQ(e.delay_ns, want.delay_ns);
  EXPECT_EQ(e.residence_ns, want.residence_ns);
  // Exchange C carries B's T2 and T4.
  x.on_send(9, 102 * s, origin, receive);
  EXPECT_EQ(origin, t2b);
  EXPECT_EQ(receive, t4b);
}

TEST(Exchanges, ABasicAnswerToAnInterleavedRequestStillCounts) {
  Exchanges x(35, true);
  const std::uint64_t s = 1ull << 32;
  std::uint64_t origin = 0, receive = 0;
  x.on_send(1, 100 * s, origin, receive);
  Answer a;
  a.client = 1;
  a.origin = 100 * s;
  a.receive = 100 * s + 10;
  a.transmit = 100 * s + 20;
  Exchange e;
  EXPECT_EQ(x.on_answer(a, 100 * s + 50, 99 * s, e), Match::kBasic);
  x.on_send(1, 101 * s, origin, receive);
  EXPECT_NE(origin, 0u);
  // A server without interleaved mode answers with our T1.
  a.origin = 101 * s;
  a.receive = 101 * s + 10;
  a.transmit = 101 * s + 20;
  EXPECT_EQ(x.on_answer(a, 101 * s + 50, 99 * s, e), Match::kBasic);
  // The next request again asks for interleaved mode, with the latest exchange.
  x.on_send(1, 102 * s, origin, receive);
  EXPECT_EQ(origin, 101 * s + 10);
  EXPECT_EQ(receive, 101 * s + 50);
}

TEST(Exchanges, AClientWithARequestOutSendsBasic) {
  Exchanges x(35, true);
  const std::uint64_t s = 1ull << 32;
  std::uint64_t origin = 0, receive = 0;
  x.on_send(2, 100 * s, origin, receive);
  Answer a;
  a.client = 2;
  a.origin = 100 * s;
  a.receive = 100 * s + 10;
  a.transmit = 100 * s + 20;
  Exchange e;
  x.on_answer(a, 100 * s + 50, 99 * s, e);
  x.on_send(2, 101 * s, origin, receive);
  EXPECT_NE(origin, 0u);
  // Its answer is lost: the next request cannot name a previous exchange.
  x.on_send(2, 102 * s, origin, receive);
  EXPECT_EQ(origin, 0u);
  EXPECT_EQ(receive, 0u);
}

}  // namespace
}  // namespace linetime::loadgen
