// The access list in DPDK's rte_fib / rte_fib6 against the reference
// matcher, and a worker on a net_ring port following published access lists:
// rules, rate limits and KoD RATE answers end to end.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "dataplane/acl_fib.h"
#include "dataplane/counters.h"
#include "dataplane/epoch_publisher.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"
#include "tests/dpdk/dpdk_env.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::shm;

namespace {

class DpdkAcl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::eal_up()) GTEST_SKIP() << "DPDK EAL cannot start here (needs root)";
  }
};

std::uint32_t random_flags(std::mt19937& rng) {
  std::uint32_t f = 0;
  if (rng() % 2) f |= kAclLimited;
  if (rng() % 3 == 0) f |= kAclKod;
  if (rng() % 9 == 0) f |= kAclNoserve;
  if (rng() % 11 == 0) f |= kAclIgnore;
  if (rng() % 13 == 0) f |= kAclVersion;
  if (rng() % 17 == 0) f |= kAclNtpport;
  if (rng() % 19 == 0) f |= kAclNotrust;  // codes above 127: 2-byte next hops
  return f | kAclNomodify;
}

TEST_F(DpdkAcl, FibAgreesWithTheReferenceOnTenThousandRules) {
  std::mt19937 rng(7);
  std::vector<AclRule> rules = {AclRule::default_rule(kAclLimited | kAclKod)};
  for (int i = 0; i < 10'000; ++i) {
    // Clustered in 198.18.0.0/15 so that prefixes nest and tbl8s are used.
    const std::uint32_t a = 0xC6120000u | (rng() & 0x1FFFF);
    const auto len = static_cast<std::uint8_t>(15 + rng() % 18);
    rules.push_back(AclRule::ipv4(static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                  static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a), len, random_flags(rng)));
  }
  for (int i = 0; i < 300; ++i) {
    std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, static_cast<std::uint8_t>(rng() % 4), static_cast<std::uint8_t>(rng())};
    for (int b = 6; b < 16; ++b) a[b] = static_cast<std::uint8_t>(rng());
    rules.push_back(AclRule::ipv6(a, static_cast<std::uint8_t>(32 + rng() % 33), random_flags(rng)));
  }
  const CompiledAcl acl = compile_restrict(rules);
  const PrefixAccessControl reference(acl);
  auto fib = FibAccessControl::build(acl, "lt_test_acl_a");
  ASSERT_TRUE(fib.has_value()) << fib.error();
  EXPECT_EQ((*fib)->prefixes4() + 1, acl.v4.size());
  EXPECT_TRUE((*fib)->limits());
  for (int i = 0; i < 20'000; ++i) {
    const std::uint32_t ip = i % 10 == 0 ? rng() : (0xC6120000u | (rng() & 0x1FFFF));
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(ip >> 24), static_cast<std::uint8_t>(ip >> 16),
                               static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)};
    ASSERT_EQ((*fib)->lookup4(b), reference.lookup4(b)) << i;
  }
  // A burst's worth at once (and more than the 64 looked up per call): the
  // same answers as one by one, and as the reference's own bulk lookup.
  std::vector<std::uint32_t> burst(150);
  for (auto& ip : burst) ip = 0xC6120000u | (rng() & 0x1FFFF);
  std::vector<std::uint64_t> bulk(burst.size()), ref(burst.size());
  (*fib)->lookup4_bulk(burst.data(), bulk.data(), static_cast<unsigned>(burst.size()));
  reference.lookup4_bulk(burst.data(), ref.data(), static_cast<unsigned>(burst.size()));
  for (std::size_t i = 0; i < burst.size(); ++i) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(burst[i] >> 24), static_cast<std::uint8_t>(burst[i] >> 16),
                               static_cast<std::uint8_t>(burst[i] >> 8), static_cast<std::uint8_t>(burst[i])};
    ASSERT_LT(bulk[i], kActionPairCodes) << i;
    ASSERT_EQ(decode_pair(static_cast<std::uint8_t>(bulk[i])), (*fib)->lookup4(b)) << i;
    ASSERT_EQ(bulk[i], ref[i]) << i;
  }
  for (int i = 0; i < 5'000; ++i) {
    std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, static_cast<std::uint8_t>(rng() % 5)};
    for (int b = 5; b < 16; ++b) a[b] = static_cast<std::uint8_t>(rng());
    ASSERT_EQ((*fib)->lookup6(a), reference.lookup6(a)) << i;
  }
}

