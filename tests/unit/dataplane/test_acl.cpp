// Access control: restrict rules compiled and matched as ntpd matches them,
// the seeds' lines through the control's parser, and the frame processor
// dropping what the rules and the source checks say.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "dataplane/acl.h"
#include "dataplane/frame.h"
#include "dataplane/restrict_file.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::shm;

namespace {

const std::uint8_t* v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  static thread_local std::uint8_t buf[4];
  buf[0] = a;
  buf[1] = b;
  buf[2] = c;
  buf[3] = d;
  return buf;
}

std::array<std::uint8_t, 16> v6(const char* text) { return wire::parse_ipv6_address(text)->bytes; }

std::uint32_t flags(const CompiledAcl& acl, const std::uint8_t* a, std::uint16_t port = 40000) {
  return acl.flags_for(a, 4, port);
}

TEST(Acl, MostSpecificPrefixWinsAndOnlyItsFlagsApply) {
  const std::vector<AclRule> rules = {
      AclRule::default_rule(kAclKod | kAclNomodify | kAclNotrap | kAclNopeer | kAclNoquery | kAclLimited),
      AclRule::ipv4(192, 168, 0, 0, 16, kAclNoserve),
      AclRule::ipv4(192, 168, 21, 0, 24, kAclNomodify | kAclNotrap),
      AclRule::ipv4(192, 168, 21, 7, 32, kAclIgnore),
  };
  const CompiledAcl acl = compile_restrict(rules);
  ASSERT_EQ(acl.v4.size(), 4u);  // the default and three prefixes
  EXPECT_EQ(flags(acl, v4(10, 1, 2, 3)), kAclKod | kAclNomodify | kAclNotrap | kAclNopeer | kAclNoquery | kAclLimited);
  EXPECT_EQ(flags(acl, v4(192, 168, 1, 1)), kAclNoserve);
  EXPECT_EQ(flags(acl, v4(192, 168, 21, 1)), kAclNomodify | kAclNotrap);  // not limited: the default's flags do not add
  EXPECT_EQ(flags(acl, v4(192, 168, 21, 7)), kAclIgnore);
  EXPECT_EQ(flags(acl, v4(192, 168, 22, 7)), kAclNoserve);
  // IPv6 has its own default, here the same rule.
  const auto a6 = v6("2001:db8::1");
  EXPECT_EQ(acl.flags_for(a6.data(), 16, 123), kAclKod | kAclNomodify | kAclNotrap | kAclNopeer | kAclNoquery | kAclLimited);
}

TEST(Acl, RulesForTheSamePrefixAddUpAndHostBitsAreMasked) {
  const CompiledAcl acl = compile_restrict(std::vector<AclRule>{
      AclRule::ipv4(198, 18, 5, 9, 24, kAclNomodify),  // host bits under /24: the rule covers 198.18.5.0/24
      AclRule::ipv4(198, 18, 5, 0, 24, kAclNotrap),
      AclRule::default_rule(kAclNoquery, 4),
      AclRule::default_rule(kAclNopeer, 4),
  });
  ASSERT_EQ(acl.v4.size(), 2u);
  EXPECT_EQ(flags(acl, v4(198, 18, 5, 200)), kAclNomodify | kAclNotrap);
  EXPECT_EQ(flags(acl, v4(198, 18, 6, 1)), kAclNoquery | kAclNopeer);
  // -4 default only: IPv6 keeps ntpd's built-in default, everything allowed.
  const auto a6 = v6("2001:db8::1");
  EXPECT_EQ(acl.flags_for(a6.data(), 16, 40000), 0u);
}

TEST(Acl, NtpportRulesApplyToPort123AndOthersFallThrough) {
  const CompiledAcl acl = compile_restrict(std::vector<AclRule>{
      AclRule::default_rule(kAclNoquery),
      AclRule::ipv4(198, 18, 0, 0, 15, kAclLimited),
      AclRule::ipv4(198, 18, 7, 0, 24, kAclNtpport | kAclIgnore),  // only an ntpport rule here
      AclRule::ipv4(198, 18, 8, 0, 24, kAclNtpport | kAclNoserve),
      AclRule::ipv4(198, 18, 8, 0, 24, kAclVersion),
  });
  EXPECT_EQ(flags(acl, v4(198, 18, 7, 1), 123), kAclIgnore);
  EXPECT_EQ(flags(acl, v4(198, 18, 7, 1), 5000), kAclLimited);  // falls through to the /15
  EXPECT_EQ(flags(acl, v4(198, 18, 8, 1), 123), kAclNoserve);
  EXPECT_EQ(flags(acl, v4(198, 18, 8, 1), 5000), kAclVersion);
  EXPECT_EQ(flags(acl, v4(198, 19, 0, 1), 123), kAclLimited);
}

