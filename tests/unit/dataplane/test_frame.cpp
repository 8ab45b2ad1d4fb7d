// The frame processor on hand-built frames: every answer is parsed back with
// the wire parsers, which verify every length and checksum.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <cstring>
#include <vector>

#include "dataplane/frame.h"
#include "dataplane/wire/arp.h"
#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/icmp.h"
#include "dataplane/wire/icmpv6.h"
#include "dataplane/wire/ip.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::wire;
using hwclock::Duration;
using hwclock::NtpTimestamp;
using hwclock::UtcTime;

namespace {

using test::Frame;
using test::ntp_request;
const MacAddress kOurMac = test::kServerMac;
const MacAddress kClientMac = test::kClientMac;
const MacAddress kOtherMac{{0x02, 0, 0, 0, 0, 0x03}};
const Ipv4Address kOurIp = test::kServerIp;
const Ipv4Address kClientIp = test::kClientIp;
const Ipv6Address kOurIp6 = *parse_ipv6_address("2001:db8::1");
const Ipv6Address kClientIp6 = *parse_ipv6_address("2001:db8::2");
const UtcTime kRx(1'800'000'000LL * hwclock::kNsPerSec);
const UtcTime kTx = kRx + Duration::from_ns(800);

LocalConfig config() {
  LocalConfig c;
  c.mac = kOurMac;
  c.ipv4 = {kOurIp};
  c.ipv6 = {kOurIp6};
  c.vlans = {100};
  c.upstream_port_min = 40000;
  c.upstream_port_max = 40009;
  return c;
}

Frame udp4(Bytes payload, std::uint16_t sport, std::uint16_t dport, Ipv4Address src = kClientIp,
           Ipv4Address dst = kOurIp, MacAddress dst_mac = kOurMac, std::vector<VlanTag> vlans = {}) {
  return test::udp4(payload, sport, dport, src, dst, dst_mac, std::move(vlans));
}

Frame udp6(Bytes payload, std::uint16_t sport, std::uint16_t dport) {
  return test::udp6(payload, sport, dport, kClientIp6, kOurIp6);
}

Verdict run(FrameProcessor& p, Frame& f) {
  return p.process(f.bytes(), f.length, kRx, [] { return kTx; });
}

FrameProcessor synced() {
  FrameProcessor p(config());
  p.responder().update(shm::local_reference_state(kRx - Duration::from_s(5), 2, -20));
  return p;
}

}  // namespace

TEST(Frame, NtpOverIpv4AnsweredInPlace) {
  FrameProcessor p = synced();
  const auto req = ntp_request();
  Frame f = udp4(req, 50123, 123);
  ASSERT_EQ(f.length, 90u);
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, counter_for(NtpOutcome::kAnswered));
  ASSERT_EQ(v.length, 90u);

  const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->header->dst, kClientMac);
  EXPECT_EQ(eth->header->src, kOurMac);
  const auto ip = parse_ipv4(eth->payload);
  ASSERT_TRUE(ip) << to_string(ip.error());
  EXPECT_EQ(ip->fields.src, kOurIp);
  EXPECT_EQ(ip->fields.dst, kClientIp);
  EXPECT_EQ(ip->fields.ttl, 64);
  const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
  ASSERT_TRUE(udp) << to_string(udp.error());
  EXPECT_TRUE(udp->has_checksum);
  EXPECT_EQ(udp->src_port, 123);
  EXPECT_EQ(udp->dst_port, 50123);
  const auto ntp = parse_ntp(udp->payload);
  ASSERT_TRUE(ntp);
  EXPECT_EQ(ntp->header->mode(), 4u);
  EXPECT_EQ(ntp->header->stratum, 2);
  EXPECT_EQ(ntp->header->origin_ts.get(), 0xA0A1A2A3A4A5A6A7ULL);
  EXPECT_EQ(ntp->header->receive_ts.get(), NtpTimestamp::from_utc(kRx).raw() | kRxFlag);
  EXPECT_EQ(ntp->header->transmit_ts.get(), NtpTimestamp::from_utc(kTx).raw() & ~kRxFlag);
}