TEST_F(DpdkAcl, DefaultsOnlyNeedNoTables) {
  auto fib = FibAccessControl::build(compile_restrict(std::vector<AclRule>{AclRule::default_rule(kAclNoserve, 6)}),
                                     "lt_test_acl_b");
  ASSERT_TRUE(fib.has_value()) << fib.error();
  const std::uint8_t v4[4] = {198, 18, 0, 2};
  std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  EXPECT_EQ((*fib)->lookup4(v4), AclActions{});
  EXPECT_EQ((*fib)->lookup6(v6), (AclActions{kActNoserve, kActNoserve}));
  EXPECT_FALSE((*fib)->limits());
}

const wire::NtpHeader* ntp_of(const std::vector<std::uint8_t>& f) {
  return f.size() >= 90 ? reinterpret_cast<const wire::NtpHeader*>(f.data() + 42) : nullptr;
}

TEST_F(DpdkAcl, WorkerFollowsPublishedListsAndSendsRateLimitedKods) {
  test::WorkerRig rig("acl");
  auto& [port, control, timebase, wc] = rig;
  LocalConfig local;
  local.mac = port.info.mac;
  local.ipv4 = {test::kServerIp};
  auto clients = ClientTable::create(1024, 11);
  ASSERT_TRUE(clients.has_value());
  Worker worker(wc, local, control.dataplane, timebase, hwclock::Duration::from_s(300), std::move(*clients));

  auto built = FibAccessControl::build(
      compile_restrict(std::vector<AclRule>{AclRule::default_rule(kAclLimited | kAclKod),
                                            AclRule::ipv4(198, 18, 0, 3, 32, 0),  // not limited
                                            AclRule::ipv4(198, 18, 0, 4, 32, kAclIgnore)}),
      "lt_test_acl_c");
  ASSERT_TRUE(built.has_value()) << built.error();
  EpochPublisher<AccessControl> publisher(1, std::unique_ptr<const AccessControl>(built->release()));
  worker.follow_acl(publisher, 0);

  const auto req = test::ntp_request();
  auto inject = [&](wire::Ipv4Address src) {
    const test::Frame f = test::udp4(wire::Bytes(req), 40000, 123, src, test::kServerIp, port.info.mac);
    ASSERT_TRUE(port.inject(f.buf.data(), f.length));
  };
  // Three requests from one client in one burst, three from an unlimited
  // one, one from an ignored one.
  for (int i = 0; i < 3; ++i) inject(test::kClientIp);
  for (int i = 0; i < 3; ++i) inject(wire::Ipv4Address::of(198, 18, 0, 3));
  inject(wire::Ipv4Address::of(198, 18, 0, 4));
  worker.poll_once();
  const auto out = port.capture();
  ASSERT_EQ(out.size(), 5u);  // answer + KoD, three answers; the third request and the ignored one dropped
  const wire::NtpHeader* answer = ntp_of(out[0]);
  const wire::NtpHeader* kod = ntp_of(out[1]);
  ASSERT_NE(answer, nullptr);
  ASSERT_NE(kod, nullptr);
  EXPECT_EQ(answer->stratum, 2);
  EXPECT_EQ(kod->stratum, 0);
  EXPECT_EQ(kod->reference_id.get(), 0x52415445u);
  EXPECT_EQ(kod->leap(), 3u);
  // The worker stamps transmit times just before sending, but not a KoD's:
  // its three timestamps stay the request's transmit timestamp.
  const std::uint64_t client_tx = 0xA0A1A2A3A4A5A6A7ULL;
  EXPECT_EQ(kod->transmit_ts.get(), client_tx);
  EXPECT_EQ(kod->receive_ts.get(), client_tx);
  EXPECT_EQ(kod->origin_ts.get(), client_tx);
  EXPECT_NE(answer->transmit_ts.get(), client_tx);
  // Every frame left with a valid UDP checksum.
  for (const auto& f : out) {
    const auto eth = wire::parse_ethernet(wire::Bytes(f));
    ASSERT_TRUE(eth.has_value());
    const auto ip = wire::parse_ipv4(eth->payload);
    ASSERT_TRUE(ip.has_value());
    EXPECT_TRUE(wire::parse_udp(ip->payload, ip->fields.src, ip->fields.dst).has_value());
  }
  auto count = [&](Counter c) { return shm::sum(control.dataplane.counters(), 1, index(c)); };
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnsweredKod)), 1u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kDropRateLimited)), 1u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kDropRestrictIgnore)), 1u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnswered)), 4u);

  // A new list: everyone served. The worker switches at its next burst and
  // acknowledges, so the old list can go.
  auto open = FibAccessControl::build(compile_restrict(std::vector<AclRule>{}), "lt_test_acl_d");
  ASSERT_TRUE(open.has_value());
  publisher.publish(std::unique_ptr<const AccessControl>(open->release()));
  inject(wire::Ipv4Address::of(198, 18, 0, 4));
  worker.poll_once();
  EXPECT_EQ(port.capture().size(), 1u);
  EXPECT_EQ(publisher.reclaim(), 0u);

  // Full bursts from 32 limited clients: each client's bucket is found before
  // its turn (the first eight before the restrict lookup, the rest eight
  // requests ahead). Every first request is answered; every second one, in
  // the next burst, gets its client's first KoD.
  auto limited = FibAccessControl::build(
      compile_restrict(std::vector<AclRule>{AclRule::default_rule(kAclLimited | kAclKod)}), "lt_test_acl_e");
  ASSERT_TRUE(limited.has_value()) << limited.error();
  publisher.publish(std::unique_ptr<const AccessControl>(limited->release()));
  const std::uint64_t answered = count(counter_for(NtpOutcome::kAnswered));
  const std::uint64_t kods = count(counter_for(NtpOutcome::kAnsweredKod));
  for (int burst = 0; burst < 2; ++burst) {
    for (std::uint8_t i = 0; i < 32; ++i) inject(wire::Ipv4Address::of(198, 18, 1, i));
    EXPECT_EQ(worker.poll_once(), 32u);
    EXPECT_EQ(port.capture().size(), 32u) << burst;
  }
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnswered)) - answered, 32u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnsweredKod)) - kods, 32u);
  for (std::uint8_t i = 0; i < 32; ++i) {
    const std::uint8_t a[4] = {198, 18, 1, i};
    EXPECT_NE(worker.clients().find_slot(ClientKey::from_ipv4(a)), ClientTable::kNoSlot) << int{i};
  }
}