TEST(Acl, ActionsKeepOnlyWhatChangesAnAnswer) {
  EXPECT_EQ(actions_of(kAclNomodify | kAclNotrap | kAclNoquery | kAclNopeer, false), 0);
  EXPECT_EQ(actions_of(kAclKod, false), 0);  // kod means something only with limited
  EXPECT_EQ(actions_of(kAclKod | kAclLimited, false), kActLimited | kActKod);
  EXPECT_EQ(actions_of(kAclKod, true), kActLimited | kActKod);  // chrony's ratelimit limits everyone
  EXPECT_EQ(actions_of(kAclIgnore | kAclNoserve | kAclLimited, false), kActIgnore);
  EXPECT_EQ(actions_of(kAclNoserve | kAclVersion, false), kActNoserve);
  EXPECT_EQ(actions_of(kAclVersion | kAclLimited, false), kActVersion | kActLimited);
  EXPECT_EQ(actions_of(kAclNotrust | kAclLimited, false), kActNotrust | kActLimited);
  EXPECT_EQ(actions_of(kAclNotrust | kAclNoserve, false), kActNoserve);
  // Every pair survives the 8-bit code the FIB holds, and without notrust
  // the code fits DPDK's 1-byte next hops (at most 127).
  auto flags_of = [](std::uint32_t bits) {
    return (bits & 1 ? std::uint32_t{kAclIgnore} : 0u) | (bits & 2 ? std::uint32_t{kAclNoserve} : 0u) |
           (bits & 4 ? std::uint32_t{kAclVersion} : 0u) | (bits & 8 ? std::uint32_t{kAclLimited} : 0u) |
           (bits & 16 ? std::uint32_t{kAclKod} : 0u) | (bits & 32 ? std::uint32_t{kAclNotrust} : 0u);
  };
  for (std::uint32_t a = 0; a < 64; ++a) {
    for (std::uint32_t b = 0; b < 64; ++b) {
      const std::uint32_t fa = flags_of(a);
      const std::uint32_t fb = flags_of(b);
      const AclActions p{actions_of(fa, false), actions_of(fb, false)};
      ASSERT_LT(encode_pair(p), kActionPairCodes);
      ASSERT_EQ(decode_pair(encode_pair(p)), p) << a << " " << b;
      if (((a | b) & 32) == 0) {
        ASSERT_LE(encode_pair(p), 127u) << a << " " << b;
      }
    }
  }
}

TEST(Acl, Ipv6Prefixes) {
  const auto net = v6("2001:db8:100::");
  const auto host = v6("2001:db8:100::42");
  const CompiledAcl acl = compile_restrict(std::vector<AclRule>{
      AclRule::default_rule(kAclIgnore, 6),
      AclRule::ipv6(net.data(), 40, kAclLimited | kAclKod),
      AclRule::ipv6(host.data(), 128, 0),
  });
  const auto inside = v6("2001:db8:1ff::1");
  const auto outside = v6("2001:db8:200::1");
  EXPECT_EQ(acl.flags_for(inside.data(), 16, 1), kAclLimited | kAclKod);
  EXPECT_EQ(acl.flags_for(outside.data(), 16, 1), kAclIgnore);
  EXPECT_EQ(acl.flags_for(host.data(), 16, 1), 0u);
  EXPECT_EQ(flags(acl, v4(1, 2, 3, 4)), 0u);  // -6 only
}