TEST(Frame, NtpOverIpv6AnsweredInPlace) {
  FrameProcessor p = synced();
  const auto req = ntp_request();
  Frame f = udp6(req, 50124, 123);
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  ASSERT_EQ(v.length, 14u + 40 + 8 + 48);
  const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  const auto ip = parse_ipv6(eth->payload);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->fields.src, kOurIp6);
  EXPECT_EQ(ip->fields.dst, kClientIp6);
  const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
  ASSERT_TRUE(udp) << to_string(udp.error());
  EXPECT_EQ(udp->dst_port, 50124);
  EXPECT_EQ(parse_ntp(udp->payload)->header->mode(), 4u);
}

TEST(Frame, VlanTagsAreKeptOnAnswers) {
  FrameProcessor p = synced();
  const auto req = ntp_request();
  Frame f = udp4(req, 50123, 123, kClientIp, kOurIp, kOurMac, {VlanTag{kEtherTypeVlan, 3, false, 100}});
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.length, 94u);
  const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  ASSERT_TRUE(eth);
  ASSERT_EQ(eth->vlan_count, 1u);
  EXPECT_EQ(eth->vlans[0].vid, 100);
  EXPECT_EQ(eth->vlans[0].pcp, 3);
  EXPECT_TRUE(parse_udp(parse_ipv4(eth->payload)->payload, kOurIp, kClientIp));

  Frame other = udp4(req, 50123, 123, kClientIp, kOurIp, kOurMac, {VlanTag{kEtherTypeVlan, 0, false, 200}});
  EXPECT_EQ(run(p, other).counter, Counter::kDropVlan);
}

TEST(Frame, NtpDropsAreCountedByReason) {
  FrameProcessor p = synced();
  const auto mode7 = ntp_request(7);
  Frame f = udp4(mode7, 50123, 123);
  Verdict v = run(p, f);
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_EQ(v.counter, counter_for(NtpOutcome::kDropPrivate));

  const std::array<std::uint8_t, 20> short_req{};
  Frame s = udp4(short_req, 50123, 123);
  EXPECT_EQ(run(p, s).counter, counter_for(NtpOutcome::kDropTruncated));

  const auto req = ntp_request();
  Frame port0 = udp4(req, 0, 123);
  EXPECT_EQ(run(p, port0).counter, counter_for(NtpOutcome::kDropSourcePort0));
}

// ntpq's mode 6 goes to the kernel behind the TAP, where the control answers
// it: a 12-octet READSTAT, and a 48-octet request that has the fast path's
// shape, over IPv4 and IPv6, and unchanged.
TEST(Frame, Mode6GoesToTheKernel) {
  FrameProcessor p = synced();
  const std::array<std::uint8_t, 12> readstat = {0x16, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto mode6 = ntp_request(6);
  Frame small = udp4(readstat, 50123, 123);
  Frame big = udp4(mode6, 50123, 123);
  Frame big6 = udp6(mode6, 50123, 123);
  for (Frame* f : {&small, &big, &big6}) {
    const auto before = f->buf;
    const Verdict v = run(p, *f);
    EXPECT_EQ(v.action, Action::kException);
    EXPECT_EQ(v.counter, Counter::kException);
    EXPECT_EQ(f->buf, before);
  }
}

TEST(Frame, UnsynchronizedServerAnswersLi3Stratum16) {
  FrameProcessor p(config());  // nothing published
  const auto req = ntp_request();
  Frame f = udp4(req, 50123, 123);
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, counter_for(NtpOutcome::kAnsweredUnsync));
  const auto* h = reinterpret_cast<const NtpHeader*>(f.buf.data() + 42);
  EXPECT_EQ(h->leap(), 3u);
  EXPECT_EQ(h->stratum, 16);
}