// A burst mixing untagged IPv4, VLAN-tagged IPv4 and IPv6 frames: the bulk
// lookup covers the untagged IPv4 ones at their own places in the burst, the
// others are looked up one by one, and each frame gets its own source's
// actions.
TEST_F(DpdkAcl, MixedBurstKeepsEachFramesRestriction) {
  test::WorkerRig rig("acl_mixed");
  auto& [port, control, timebase, wc] = rig;
  LocalConfig local;
  local.mac = test::kServerMac;
  local.ipv4 = {test::kServerIp};
  const auto server6 = wire::parse_ipv6_address("2001:2::1");
  const auto client6 = wire::parse_ipv6_address("2001:2::9");
  ASSERT_TRUE(server6.has_value() && client6.has_value());
  local.ipv6 = {*server6};
  local.vlans = {100};
  auto clients = ClientTable::create(1024, 12);
  ASSERT_TRUE(clients.has_value());
  Worker worker(wc, local, control.dataplane, timebase, hwclock::Duration::from_s(300), std::move(*clients));
  const std::uint8_t prefix6[16] = {0x20, 0x01, 0x00, 0x02};
  auto built = FibAccessControl::build(
      compile_restrict(std::vector<AclRule>{AclRule::default_rule(kAclLimited | kAclKod),
                                            AclRule::ipv4(198, 18, 0, 4, 32, kAclIgnore),
                                            AclRule::ipv6(prefix6, 64, kAclIgnore)}),
      "lt_test_acl_f");
  ASSERT_TRUE(built.has_value()) << built.error();
  EpochPublisher<AccessControl> publisher(1, std::unique_ptr<const AccessControl>(built->release()));
  worker.follow_acl(publisher, 0);

  const auto req = test::ntp_request();
  const wire::Ipv4Address ignored = wire::Ipv4Address::of(198, 18, 0, 4);
  const wire::Ipv4Address other = wire::Ipv4Address::of(198, 18, 0, 5);
  const wire::Ipv4Address third = wire::Ipv4Address::of(198, 18, 0, 6);
  auto inject = [&](const test::Frame& f) { ASSERT_TRUE(port.inject(f.buf.data(), f.length)); };
  auto v4 = [&](wire::Ipv4Address src, std::vector<wire::VlanTag> vlans = {}) {
    return test::udp4(wire::Bytes(req), 40000, 123, src, test::kServerIp, test::kServerMac, std::move(vlans));
  };
  inject(test::udp6(wire::Bytes(req), 40000, 123, *client6, *server6));  // ignored
  inject(v4(ignored));                                                  // ignored
  inject(v4(test::kClientIp));                                          // answered
  inject(v4(ignored, {wire::VlanTag{.vid = 100}}));                         // ignored, looked up alone
  inject(test::udp6(wire::Bytes(req), 40000, 123, *client6, *server6));  // ignored
  inject(v4(test::kClientIp));                                          // its first KoD
  inject(v4(other, {wire::VlanTag{.vid = 100}}));                           // answered, limited alone
  inject(v4(other));                                                    // its first KoD
  inject(v4(third));                                                    // answered (bucket fetched ahead)
  inject(v4(third));                                                    // its first KoD
  EXPECT_EQ(worker.poll_once(), 10u);
  const auto out = port.capture();
  ASSERT_EQ(out.size(), 6u);
  auto count = [&](Counter c) { return shm::sum(control.dataplane.counters(), 1, index(c)); };
  EXPECT_EQ(count(counter_for(NtpOutcome::kDropRestrictIgnore)), 4u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnswered)), 3u);
  EXPECT_EQ(count(counter_for(NtpOutcome::kAnsweredKod)), 3u);
  // In burst order: answer, KoD, answer (tagged), KoD, answer, KoD.
  const std::uint8_t expected_stratum[6] = {2, 0, 2, 0, 2, 0};
  const wire::Ipv4Address expected_client[6] = {test::kClientIp, test::kClientIp, other, other, third, third};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto eth = wire::parse_ethernet(wire::Bytes(out[i]));
    ASSERT_TRUE(eth.has_value()) << i;
    const auto ip = wire::parse_ipv4(eth->payload);
    ASSERT_TRUE(ip.has_value()) << i;
    const auto udp = wire::parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
    ASSERT_TRUE(udp.has_value()) << i;
    ASSERT_GE(udp->payload.size(), sizeof(wire::NtpHeader)) << i;
    EXPECT_EQ(ip->fields.dst, expected_client[i]) << i;
    EXPECT_EQ(reinterpret_cast<const wire::NtpHeader*>(udp->payload.data())->stratum, expected_stratum[i]) << i;
  }
}

}  // namespace