TEST(Acl, PrefixAccessControlAgreesWithALinearScanOnRandomRules) {
  std::mt19937 rng(20240611);
  std::vector<AclRule> rules;
  for (int i = 0; i < 2000; ++i) {
    const std::uint32_t a = rng();
    const auto len = static_cast<std::uint8_t>(8 + rng() % 25);
    rules.push_back(AclRule::ipv4(static_cast<std::uint8_t>(198), static_cast<std::uint8_t>(18 + (a >> 31)),
                                  static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a), len,
                                  (rng() % 2 ? std::uint32_t{kAclLimited} : 0u) | (rng() % 5 == 0 ? std::uint32_t{kAclNoserve} : 0u) |
                                      (rng() % 7 == 0 ? std::uint32_t{kAclNtpport} : 0u)));
  }
  const CompiledAcl acl = compile_restrict(rules);
  const PrefixAccessControl pac(acl);
  // Linear reference: ntpd's list walk over the raw rules.
  auto reference = [&](std::uint32_t ip, std::uint16_t port) {
    int best = -1;
    std::uint32_t f = 0;
    for (const AclRule& r : rules) {
      const std::uint32_t net = std::uint32_t{r.address[0]} << 24 | std::uint32_t{r.address[1]} << 16 |
                                std::uint32_t{r.address[2]} << 8 | r.address[3];
      const std::uint32_t mask = r.length == 0 ? 0 : ~std::uint32_t{0} << (32 - r.length);
      if ((ip & mask) != (net & mask)) continue;
      const bool ntpport = (r.flags & kAclNtpport) != 0;
      if (ntpport && port != 123) continue;
      const int rank = r.length * 2 + (ntpport ? 1 : 0);
      if (rank > best) {
        best = rank;
        f = r.flags & ~kAclNtpport;
      } else if (rank == best) {
        f |= r.flags & ~kAclNtpport;
      }
    }
    return f;
  };
  for (int i = 0; i < 3000; ++i) {
    const std::uint32_t ip = (i % 2 ? 0xC6120000u : 0xC6130000u) | (rng() & 0xFFFF);
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(ip >> 24), static_cast<std::uint8_t>(ip >> 16),
                               static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)};
    const std::uint16_t port = i % 3 == 0 ? 123 : 40000;
    const std::uint32_t want = reference(ip, port);
    ASSERT_EQ(acl.flags_for(b, 4, port), want) << i;
    ASSERT_EQ(pac.lookup4(b).for_port(port), actions_of(want, false));
  }
}