TEST(Frame, ArpRequestForUsIsAnswered) {
  FrameProcessor p = synced();
  Frame f;
  std::size_t n = write_ethernet(f.bytes(), MacAddress::broadcast(), kClientMac, kEtherTypeArp);
  n += write_arp(f.bytes().subspan(n), ArpOp::kRequest, kClientMac, kClientIp, MacAddress{}, kOurIp);
  f.length = n;
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, Counter::kArpReplied);
  EXPECT_EQ(v.length, 60u) << "padded to the Ethernet minimum";
  const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  EXPECT_EQ(eth->header->dst, kClientMac);
  EXPECT_EQ(eth->header->src, kOurMac);
  const auto arp = parse_arp(eth->payload);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->op, ArpOp::kReply);
  EXPECT_EQ(arp->sender_mac, kOurMac);
  EXPECT_EQ(arp->sender_ip, kOurIp);
  EXPECT_EQ(arp->target_mac, kClientMac);
  EXPECT_EQ(arp->target_ip, kClientIp);

  // For someone else, or a reply to the kernel's own request: the kernel's business.
  Frame other;
  n = write_ethernet(other.bytes(), MacAddress::broadcast(), kClientMac, kEtherTypeArp);
  n += write_arp(other.bytes().subspan(n), ArpOp::kRequest, kClientMac, kClientIp, MacAddress{}, Ipv4Address::of(198, 18, 0, 9));
  other.length = n;
  EXPECT_EQ(run(p, other).action, Action::kException);
}

TEST(Frame, IcmpEchoIsAnswered) {
  FrameProcessor p = synced();
  Frame f;
  std::size_t n = write_ethernet(f.bytes(), kOurMac, kClientMac, kEtherTypeIpv4);
  const std::uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::size_t icmp = write_icmp_echo(f.bytes().subspan(n + 20), IcmpType::kEchoRequest, 0x1234, 7, data);
  Ipv4Fields ip;
  ip.src = kClientIp;
  ip.dst = kOurIp;
  ip.protocol = kIpProtoIcmp;
  write_ipv4(f.bytes().subspan(n), ip, icmp);
  f.length = n + 20 + icmp;
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, Counter::kIcmpEchoReplied);
  const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  const auto rip = parse_ipv4(eth->payload);
  ASSERT_TRUE(rip) << to_string(rip.error());
  EXPECT_EQ(rip->fields.src, kOurIp);
  const auto echo = parse_icmp_echo(rip->payload);
  ASSERT_TRUE(echo) << to_string(echo.error());
  EXPECT_EQ(echo->type, IcmpType::kEchoReply);
  EXPECT_EQ(echo->identifier, 0x1234);
  EXPECT_EQ(echo->sequence, 7);
  ASSERT_EQ(echo->data.size(), sizeof data);
  EXPECT_EQ(echo->data[8], 9);
}