TEST(Acl, TableRoundTripThroughSharedMemoryBytes) {
  AclRateLimit rate;
  rate.style = RateStyle::kChrony;
  rate.interval_log2 = -2;
  rate.burst = 16;
  const auto net = v6("2001:db8::");
  const CompiledAcl acl = compile_restrict(
      std::vector<AclRule>{AclRule::default_rule(kAclNoquery), AclRule::ipv4(198, 18, 0, 0, 15, kAclLimited),
                           AclRule::ipv6(net.data(), 32, kAclIgnore)},
      rate);
  const std::vector<std::uint8_t> bytes = serialize(acl);
  EXPECT_EQ(bytes.size(), sizeof(AclTableHeader) + 4 * sizeof(AclEntry));
  const auto view = parse_acl(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(from_table(*view), acl);
  std::vector<std::uint8_t> bad = bytes;
  bad[4] = 99;  // version
  EXPECT_FALSE(parse_acl(bad).has_value());
  EXPECT_FALSE(parse_acl(std::span(bytes).first(bytes.size() - 1)).has_value());
}

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(RestrictFile, SeedLinesBehaveAsInNtpd) {
  const std::string server = read(std::string(LINETIME_CONFIGS_DIR) + "/seed-server.conf");
  const std::string client = read(std::string(LINETIME_CONFIGS_DIR) + "/seed-ltt2-client.conf");
  const std::string ltt1 = read(std::string(LINETIME_CONFIGS_DIR) + "/seed-ltt1-server.conf");
  ASSERT_FALSE(server.empty());
  const auto cfg = parse_restrict_config(server + client + ltt1, "seeds.conf");
  ASSERT_TRUE(cfg.has_value()) << cfg.error();
  const CompiledAcl acl = compile_restrict(cfg->rules, cfg->rate);
  // restrict 192.168.21.0 mask 255.255.255.0 nomodify notrap
  EXPECT_EQ(flags(acl, v4(192, 168, 21, 33)), kAclNomodify | kAclNotrap);
  // restrict 192.168.11.11 nomodify notrap noquery (a host)
  EXPECT_EQ(flags(acl, v4(192, 168, 11, 11)), kAclNomodify | kAclNotrap | kAclNoquery);
  // restrict 192.168.11.2 mask 255.255.255.0 nomodify notrap: host bits set,
  // ntpd applies it to 192.168.11.0/24 (and says so in a note).
  EXPECT_EQ(flags(acl, v4(192, 168, 11, 99)), kAclNomodify | kAclNotrap);
  // restrict 51.15.41.135 nomodify notrap noquery
  EXPECT_EQ(flags(acl, v4(51, 15, 41, 135)), kAclNomodify | kAclNotrap | kAclNoquery);
  EXPECT_EQ(flags(acl, v4(51, 15, 41, 136)), 0u);  // no default line: ntpd's default allows all
  // None of them changes how time requests are answered.
  const PrefixAccessControl pac(acl);
  EXPECT_EQ(pac.lookup4(v4(192, 168, 21, 33)).for_port(40000), 0);
  EXPECT_EQ(pac.lookup4(v4(192, 168, 11, 11)).for_port(40000), 0);
  EXPECT_FALSE(pac.limits());
  // Host-name rules are left to the control, and said so.
  bool named = false, masked = false;
  for (const std::string& n : cfg->notes) {
    named |= n.find("1.cn.pool.ntp.org") != std::string::npos;
    masked |= n.find("host bits") != std::string::npos;
  }
  EXPECT_TRUE(named);
  EXPECT_TRUE(masked);
}

TEST(RestrictFile, EverySeedLoads) {
  for (const char* name : {"seed-server.conf", "seed-ltt1-server.conf", "seed-ltt2-client.conf"}) {
    const std::string text = read(std::string(LINETIME_CONFIGS_DIR) + "/" + name);
    const auto cfg = parse_restrict_config(text, name);
    EXPECT_TRUE(cfg.has_value()) << name << ": " << cfg.error();
  }
}

TEST(RestrictFile, DiscardAndRatelimitLines) {
  const auto ntpd = parse_restrict_config(
      "restrict default limited kod nomodify\n"
      "restrict 198.18.0.0/15\n"
      "server 198.18.0.9 iburst\n"
      "discard average 4 minimum 1\n",
      "a.conf");
  ASSERT_TRUE(ntpd.has_value()) << ntpd.error();
  EXPECT_EQ(ntpd->rate.style, RateStyle::kNtpd);
  EXPECT_EQ(ntpd->rate.average_log2, 4);
  EXPECT_EQ(ntpd->rate.minimum_s, 1);
  ASSERT_EQ(ntpd->rules.size(), 2u);
  EXPECT_EQ(ntpd->rules[0].flags, kAclLimited | kAclKod | kAclNomodify);

  const auto chrony = parse_restrict_config("ratelimit interval 1 burst 4 leak 3\n", "b.conf");
  ASSERT_TRUE(chrony.has_value()) << chrony.error();
  EXPECT_EQ(chrony->rate.style, RateStyle::kChrony);
  EXPECT_EQ(chrony->rate.interval_log2, 1);
  EXPECT_EQ(chrony->rate.burst, 4);
  EXPECT_EQ(chrony->rate.leak, 3);
  EXPECT_EQ(chrony->rate.all_limited, 1);
}

TEST(RestrictFile, ErrorsNameTheLineAndTheFix) {
  auto e = parse_restrict_config("\nrestrict default nomodfy\n", "c.conf");
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().find("c.conf:2"), std::string::npos) << e.error();
  EXPECT_NE(e.error().find("nomodify"), std::string::npos) << e.error();

  e = parse_restrict_config("discard average 40\n", "d.conf");
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().find("d.conf:1"), std::string::npos);
  EXPECT_NE(e.error().find("discard average A minimum M"), std::string::npos);

  e = parse_restrict_config("discard average 3\nratelimit interval 3\n", "e.conf");
  ASSERT_FALSE(e.has_value());

  e = parse_restrict_config("restrict time.example.org ignore\n", "f.conf");
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().find("write the server's address"), std::string::npos);
}

// The frame processor with an access list.
struct AclFrames : ::testing::Test {
  LocalConfig config() {
    LocalConfig c;
    c.mac = test::kServerMac;
    c.ipv4 = {test::kServerIp};
    return c;
  }
  FrameProcessor proc{config()};
  // The responder has no synchronized state here: answers are "unsync".
  const Counter served = counter_for(NtpOutcome::kAnsweredUnsync);
  const hwclock::UtcTime rx{1'800'000'000LL * hwclock::kNsPerSec};

  Verdict send(wire::Ipv4Address src, std::uint16_t sport = 40000, unsigned version = 4) {
    auto req = test::ntp_request();
    req[0] = wire::ntp_li_vn_mode(0, version, 3);
    frame = test::udp4(wire::Bytes(req), sport, 123, src);
    return proc.process(frame.bytes(), frame.length, rx, [&] { return rx; });
  }
  test::Frame frame;
};

TEST_F(AclFrames, RulesDropCountAndServe) {
  const PrefixAccessControl acl(compile_restrict(std::vector<AclRule>{
      AclRule::default_rule(kAclIgnore),
      AclRule::ipv4(198, 18, 0, 0, 24, kAclNomodify | kAclNotrap),
      AclRule::ipv4(198, 18, 0, 64, 26, kAclNoserve),
      AclRule::ipv4(198, 18, 0, 128, 26, kAclVersion),
  }));
  proc.set_acl(&acl);
  for (bool fast : {true, false}) {
    auto c = config();
    c.fast_path = fast;
    proc.set_config(c);
    EXPECT_EQ(send(test::kClientIp).counter, served);
    EXPECT_EQ(send(wire::Ipv4Address::of(198, 19, 0, 2)).counter, counter_for(NtpOutcome::kDropRestrictIgnore));
    EXPECT_EQ(send(wire::Ipv4Address::of(198, 18, 0, 70)).counter, counter_for(NtpOutcome::kDropRestrictNoserve));
    EXPECT_EQ(send(wire::Ipv4Address::of(198, 18, 0, 130), 40000, 3).counter,
              counter_for(NtpOutcome::kDropRestrictVersion));
    EXPECT_EQ(send(wire::Ipv4Address::of(198, 18, 0, 130), 40000, 4).counter, served);
  }
  proc.set_acl(nullptr);
  EXPECT_EQ(send(wire::Ipv4Address::of(198, 19, 0, 2)).counter, served);
}

TEST_F(AclFrames, SourcesThatCannotBeAnsweredAreDroppedByReason) {
  // The IPv4 parser already refuses multicast and broadcast sources.
  EXPECT_EQ(send(wire::Ipv4Address::of(224, 0, 1, 1)).counter, counter_for(wire::ParseError::kBadAddress));
  EXPECT_EQ(send(wire::Ipv4Address::of(255, 255, 255, 255)).counter, counter_for(wire::ParseError::kBadAddress));
  EXPECT_EQ(send(wire::Ipv4Address::of(0, 0, 0, 0)).counter, Counter::kDropSourceMartian);
  EXPECT_EQ(send(wire::Ipv4Address::of(127, 0, 0, 1)).counter, Counter::kDropSourceMartian);
  EXPECT_EQ(send(test::kServerIp).counter, Counter::kDropSourceOwn);
  EXPECT_EQ(send(test::kClientIp, 0).counter, counter_for(NtpOutcome::kDropSourcePort0));
  EXPECT_EQ(send(test::kClientIp).action, Action::kTransmit);
}

TEST_F(AclFrames, Ipv6RulesAndSources) {
  auto c = config();
  c.ipv6 = {*wire::parse_ipv6_address("2001:db8::1")};
  proc.set_config(c);
  const auto denied = v6("2001:db8:0:66::");
  const PrefixAccessControl acl(compile_restrict(std::vector<AclRule>{AclRule::ipv6(denied.data(), 64, kAclIgnore)}));
  proc.set_acl(&acl);
  const auto req = test::ntp_request();
  auto send6 = [&](const char* src) {
    frame = test::udp6(wire::Bytes(req), 40000, 123, *wire::parse_ipv6_address(src), c.ipv6[0]);
    return proc.process(frame.bytes(), frame.length, rx, [&] { return rx; }).counter;
  };
  EXPECT_EQ(send6("2001:db8::2"), served);
  EXPECT_EQ(send6("2001:db8:0:66::9"), counter_for(NtpOutcome::kDropRestrictIgnore));
  EXPECT_EQ(send6("2001:db8::1"), Counter::kDropSourceOwn);
  EXPECT_EQ(send6("::1"), Counter::kDropSourceMartian);
}

// The worker makes a burst's hints for every frame alike: the processor
// applies one only to the source of an untagged IPv4 frame, on the fast path
// and on the general one; a tagged IPv4 or an IPv6 frame is looked up alone.
TEST_F(AclFrames, AHintAppliesOnlyToAnUntaggedIpv4Source) {
  auto c = config();
  c.ipv6 = {*wire::parse_ipv6_address("2001:db8::1")};
  c.vlans = {100};
  const PrefixAccessControl acl(compile_restrict(std::vector<AclRule>{}));  // everyone served
  proc.set_acl(&acl);
  const SourceHint ignored{encode_pair(AclActions{kActIgnore, kActIgnore}), NtpRequest::kNoBucket};
  const auto req = test::ntp_request();
  for (bool fast : {true, false}) {
    c.fast_path = fast;
    proc.set_config(c);
    frame = test::udp4(wire::Bytes(req), 40000, 123, test::kClientIp);
    EXPECT_EQ(proc.process(frame.bytes(), frame.length, rx, [&] { return rx; }, ignored).counter,
              counter_for(NtpOutcome::kDropRestrictIgnore))
        << fast;
    frame = test::udp4(wire::Bytes(req), 40000, 123, test::kClientIp, test::kServerIp, test::kServerMac,
                       {wire::VlanTag{.vid = 100}});
    EXPECT_EQ(proc.process(frame.bytes(), frame.length, rx, [&] { return rx; }, ignored).counter, served) << fast;
    frame = test::udp6(wire::Bytes(req), 40000, 123, *wire::parse_ipv6_address("2001:db8::2"), c.ipv6[0]);
    EXPECT_EQ(proc.process(frame.bytes(), frame.length, rx, [&] { return rx; }, ignored).counter, served) << fast;
    // No hint: looked up.
    frame = test::udp4(wire::Bytes(req), 40000, 123, test::kClientIp);
    EXPECT_EQ(proc.process(frame.bytes(), frame.length, rx, [&] { return rx; }).counter, served) << fast;
  }
}

TEST_F(AclFrames, LimitedKodAnswersAKodThatIsNotStamped) {
  auto table = ClientTable::create(1024, 7);
  ASSERT_TRUE(table.has_value());
  proc.responder().set_clients(&*table);
  AclRateLimit rate;  // ntpd defaults: average 3, minimum 2
  const PrefixAccessControl acl(compile_restrict(std::vector<AclRule>{AclRule::default_rule(kAclLimited | kAclKod)}, rate));
  proc.set_acl(&acl);
  const Verdict first = send(test::kClientIp);
  EXPECT_EQ(first.counter, served);
  EXPECT_NE(first.ntp_offset, 0);
  const Verdict second = send(test::kClientIp);  // 0 s later: under the 2 s minimum
  EXPECT_EQ(second.action, Action::kTransmit);
  EXPECT_EQ(second.counter, counter_for(NtpOutcome::kAnsweredKod));
  EXPECT_EQ(second.ntp_offset, 0);  // the worker leaves its transmit timestamp alone
  EXPECT_EQ(second.length, 90);     // never longer than the request
  const auto* h = reinterpret_cast<const wire::NtpHeader*>(frame.buf.data() + 42);
  EXPECT_EQ(h->stratum, 0);
  EXPECT_EQ(h->reference_id.get(), 0x52415445u);
  const Verdict third = send(test::kClientIp);  // the KoD itself is rate limited
  EXPECT_EQ(third.counter, counter_for(NtpOutcome::kDropRateLimited));
  // Another client is unaffected.
  EXPECT_EQ(send(wire::Ipv4Address::of(198, 18, 0, 3)).counter, served);
}

}  // namespace