TEST(Frame, Icmpv6EchoAndNeighbourSolicitation) {
  FrameProcessor p = synced();
  // Echo.
  Frame f;
  std::size_t n = write_ethernet(f.bytes(), kOurMac, kClientMac, kEtherTypeIpv6);
  const std::uint8_t data[] = {9, 8, 7};
  std::size_t m = write_icmpv6_echo(f.bytes().subspan(n + 40), kClientIp6, kOurIp6, Icmpv6Type::kEchoRequest, 5, 6, data);
  Ipv6Fields ip;
  ip.src = kClientIp6;
  ip.dst = kOurIp6;
  ip.next_header = kIpProtoIcmpv6;
  write_ipv6(f.bytes().subspan(n), ip, m);
  f.length = n + 40 + m;
  Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, Counter::kIcmpv6EchoReplied);
  auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
  auto rip = parse_ipv6(eth->payload);
  ASSERT_TRUE(rip);
  auto r = parse_icmpv6(rip->payload, rip->fields.src, rip->fields.dst, rip->fields.hop_limit);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->type, Icmpv6Type::kEchoReply);
  EXPECT_EQ(r->identifier, 5);

  // Neighbour solicitation to our solicited-node group.
  Frame ns;
  const Ipv6Address group = solicited_node_multicast(kOurIp6);
  n = write_ethernet(ns.bytes(), multicast_mac(group), kClientMac, kEtherTypeIpv6);
  m = write_neighbor_solicitation(ns.bytes().subspan(n + 40), kClientIp6, group, kOurIp6, kClientMac);
  Ipv6Fields nip;
  nip.src = kClientIp6;
  nip.dst = group;
  nip.next_header = kIpProtoIcmpv6;
  nip.hop_limit = 255;
  write_ipv6(ns.bytes().subspan(n), nip, m);
  ns.length = n + 40 + m;
  v = run(p, ns);
  ASSERT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.counter, Counter::kNdAdvertised);
  eth = parse_ethernet(Bytes(ns.buf.data(), v.length));
  EXPECT_EQ(eth->header->dst, kClientMac);
  rip = parse_ipv6(eth->payload);
  ASSERT_TRUE(rip);
  EXPECT_EQ(rip->fields.src, kOurIp6);
  EXPECT_EQ(rip->fields.dst, kClientIp6);
  EXPECT_EQ(rip->fields.hop_limit, 255);
  r = parse_icmpv6(rip->payload, rip->fields.src, rip->fields.dst, rip->fields.hop_limit);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->type, Icmpv6Type::kNeighborAdvertisement);
  EXPECT_EQ(r->target, kOurIp6);
  EXPECT_EQ(r->na_flags, kNaFlagSolicited | kNaFlagOverride);
  ASSERT_TRUE(r->link_layer.has_value());
  EXPECT_EQ(*r->link_layer, kOurMac);
}

TEST(Frame, UpstreamRepliesGoToTheControl) {
  FrameProcessor p = synced();
  auto reply = ntp_request(4);
  Frame f = udp4(reply, 123, 40003, Ipv4Address::of(198, 18, 5, 5));
  const Verdict v = run(p, f);
  ASSERT_EQ(v.action, Action::kUpstream);
  EXPECT_EQ(v.counter, Counter::kUpstreamReply);
  EXPECT_EQ(p.upstream().src_port, 123);
  EXPECT_EQ(p.upstream().dst_port, 40003);
  EXPECT_EQ(p.upstream().src[0], 198);
  EXPECT_EQ(p.upstream().src[3], 5);
  EXPECT_EQ(p.upstream().payload.size(), 48u);
  // Outside the control's ports it is the kernel's.
  Frame k = udp4(reply, 123, 40010, Ipv4Address::of(198, 18, 5, 5));
  EXPECT_EQ(run(p, k).action, Action::kException);
}

TEST(Frame, ClassificationTable) {
  FrameProcessor p = synced();
  const auto req = ntp_request();
  struct Case {
    const char* name;
    Frame frame;
    Action action;
    Counter counter;
  };
  Frame tcp = udp4(req, 50000, 22);
  tcp.buf[14 + 9] = kIpProtoTcp;  // (checksum is now wrong: header checksum covers the protocol)
  Frame bad_cksum = udp4(req, 50000, 123);
  bad_cksum.buf[14 + 10] ^= 0xff;
  Frame bad_udp = udp4(req, 50000, 123);
  bad_udp.buf[14 + 20 + 8 + 47] ^= 0x01;  // payload changed under the UDP checksum
  Frame frag = udp4(req, 50000, 123);
  {
    auto* ip = reinterpret_cast<Ipv4Header*>(frag.buf.data() + 14);
    ip->flags_fragment.set(kIpv4FlagMoreFragments);
    ip->checksum.set(0);
    ip->checksum.set(ipv4_header_checksum(Bytes(frag.buf.data() + 14, 20)));
  }
  Frame dns = udp4(req, 53, 40000);
  Frame lldp;
  lldp.length = write_ethernet(lldp.bytes(), kOurMac, kClientMac, 0x88cc) + 46;
  Case cases[] = {
      {"other unicast MAC", udp4(req, 50000, 123, kClientIp, kOurIp, kOtherMac), Action::kDrop, Counter::kDropNotForUs},
      {"other IP", udp4(req, 50000, 123, kClientIp, Ipv4Address::of(198, 18, 0, 77)), Action::kDrop, Counter::kDropNotForUs},
      {"broadcast IP", udp4(req, 68, 67, kClientIp, Ipv4Address{0xffffffff}, MacAddress::broadcast()), Action::kException,
       Counter::kException},
      {"bad IPv4 header checksum", bad_cksum, Action::kDrop, counter_for(ParseError::kBadChecksum)},
      {"bad UDP checksum", bad_udp, Action::kDrop, counter_for(ParseError::kBadChecksum)},
      {"fragment", frag, Action::kDrop, counter_for(ParseError::kFragment)},
      {"truncated frame", Frame{{}, 10}, Action::kDrop, counter_for(ParseError::kTruncated)},
      {"other UDP port", dns, Action::kException, Counter::kException},
      {"unknown ethertype", lldp, Action::kException, Counter::kException},
  };
  for (Case& c : cases) {
    const Verdict v = run(p, c.frame);
    EXPECT_EQ(v.action, c.action) << c.name;
    EXPECT_EQ(v.counter, c.counter) << c.name << ": " << counter_name(v.counter);
  }
}

TEST(Counters, NamesAreUniqueAndStable) {
  EXPECT_STREQ(counter_name(counter_for(NtpOutcome::kAnswered)), "answered");
  EXPECT_STREQ(counter_name(counter_for(ParseError::kBadChecksum)), "wire-bad-checksum");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < index(Counter::kCount); ++i) {
    const std::string n = counter_name(static_cast<Counter>(i));
    EXPECT_NE(n, "unknown") << i;
    for (const auto& m : names) EXPECT_NE(n, m);
    names.push_back(n);
  }
}

// The NTP fast path must give exactly what the general path gives: the same
// verdict, counter and bytes, for valid requests and for every way a frame
// can be off (it then falls back, and the general path decides).
TEST(Frame, FastPathMatchesGeneralPathByteForByte) {
  std::mt19937 rng(90);
  LocalConfig slow_cfg = config();
  slow_cfg.fast_path = false;
  FrameProcessor fast = synced();
  FrameProcessor slow(slow_cfg);
  slow.responder().update(shm::local_reference_state(kRx - Duration::from_s(5), 2, -20));
  int fast_answers = 0;
  for (int i = 0; i < 20'000; ++i) {
    auto req = ntp_request(rng() % 8 == 0 ? static_cast<unsigned>(rng() % 8) : 3u);
    req[0] = static_cast<std::uint8_t>((req[0] & 0xC7) | (rng() % 6) << 3);  // versions 0..5
    req[2] = static_cast<std::uint8_t>(rng());
    const auto sport = static_cast<std::uint16_t>(rng() % 16 == 0 ? 0 : 1 + rng() % 65535);
    Frame f = udp4(req, sport, 123);
    auto* ip = reinterpret_cast<Ipv4Header*>(f.buf.data() + 14);
    // Random TOS and TTL, the header checksum updated to match.
    const auto word0 = [&] { return static_cast<std::uint16_t>(ip->version_ihl << 8 | ip->tos); };
    const auto word4 = [&] { return static_cast<std::uint16_t>(ip->ttl << 8 | ip->protocol); };
    const std::uint16_t old0 = word0(), old4 = word4();
    ip->tos = static_cast<std::uint8_t>(rng());
    ip->ttl = static_cast<std::uint8_t>(rng());
    ip->checksum.set(checksum_update16(checksum_update16(ip->checksum.get(), old0, word0()), old4, word4()));
    switch (rng() % 6) {  // now and then, something off
      case 0: f.buf[rng() % f.length] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
      case 1: reinterpret_cast<UdpHeader*>(f.buf.data() + 34)->checksum.set(0); break;  // "no checksum": valid over IPv4
      default: break;
    }
    Frame g = f;
    const Verdict a = fast.process(f.bytes(), f.length, kRx, [] { return kTx; });
    const Verdict b = slow.process(g.bytes(), g.length, kRx, [] { return kTx; });
    ASSERT_EQ(a.action, b.action) << i;
    ASSERT_EQ(a.counter, b.counter) << i << ": " << counter_name(a.counter) << " vs " << counter_name(b.counter);
    ASSERT_EQ(a.length, b.length) << i;
    ASSERT_EQ(a.ntp_offset, b.ntp_offset) << i;
    ASSERT_EQ(std::memcmp(f.buf.data(), g.buf.data(), f.buf.size()), 0) << i;
    fast_answers += a.action == Action::kTransmit;
  }
  EXPECT_GT(fast_answers, 9'000);  // about half the frames are valid requests (versions, modes, ports, flips)
}

// Interleaved mode through the frame processor: the client's address reaches
// the responder on the fast path (IPv4) and the general path (IPv6), and an
// interleaved answer is final (no transmit stamp to take again).
TEST(Frame, InterleavedExchangeOverIpv4AndIpv6) {
  for (const bool v6 : {false, true}) {
    auto table = ClientTable::create(64, 3);
    ASSERT_TRUE(table) << table.error();
    FrameProcessor p = synced();
    p.responder().set_clients(&*table);
    std::uint64_t origin = 0, receive = 0;
    std::uint64_t precise = 0;
    for (int i = 0; i < 3; ++i) {
      auto req = ntp_request();
      auto* q = reinterpret_cast<NtpHeader*>(req.data());
      q->origin_ts.set(origin);
      q->receive_ts.set(receive);
      q->transmit_ts.set(0x2222'0000'0000'0000ULL + static_cast<std::uint64_t>(i));
      Frame f = v6 ? udp6(req, 50000, 123) : udp4(req, 50000, 123);
      const UtcTime rx = kRx + Duration::from_s(i);
      const Verdict v = p.process(f.bytes(), f.length, rx, [rx] { return rx + Duration::from_ns(800); });
      ASSERT_EQ(v.action, Action::kTransmit) << v6 << i;
      const auto eth = parse_ethernet(Bytes(f.buf.data(), v.length));
      ASSERT_TRUE(eth);
      Bytes payload;
      if (v6) {
        const auto ip = parse_ipv6(eth->payload);
        ASSERT_TRUE(ip);
        const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
        ASSERT_TRUE(udp) << to_string(udp.error());
        payload = udp->payload;
      } else {
        const auto ip = parse_ipv4(eth->payload);
        ASSERT_TRUE(ip);
        const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
        ASSERT_TRUE(udp) << to_string(udp.error());
        payload = udp->payload;
      }
      const auto* a = reinterpret_cast<const NtpHeader*>(payload.data());
      EXPECT_EQ(a->receive_ts.get(), NtpTimestamp::from_utc(rx).raw() | kRxFlag);
      if (i == 0) {
        EXPECT_EQ(v.tx_slot, ClientTable::kNoSlot);
        EXPECT_NE(v.ntp_offset, 0u);
      } else if (i == 1) {
        EXPECT_EQ(v.counter, counter_for(NtpOutcome::kAnswered)) << v6;
        ASSERT_NE(v.tx_slot, ClientTable::kNoSlot);
        EXPECT_EQ(v.tx_slot & kSlotInterleaved, 0u);
        precise = (NtpTimestamp::from_utc(rx).raw() + 12'345) & ~kRxFlag;
        ASSERT_TRUE(table->complete(v.tx_slot, a->receive_ts.get(), precise));
      } else {
        EXPECT_EQ(v.counter, counter_for(NtpOutcome::kAnsweredInterleaved)) << v6;
        ASSERT_NE(v.tx_slot, ClientTable::kNoSlot);
        EXPECT_NE(v.tx_slot & kSlotInterleaved, 0u) << "an interleaved answer's transmit timestamp is final";
        EXPECT_EQ(a->origin_ts.get(), 0x3333'0000'0000'0001ULL);
        EXPECT_EQ(a->transmit_ts.get(), precise);
      }
      origin = a->receive_ts.get();
      receive = 0x3333'0000'0000'0000ULL + static_cast<std::uint64_t>(i);
    }
  }
}
