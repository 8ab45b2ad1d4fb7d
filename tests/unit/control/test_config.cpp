// Tests of the ntp.conf parser: the seeds' files as shipped in configs/, every
// directive, a table of errors with their exact messages, include handling,
// keys, CRLF and comments. Include and keys files come from memory.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "control/config.h"

namespace linetime::control {
namespace {

using Files = std::map<std::string, std::string>;

FileLoader loader_of(const Files& files) {
  return [files](const std::string& path) {
    auto it = files.find(path);
    if (it == files.end()) return FileLoad{std::nullopt, "No such file or directory", ""};
    return FileLoad{it->second, "", ""};
  };
}

ParseResult parse(std::string_view text, const Files& files = {}) { return parse_config(text, "t.conf", loader_of(files)); }

std::vector<std::string> messages(const ParseResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) out.push_back(format_diagnostic(d));
  return out;
}

std::string read_example(const std::string& name) {
  std::ifstream in(std::string(LINETIME_CONFIGS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

IpPrefix v4_prefix(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, int len) {
  return IpPrefix{IpAddress{false, wire::Ipv4Address::of(a, b, c, d), {}}, len};
}

// --- the seeds -----------------------------------------------------------------

TEST(ConfigSeeds, Seed000ServerLoadsWithItsMistakesReported) {
  ParseResult r = parse_config(read_example("seed-server.conf"), "seed-server.conf", loader_of({}));
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "seed-server.conf:12: warning: unknown option 'perfer' — did you mean 'prefer'? (the server is used "
                "without it)",
                "seed-server.conf:24: warning: cannot read includefile '/etc/ntp/crypto/pw' (No such file or directory) "
                "— create it or remove the line; its directives are not applied",
                "seed-server.conf:28: warning: cannot read keys file '/etc/ntp/keys' (No such file or directory) — "
                "create it (ntp-keygen -M) or remove the 'keys' line; symmetric-key authentication is unavailable "
                "until then",
            }));
  EXPECT_FALSE(r.has_errors());
  const Config& c = r.config;
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(c.sources[0].host, "210.72.145.44");
  ASSERT_TRUE(c.sources[0].address.has_value());
  EXPECT_EQ(c.sources[0].address->v4, wire::Ipv4Address::of(210, 72, 145, 44));
  EXPECT_FALSE(c.sources[0].prefer);  // 'perfer' is not 'prefer'
  EXPECT_EQ(c.sources[0].where, (Location{"seed-server.conf", 12}));
  EXPECT_EQ(c.sources[1].host, "1.cn.pool.ntp.org");
  EXPECT_FALSE(c.sources[1].address.has_value());
  EXPECT_EQ(c.sources[1].where.line, 13);
  EXPECT_EQ(c.sources[2].host, "0.asia.pool.ntp.org");
  for (const auto& s : c.sources) {
    EXPECT_EQ(s.kind, SourceKind::kServer);
    EXPECT_FALSE(s.iburst);
    EXPECT_EQ(s.minpoll, 6);
    EXPECT_EQ(s.maxpoll, 10);
    EXPECT_EQ(s.version, 4);
  }
  ASSERT_EQ(c.restrict_rules.size(), 3u);
  EXPECT_EQ(c.restrict_rules[0].target, RestrictTarget::kPrefix);
  EXPECT_EQ(c.restrict_rules[0].prefix, v4_prefix(192, 168, 21, 0, 24));
  EXPECT_EQ(c.restrict_rules[0].flags, kRestrictNomodify | kRestrictNotrap);
  EXPECT_EQ(c.restrict_rules[0].where.line, 7);
  EXPECT_EQ(c.restrict_rules[1].target, RestrictTarget::kHostName);
  EXPECT_EQ(c.restrict_rules[1].host_name, "1.cn.pool.ntp.org");
  EXPECT_EQ(c.restrict_rules[1].flags, kRestrictNomodify | kRestrictNotrap | kRestrictNoquery);
  EXPECT_EQ(c.restrict_rules[2].host_name, "0.asia.pool.ntp.org");
  EXPECT_EQ(c.restrict_rules[2].flags, kRestrictNomodify | kRestrictNotrap | kRestrictNoquery);
  ASSERT_TRUE(c.local_clock.has_value());
  EXPECT_EQ(c.local_clock->unit, 0);
  EXPECT_EQ(c.local_clock->stratum, 10);
  EXPECT_EQ(c.local_clock->where.line, 21);
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/drift");
  EXPECT_EQ(c.keys_file, "/etc/ntp/keys");
  EXPECT_TRUE(c.trusted_keys.empty());
}

TEST(ConfigSeeds, Seed000ServerWithItsIncludeAndKeysPresent) {
  Files files{{"/etc/ntp/crypto/pw", "# crypto password file\n"}, {"/etc/ntp/keys", "# keys\n"}};
  ParseResult r = parse_config(read_example("seed-server.conf"), "seed-server.conf", loader_of(files));
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "seed-server.conf:12: warning: unknown option 'perfer' — did you mean 'prefer'? (the "
                             "server is used without it)",
                         }));
}

TEST(ConfigSeeds, Seed001ServerMasksTheGatewayAddress) {
  ParseResult r = parse_config(read_example("seed-ltt1-server.conf"), "seed-ltt1-server.conf", loader_of({}));
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "seed-ltt1-server.conf:4: note: address 192.168.11.2 has host bits set under mask 255.255.255.0; the "
                "rule covers 192.168.11.0/24, as ntpd applies it — write 'restrict 192.168.11.0 mask 255.255.255.0' "
                "(or 'restrict 192.168.11.2' for that one host)",
                "seed-ltt1-server.conf:17: warning: unknown option 'perfer' — did you mean 'prefer'? (the server is "
                "used without it)",
            }));
  const Config& c = r.config;
  std::vector<std::string> hosts;
  for (const auto& s : c.sources) hosts.push_back(s.host);
  EXPECT_EQ(hosts, (std::vector<std::string>{"51.15.41.135", "193.228.143.12", "202.118.1.130", "120.25.115.20"}));
  for (const auto& s : c.sources) EXPECT_FALSE(s.prefer);
  ASSERT_EQ(c.restrict_rules.size(), 5u);
  EXPECT_EQ(c.restrict_rules[0].prefix, v4_prefix(192, 168, 11, 0, 24));
  EXPECT_EQ(c.restrict_rules[0].flags, kRestrictNomodify | kRestrictNotrap);
  EXPECT_EQ(c.restrict_rules[1].prefix, v4_prefix(51, 15, 41, 135, 32));
  EXPECT_EQ(c.restrict_rules[2].prefix, v4_prefix(193, 228, 143, 12, 32));
  EXPECT_EQ(c.restrict_rules[3].prefix, v4_prefix(202, 118, 1, 130, 32));
  EXPECT_EQ(c.restrict_rules[4].prefix, v4_prefix(120, 25, 115, 20, 32));
  for (std::size_t i = 1; i < 5; ++i)
    EXPECT_EQ(c.restrict_rules[i].flags, kRestrictNomodify | kRestrictNotrap | kRestrictNoquery);
  ASSERT_TRUE(c.local_clock.has_value());
  EXPECT_EQ(c.local_clock->stratum, 10);
  EXPECT_EQ(c.local_clock->where.line, 25);
  EXPECT_TRUE(c.driftfile.empty());
}

TEST(ConfigSeeds, Seed001ClientIsClean) {
  ParseResult r = parse_config(read_example("seed-ltt2-client.conf"), "seed-ltt2-client.conf", loader_of({}));
  EXPECT_TRUE(r.diagnostics.empty()) << format_diagnostics(r.diagnostics);
  const Config& c = r.config;
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].host, "192.168.11.11");
  EXPECT_EQ(c.sources[0].where.line, 11);
  ASSERT_EQ(c.restrict_rules.size(), 1u);
  EXPECT_EQ(c.restrict_rules[0].prefix, v4_prefix(192, 168, 11, 11, 32));
  EXPECT_EQ(c.restrict_rules[0].flags, kRestrictNomodify | kRestrictNotrap | kRestrictNoquery);
  ASSERT_TRUE(c.local_clock.has_value());
  EXPECT_EQ(c.local_clock->stratum, 10);
}

TEST(ConfigSeeds, ApplianceExampleIsClean) {
  ParseResult r = parse_config(read_example("appliance.conf"), "appliance.conf", loader_of({}));
  EXPECT_TRUE(r.diagnostics.empty()) << format_diagnostics(r.diagnostics);
  const auto& a = r.config.appliance;
  EXPECT_EQ(a.dataplane_ports, (std::vector<int>{0, 1}));
  EXPECT_EQ(a.dataplane_lcores, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(a.dataplane_addresses.size(), 2u);
  EXPECT_EQ(to_string(a.dataplane_addresses[0]), "192.0.2.10");
  EXPECT_EQ(to_string(a.dataplane_addresses[1]), "2001:db8::10");
  EXPECT_EQ(a.dataplane_tap, "lt0");
  EXPECT_EQ(a.shm_name, "/linetime");
  EXPECT_EQ(a.control_socket, "/run/linetime/control.sock");
  EXPECT_EQ(a.holdover_s, 3600.0);
  EXPECT_EQ(r.config.tos.orphan, 11);
  EXPECT_EQ(r.config.local_clock->stratum, 10);
}

// --- every directive --------------------------------------------------------------

constexpr const char* kEverything =
    "server -4 192.0.2.1 iburst burst prefer minpoll 4 maxpoll 8 key 5 version 3 noselect true xleave preempt\n"
    "pool pool.ntp.org iburst\n"
    "peer 2001:db8::5\n"
    "server 127.127.1.1 prefer minpoll 5 maxpoll 5\n"
    "fudge 127.127.1.1 stratum 8 refid ABC\n"
    "restrict default kod limited nomodify notrap nopeer noquery\n"
    "restrict -6 default ignore\n"
    "restrict source nomodify\n"
    "restrict 2001:db8:: mask ffff:ffff:: noserve\n"
    "restrict 10.1.0.0/16 ignore kod limited lowpriotrap mssntp noepeer nomodify nomrulist nopeer noquery noserve "
    "notrap notrust ntpport serverresponse fuzz version ippeerlimit 2\n"
    "driftfile /var/lib/ntp/drift\n"
    "keys /etc/ntp/keys\n"
    "trustedkey 5 (7 ... 9) 12\n"
    "tos orphan 10 minsane 2 minclock 3 maxclock 10 maxdist 1.5 floor 1 ceiling 15\n"
    "tinker step 0.2 panic 0 stepout 600 stepback 0.5 stepfwd 1\n"
    "leapfile /etc/leap-seconds.list\n"
    "logfile /var/log/ntp.log\n"
    "statsdir /var/log/ntpstats/\n"
    "interface listen eth0\n"
    "interface ignore wildcard\n"
    "interface drop 192.168.1.0/24\n"
    "nic listen ipv6\n"
    "disable monitor kernel\n"
    "enable calibrate auth stats ntp\n"
    "broadcastdelay 0.008\n"
    "authenticate yes\n"
    "dataplane port 2\n"
    "dataplane lcores 2,4-5\n"
    "dataplane address 198.51.100.1\n"
    "dataplane tap lt1\n"
    "shm /lt-test\n"
    "control socket /run/lt.sock\n"
    "holdover 600\n"
    "rtcfile /var/lib/linetime/rtc\n"
    "rtcsync\n"
    "rtcdevice /dev/rtc1 local setdelay 0\n";

TEST(ConfigDirectives, Everything) {
  ParseResult r = parse(kEverything, {{"/etc/ntp/keys", "5 MD5 five\n7 MD5 seven\n8 SHA1 eight # c\n9 MD5 nine\n12 MD5 x\n"}});
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:18: note: 'statsdir' is accepted and ignored — linetime reports statistics "
                             "through its management socket (linetimectl), not ntpd's statistics files",
                         }));
  const Config& c = r.config;
  ASSERT_EQ(c.sources.size(), 3u);
  const Source& s = c.sources[0];
  EXPECT_EQ(s.family, AddressFamily::kIpv4);
  EXPECT_TRUE(s.iburst && s.burst && s.prefer && s.noselect && s.true_chimer && s.xleave && s.preempt);
  EXPECT_EQ(s.minpoll, 4);
  EXPECT_EQ(s.maxpoll, 8);
  EXPECT_EQ(s.key, 5u);
  EXPECT_EQ(s.version, 3);
  EXPECT_EQ(c.sources[1].kind, SourceKind::kPool);
  EXPECT_TRUE(c.sources[1].iburst);
  EXPECT_EQ(c.sources[2].kind, SourceKind::kPeer);
  ASSERT_TRUE(c.sources[2].address.has_value());
  EXPECT_TRUE(c.sources[2].address->is_v6);

  ASSERT_TRUE(c.local_clock.has_value());
  EXPECT_EQ(c.local_clock->unit, 1);
  EXPECT_EQ(c.local_clock->stratum, 8);
  EXPECT_EQ(c.local_clock->refid, "ABC");
  EXPECT_TRUE(c.local_clock->prefer);
  EXPECT_EQ(c.local_clock->minpoll, 5);

  ASSERT_EQ(c.restrict_rules.size(), 5u);
  EXPECT_EQ(restrict_target_to_string(c.restrict_rules[0]), "default");
  EXPECT_EQ(restrict_flags_to_string(c.restrict_rules[0].flags), "kod limited nomodify nopeer noquery notrap");
  EXPECT_EQ(restrict_target_to_string(c.restrict_rules[1]), "-6 default");
  EXPECT_EQ(c.restrict_rules[1].flags, kRestrictIgnore);
  EXPECT_EQ(restrict_target_to_string(c.restrict_rules[2]), "source");
  EXPECT_EQ(restrict_target_to_string(c.restrict_rules[3]), "2001:db8::/32");
  EXPECT_EQ(c.restrict_rules[3].family, AddressFamily::kIpv6);
  EXPECT_EQ(restrict_target_to_string(c.restrict_rules[4]), "10.1.0.0/16");
  EXPECT_EQ(c.restrict_rules[4].flags, 0xffffu);  // every flag
  EXPECT_EQ(c.restrict_rules[4].ippeerlimit, 2);

  EXPECT_EQ(c.driftfile, "/var/lib/ntp/drift");
  EXPECT_EQ(c.keys_file, "/etc/ntp/keys");
  EXPECT_EQ(c.trusted_keys, (std::vector<std::uint32_t>{5, 7, 8, 9, 12}));
  EXPECT_EQ(c.tos.orphan, 10);
  EXPECT_EQ(c.tos.minsane, 2);
  EXPECT_EQ(c.tos.minclock, 3);
  EXPECT_EQ(c.tos.maxclock, 10);
  EXPECT_EQ(c.tos.maxdist, 1.5);
  EXPECT_EQ(c.tos.floor, 1);
  EXPECT_EQ(c.tos.ceiling, 15);
  EXPECT_EQ(c.tinker.step, 0.2);
  EXPECT_EQ(c.tinker.panic, 0.0);
  EXPECT_EQ(c.tinker.stepout, 600.0);
  EXPECT_EQ(c.tinker.stepback, 0.5);
  EXPECT_EQ(c.tinker.stepfwd, 1.0);
  EXPECT_EQ(c.leapfile, "/etc/leap-seconds.list");
  EXPECT_EQ(c.logfile, "/var/log/ntp.log");

  ASSERT_EQ(c.interface_rules.size(), 4u);
  EXPECT_EQ(c.interface_rules[0].target, InterfaceTarget::kName);
  EXPECT_EQ(c.interface_rules[0].name, "eth0");
  EXPECT_EQ(c.interface_rules[1].action, InterfaceAction::kIgnore);
  EXPECT_EQ(c.interface_rules[1].target, InterfaceTarget::kWildcard);
  EXPECT_EQ(c.interface_rules[2].action, InterfaceAction::kDrop);
  EXPECT_EQ(c.interface_rules[2].prefix, v4_prefix(192, 168, 1, 0, 24));
  EXPECT_EQ(c.interface_rules[3].target, InterfaceTarget::kIpv6);

  EXPECT_EQ(c.enabled.monitor, false);
  EXPECT_EQ(c.enabled.kernel, false);
  EXPECT_EQ(c.enabled.calibrate, true);
  EXPECT_EQ(c.enabled.auth, true);
  EXPECT_EQ(c.enabled.stats, true);
  EXPECT_EQ(c.enabled.ntp, true);
  EXPECT_FALSE(c.enabled.mode7.has_value());
  EXPECT_EQ(c.broadcastdelay_s, 0.008);
  EXPECT_EQ(c.authenticate, true);

  const auto& a = c.appliance;
  EXPECT_EQ(a.dataplane_ports, (std::vector<int>{2}));
  EXPECT_EQ(a.dataplane_lcores, (std::vector<int>{2, 4, 5}));
  ASSERT_EQ(a.dataplane_addresses.size(), 1u);
  EXPECT_EQ(to_string(a.dataplane_addresses[0]), "198.51.100.1");
  EXPECT_EQ(a.dataplane_tap, "lt1");
  EXPECT_EQ(a.shm_name, "/lt-test");
  EXPECT_EQ(a.control_socket, "/run/lt.sock");
  EXPECT_EQ(a.holdover_s, 600.0);

  EXPECT_EQ(c.rtc.file, "/var/lib/linetime/rtc");
  EXPECT_TRUE(c.rtc.sync);
  EXPECT_EQ(c.rtc.device, "/dev/rtc1");
  EXPECT_TRUE(c.rtc.local_time);
  EXPECT_EQ(c.rtc.set_delay_ms, 0);
}

TEST(ConfigRtc, DefaultsAndTheSeedsSyncHwclock) {
  const Config none = parse("server 192.0.2.1\n").config;
  EXPECT_FALSE(none.rtc.enabled());
  EXPECT_EQ(none.rtc, RtcSettings{});
  EXPECT_EQ(none.rtc.device, "/dev/rtc0");
  EXPECT_FALSE(none.rtc.local_time);
  EXPECT_EQ(none.rtc.set_delay_ms, 500);
  // SYNC_HWCLOCK=yes in /etc/sysconfig/ntpd, written as linetime reads it.
  ParseResult r = parse("rtcsync\nrtcfile /var/lib/linetime/rtc\n");
  EXPECT_TRUE(r.diagnostics.empty()) << format_diagnostics(r.diagnostics);
  EXPECT_TRUE(r.config.rtc.enabled());
  EXPECT_TRUE(r.config.rtc.sync);
  EXPECT_EQ(r.config.rtc.file, "/var/lib/linetime/rtc");
  EXPECT_EQ(r.config.rtc.device, "/dev/rtc0");
  // Each alone enables the RTC; rtcdevice keeps what rtcsync set before it.
  r = parse("rtcsync\nrtcdevice /dev/rtc2 utc\n");
  EXPECT_TRUE(r.diagnostics.empty()) << format_diagnostics(r.diagnostics);
  EXPECT_TRUE(r.config.rtc.sync);
  EXPECT_TRUE(r.config.rtc.file.empty());
  EXPECT_EQ(r.config.rtc.device, "/dev/rtc2");
  EXPECT_FALSE(r.config.rtc.local_time);
}

TEST(ConfigHwtimestamp, InterfacesInOrderOnceEach) {
  ParseResult r = parse("hwtimestamp eth0\nhwtimestamp enp3s0f1 rxfilter all\nhwtimestamp eth0\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:2: warning: unexpected 'rxfilter all' after 'hwtimestamp' — remove it (it is "
                             "ignored)",
                         }));
  EXPECT_EQ(r.config.hwtimestamp, (std::vector<std::string>{"eth0", "enp3s0f1"}));
  EXPECT_TRUE(parse("server 192.0.2.1\n").config.hwtimestamp.empty());
  r = parse("hwtimestamp eth0/1\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: error: bad interface name 'eth0/1' — write the name of a network interface (1 "
                             "to 15 characters, as `ip link` lists them), e.g. 'hwtimestamp eth0'",
                         }));
  r = parse("hwtimestmp eth0\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: error: unknown keyword 'hwtimestmp' — did you mean 'hwtimestamp'?",
                         }));
}

TEST(ConfigRtc, RecoverableProblems) {
  ParseResult r = parse("rtcdevice /dev/rtc1 local\nrtcdevice /dev/rtc0 setdelay 20\nrtcsync now\n"
                        "rtcfile /a\nrtcfile /b\n");
  EXPECT_FALSE(r.has_errors());
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.conf:2: warning: 'rtcdevice' given again (first on line 1) — the last one is used; remove the other",
                "t.conf:3: warning: unexpected 'now' after 'rtcsync' — remove it (it is ignored)",
                "t.conf:5: warning: 'rtcfile' given again (first on line 4) — the last one is used; remove the other",
            }));
  EXPECT_EQ(r.config.rtc.device, "/dev/rtc0");
  EXPECT_FALSE(r.config.rtc.local_time);  // the last line, whole
  EXPECT_EQ(r.config.rtc.set_delay_ms, 20);
  EXPECT_EQ(r.config.rtc.file, "/b");
  // An RTC named but neither written nor tracked.
  r = parse("rtcdevice /dev/rtc0 local\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: note: 'rtcdevice' has no effect without 'rtcsync' (write the RTC while "
                             "synchronized) or 'rtcfile PATH' (track its drift) — add one of them, or remove the line",
                         }));
}

TEST(ConfigDirectives, AcceptedAndIgnoredGetANote) {
  ParseResult r = parse("statistics loopstats peerstats\nfilegen loopstats file loopstats type day enable\n"
                        "tinker allan 1500\nserver ntp.example.org ttl 5\n");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.conf:1: note: 'statistics' is accepted and ignored — linetime reports statistics through its "
                "management socket (linetimectl), not ntpd's statistics files",
                "t.conf:2: note: 'filegen' is accepted and ignored — linetime reports statistics through its management "
                "socket (linetimectl), not ntpd's statistics files",
                "t.conf:3: note: 'tinker allan' is accepted and ignored — linetime's discipline sets it itself",
                "t.conf:4: note: 'ttl 5' is accepted and ignored (it applies to broadcast and manycast modes)",
            }));
  EXPECT_FALSE(r.has_errors());
}

TEST(ConfigDirectives, UnsupportedNtpdDirectiveIsAWarning) {
  ParseResult r = parse("broadcastclient\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: warning: 'broadcastclient' is an ntpd directive linetime does not support "
                             "(linetime does not take time from broadcast NTP) — the line is ignored; remove it",
                         }));
}

TEST(ConfigDirectives, RecoverableProblemsAreWarnings) {
  ParseResult r = parse(
      "server 192.0.2.1 ibrust\n"
      "server 192.0.2.1\n"
      "server 192.0.2.2 maxpoll 20\n"
      "driftfile /a\n"
      "driftfile /b\n"
      "fudge 127.127.1.0 stratum 3\n"
      "tos minsan 2\n");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.conf:1: warning: unknown option 'ibrust' — did you mean 'iburst'? (the server is used without it)",
                "t.conf:2: warning: server 192.0.2.1 is already configured on line 1 — this line is ignored; remove it",
                "t.conf:3: warning: maxpoll 20 is outside 0..17 — using 17 as ntpd does; write maxpoll 17",
                "t.conf:5: warning: 'driftfile' given again (first on line 4) — the last one is used; remove the other",
                "t.conf:7: warning: unknown tos option 'minsan' — did you mean 'minsane'? (ignored)",
                "t.conf:6: warning: fudge for 127.127.1.0 but no 'server 127.127.1.0' line — add the server line, or "
                "remove the fudge (it has no effect)",
            }));
  EXPECT_FALSE(r.has_errors());
  EXPECT_EQ(r.config.sources.size(), 2u);
  EXPECT_EQ(r.config.sources[1].maxpoll, 17);
  EXPECT_EQ(r.config.driftfile, "/b");
}

TEST(ConfigDirectives, UnknownOptionTakesItsNumberWithIt) {
  ParseResult r = parse("server 192.0.2.1 minpol 4 iburst\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: warning: unknown option 'minpol' — did you mean 'minpoll'? (the server is used "
                             "without it)",
                         }));
  EXPECT_TRUE(r.config.sources[0].iburst);
  EXPECT_EQ(r.config.sources[0].minpoll, 6);
}

TEST(ConfigDirectives, LocalClockOptions) {
  ParseResult r = parse("server 127.127.1.0 iburst perfer\nfudge 127.127.1.0 stratum 12 time1 0.5\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: note: 'iburst' has no effect on the local clock — remove it",
                             "t.conf:1: warning: unknown option 'perfer' — did you mean 'prefer'? (the local clock "
                             "is used without it)",
                             "t.conf:2: note: fudge 'time1' has no effect on the local clock — remove it",
                         }));
  ASSERT_TRUE(r.config.local_clock.has_value());
  EXPECT_EQ(r.config.local_clock->stratum, 12);
  EXPECT_TRUE(r.config.sources.empty());
}

TEST(ConfigDirectives, RestrictHostBitsWithPrefixLength) {
  ParseResult r = parse("restrict 10.1.2.3/8 nomodify\n");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: note: address 10.1.2.3 has host bits set under /8; the rule covers 10.0.0.0/8, "
                             "as ntpd applies it — write 'restrict 10.0.0.0/8' (or 'restrict 10.1.2.3' for that one "
                             "host)",
                         }));
  EXPECT_EQ(r.config.restrict_rules[0].prefix, v4_prefix(10, 0, 0, 0, 8));
}

TEST(ConfigDirectives, RestrictIpv6Mask) {
  ParseResult r = parse("restrict 2001:db8::1 mask ffff:ffff:ffff:ffff:: nomodify\n");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::kNote);
  EXPECT_EQ(restrict_target_to_string(r.config.restrict_rules[0]), "2001:db8::/64");
}

// --- errors ---------------------------------------------------------------------

struct ErrorCase {
  const char* text;
  const char* diagnostic;
};

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, ExactMessage) {
  ParseResult r = parse(GetParam().text);
  EXPECT_TRUE(r.has_errors());
  EXPECT_EQ(messages(r), (std::vector<std::string>{GetParam().diagnostic}));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrors,
    ::testing::Values(
        ErrorCase{"sever 192.0.2.1\n", "t.conf:1: error: unknown keyword 'sever' — did you mean 'server'?"},
        ErrorCase{"restirct default\n", "t.conf:1: error: unknown keyword 'restirct' — did you mean 'restrict'?"},
        ErrorCase{"frobnicate 1\n",
                  "t.conf:1: error: unknown keyword 'frobnicate' — see ntp.conf(5) and configs/appliance.conf for the "
                  "directives linetime reads"},
        ErrorCase{"server 192.0.2.300\n",
                  "t.conf:1: error: bad address '192.0.2.300' — write an IPv4 address (192.0.2.1), an IPv6 address "
                  "(2001:db8::1) or a host name (ntp.example.org)"},
        ErrorCase{"server bad_name.example\n",
                  "t.conf:1: error: bad address 'bad_name.example' — write an IPv4 address (192.0.2.1), an IPv6 "
                  "address (2001:db8::1) or a host name (ntp.example.org)"},
        ErrorCase{"server 224.0.1.1\n",
                  "t.conf:1: error: address 224.0.1.1 cannot be an upstream server (unspecified, broadcast or "
                  "multicast; broadcast and manycast modes are not supported) — give the unicast address of an NTP "
                  "server"},
        ErrorCase{"server -6 192.0.2.1\n",
                  "t.conf:1: error: address 192.0.2.1 does not match '-6' — remove the -4/-6 or fix the address"},
        ErrorCase{"server 192.0.2.1 minpoll 10 maxpoll 6\n",
                  "t.conf:1: error: minpoll 10 is greater than maxpoll 6 — swap them"},
        ErrorCase{"server 192.0.2.1 minpoll 12\n",
                  "t.conf:1: error: minpoll 12 conflicts with the default maxpoll 10 — give both minpoll and maxpoll, "
                  "minpoll <= maxpoll"},
        ErrorCase{"server\n", "t.conf:1: error: missing address for 'server' — write e.g. 'server ntp.example.org iburst'"},
        ErrorCase{"server 192.0.2.1 minpoll\n", "t.conf:1: error: missing argument for 'minpoll' — write e.g. 'minpoll 6'"},
        ErrorCase{"driftfile\n",
                  "t.conf:1: error: missing argument for 'driftfile' — write e.g. 'driftfile /var/lib/linetime/drift'"},
        ErrorCase{"server 192.0.2.1 key abc\n",
                  "t.conf:1: error: bad number 'abc' for key — expected an integer from 1 to 65535"},
        ErrorCase{"server 192.0.2.1 version 5\n",
                  "t.conf:1: error: bad number '5' for version — expected an integer from 1 to 4"},
        ErrorCase{"server 127.127.1.0\nfudge 127.127.1.0 stratum 16\n",
                  "t.conf:2: error: bad number '16' for stratum — expected an integer from 0 to 15"},
        ErrorCase{"server 127.127.20.0\n",
                  "t.conf:1: error: reference clock type 20 (127.127.20.0) is not supported — linetime has only the "
                  "local clock, 127.127.1.0; remove the line or use it"},
        ErrorCase{"fudge 192.0.2.1 stratum 3\n",
                  "t.conf:1: error: fudge applies to reference clock addresses 127.127.t.u, not '192.0.2.1' — write "
                  "e.g. 'fudge 127.127.1.0 stratum 10'"},
        ErrorCase{"restrict 192.168.1.0 mask 255.255.255.0 nomodfy\n",
                  "t.conf:1: error: unknown restrict flag 'nomodfy' — did you mean 'nomodify'?"},
        ErrorCase{"restrict default banana\n",
                  "t.conf:1: error: unknown restrict flag 'banana' — see ntp_acc(5): ignore, kod, limited, "
                  "lowpriotrap, mssntp, noepeer, nomodify, nomrulist, nopeer, noquery, noserve, notrap, notrust, "
                  "ntpport, serverresponse fuzz, version"},
        ErrorCase{"restrict 192.168.1.0 serverresponse\n",
                  "t.conf:1: error: 'serverresponse' must be followed by 'fuzz' — write 'serverresponse fuzz'"},
        ErrorCase{"restrict 10.0.0.0 mask 255.0.255.0\n",
                  "t.conf:1: error: mask 255.0.255.0 is not contiguous — linetime matches address prefixes; write a "
                  "mask of leading ones, e.g. 255.255.255.0"},
        ErrorCase{"restrict 10.0.0.0 mask ffff::\n",
                  "t.conf:1: error: bad mask 'ffff::' — write a mask of the address's family, e.g. 'mask "
                  "255.255.255.0'"},
        ErrorCase{"restrict 10.0.0.0/8 mask 255.0.0.0\n",
                  "t.conf:1: error: both a prefix length and 'mask' given for 10.0.0.0/8 — use one of them"},
        ErrorCase{"restrict 10.0.0.0/33\n",
                  "t.conf:1: error: bad address '10.0.0.0/33' — write an address with a prefix length, e.g. "
                  "192.168.1.0/24, or an address and 'mask 255.255.255.0'"},
        ErrorCase{"restrict default mask 255.0.0.0\n",
                  "t.conf:1: error: 'mask' applies to an address, not to 'default' — remove it"},
        ErrorCase{"restrict\n",
                  "t.conf:1: error: missing address for 'restrict' — write e.g. 'restrict default nomodify notrap "
                  "nopeer noquery'"},
        ErrorCase{"tinker step abc\n",
                  "t.conf:1: error: bad number 'abc' for tinker step — expected a number of seconds >= 0"},
        ErrorCase{"tos orphan 16\n", "t.conf:1: error: bad number '16' for tos orphan — expected an integer from 1 to 15"},
        ErrorCase{"tos orphan\n", "t.conf:1: error: missing argument for 'tos orphan' — write e.g. 'tos orphan 10'"},
        ErrorCase{"tos floor 5 ceiling 5\n",
                  "t.conf:1: error: tos floor 5 is not below ceiling 5 — lower floor or raise ceiling"},
        ErrorCase{"trustedkey (1 .. 5)\n",
                  "t.conf:1: error: bad trustedkey range — write key ids from 1 to 65535, ranges as '(1 ... 5)'"},
        ErrorCase{"trustedkey 0\n",
                  "t.conf:1: error: bad trusted key '0' — write key ids from 1 to 65535, ranges as '(1 ... 5)'"},
        ErrorCase{"interface listen eth0/24\n",
                  "t.conf:1: error: bad interface 'eth0/24' — write all, wildcard, ipv4, ipv6, an address (prefix) or "
                  "an interface name"},
        ErrorCase{"interface lisen eth0\n", "t.conf:1: error: unknown interface action 'lisen' — did you mean 'listen'?"},
        ErrorCase{"authenticate maybe\n",
                  "t.conf:1: error: bad value 'maybe' for authenticate — write 'authenticate yes' or 'authenticate no'"},
        ErrorCase{"logfile \"/var/log/x\n",
                  "t.conf:1: error: unterminated quote — close the \" before the end of the line"},
        ErrorCase{"dataplane prot 0\n", "t.conf:1: error: unknown dataplane setting 'prot' — did you mean 'port'?"},
        ErrorCase{"dataplane lcores 3-1\n",
                  "t.conf:1: error: bad lcore list '3-1' — write core numbers and ranges, e.g. 'dataplane lcores "
                  "1-3,5'"},
        ErrorCase{"dataplane address ntp.example.org\n",
                  "t.conf:1: error: bad address 'ntp.example.org' for dataplane address — write the IPv4 or IPv6 "
                  "address the appliance answers on, e.g. 192.0.2.10"},
        ErrorCase{"shm linetime\n",
                  "t.conf:1: error: bad shared memory name 'linetime' — write one '/' followed by a name, e.g. 'shm "
                  "/linetime'"},
        ErrorCase{"control socket run/x.sock\n",
                  "t.conf:1: error: bad control socket path 'run/x.sock' — write an absolute path of at most 107 "
                  "characters, e.g. /run/linetime/control.sock"},
        ErrorCase{"holdover -1\n",
                  "t.conf:1: error: bad number '-1' for holdover — expected a number of seconds >= 0"},
        ErrorCase{"rtcsnyc\n", "t.conf:1: error: unknown keyword 'rtcsnyc' — did you mean 'rtcsync'?"},
        ErrorCase{"rtcfile\n",
                  "t.conf:1: error: missing argument for 'rtcfile' — write e.g. 'rtcfile /var/lib/linetime/rtc'"},
        ErrorCase{"rtcdevice\n", "t.conf:1: error: missing argument for 'rtcdevice' — write e.g. 'rtcdevice /dev/rtc0 utc'"},
        ErrorCase{"rtcdevice rtc0\n",
                  "t.conf:1: error: bad RTC device 'rtc0' — write its path, e.g. 'rtcdevice /dev/rtc0' (`ls /dev/rtc*` "
                  "lists them)"},
        ErrorCase{"rtcdevice /dev/rtc0 lcoal\n",
                  "t.conf:1: error: unknown rtcdevice option 'lcoal' — did you mean 'local'?"},
        ErrorCase{"rtcdevice /dev/rtc0 fast\n",
                  "t.conf:1: error: unknown rtcdevice option 'fast' — write 'rtcdevice DEV [utc|local] [setdelay MS]'"},
        ErrorCase{"rtcdevice /dev/rtc0 utc local\n",
                  "t.conf:1: error: 'rtcdevice' says both utc and local — the RTC keeps one of them: write 'utc' (the "
                  "default) or 'local' (machines that also boot Windows)"},
        ErrorCase{"rtcdevice /dev/rtc0 setdelay 1500\n",
                  "t.conf:1: error: bad number '1500' for rtcdevice setdelay (milliseconds) — expected an integer from 0 "
                  "to 1000"},
        ErrorCase{"rtcdevice /dev/rtc0 setdelay\n",
                  "t.conf:1: error: missing argument for 'rtcdevice setdelay' — write e.g. 'rtcdevice /dev/rtc0 "
                  "setdelay 500' (milliseconds from a write to the RTC's first rollover)"}));

// --- includefile and keys ---------------------------------------------------------

TEST(ConfigInclude, IncludedDirectivesApplyWithTheirOwnFileAndLine) {
  Files files{{"/etc/linetime/servers.conf", "# upstream\nserver 192.0.2.7 iburst perfer\n"}};
  ParseResult r = parse("driftfile /d\nincludefile /etc/linetime/servers.conf\nserver 192.0.2.8\n", files);
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "/etc/linetime/servers.conf:2: warning: unknown option 'perfer' — did you mean "
                             "'prefer'? (the server is used without it)",
                         }));
  ASSERT_EQ(r.config.sources.size(), 2u);
  EXPECT_EQ(r.config.sources[0].where, (Location{"/etc/linetime/servers.conf", 2}));
  EXPECT_EQ(r.config.sources[1].where, (Location{"t.conf", 3}));
}

TEST(ConfigInclude, CycleIsAnError) {
  Files files{{"a.conf", "includefile b.conf\n"}, {"b.conf", "\nincludefile ./a.conf\n"}};
  ParseResult r = parse_config("includefile a.conf\n", "main.conf", loader_of(files));
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "b.conf:2: error: includefile cycle: a.conf -> b.conf -> a.conf — remove the includefile "
                             "line that closes the loop",
                         }));
}

TEST(ConfigInclude, SelfIncludeIsAnError) {
  ParseResult r = parse_config("includefile main.conf\n", "main.conf", loader_of({{"main.conf", ""}}));
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "main.conf:1: error: includefile cycle: main.conf -> main.conf — remove the includefile "
                             "line that closes the loop",
                         }));
}

TEST(ConfigInclude, DepthLimit) {
  Files files;
  for (int i = 1; i <= 6; ++i) files["f" + std::to_string(i)] = "includefile f" + std::to_string(i + 1) + "\n";
  ParseResult r = parse_config("includefile f1\n", "main.conf", loader_of(files));
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "f4:1: error: includefile 'f5' is nested deeper than 5 files (ntpd's limit) — include it "
                             "from a higher level",
                         }));
}

TEST(ConfigInclude, MissingIncludeWithoutLoaderIsReported) {
  ParseResult r = parse_config("includefile /x.conf\n", "t.conf", FileLoader{});
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.conf:1: warning: cannot read includefile '/x.conf' (no file loader) — create it or "
                             "remove the line; its directives are not applied",
                         }));
}

TEST(ConfigKeys, KeyIdsAreCheckedAgainstTheKeysFileAndTrustedkey) {
  Files files{{"/k", "# ntp.keys\n1 MD5 one\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n"}};
  ParseResult r = parse("keys /k\ntrustedkey 1 (3 ... 4)\nserver 192.0.2.1 key 2\n", files);
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.conf:3: error: '192.0.2.1 key 2': requests would go unauthenticated — key 2 is not trusted; add "
                "'trustedkey 2'",
                "t.conf:2: warning: trusted key 3 is not in the keys file '/k' — add it there or remove it from "
                "trustedkey",
                "t.conf:2: warning: trusted key 4 is not in the keys file '/k' — add it there or remove it from "
                "trustedkey",
            }));
  EXPECT_EQ(r.config.trusted_keys, (std::vector<std::uint32_t>{1, 3, 4}));
}

// A server line whose key cannot sign is an error (the daemon does not start
// with it, --check-config fails), naming the line and the fix.
TEST(ConfigKeys, ServerKeysMustBeInTheFileAndTrusted) {
  Files files{{"/etc/ntp/keys", "1 MD5 one\n2 MD5 two\n"}};
  ParseResult r = parse("keys /etc/ntp/keys\ntrustedkey 1\nserver 198.18.0.1 key 1\nserver 198.18.0.2 key 2\n"
                        "server 198.18.0.3 key 9\nserver 198.18.0.4\n",
                        files);
  EXPECT_EQ(r.count(Severity::kError), 2u) << format_diagnostics(r.diagnostics);
  const std::vector<std::string> m = messages(r);
  auto has = [&](const std::string& part) {
    return std::any_of(m.begin(), m.end(), [&](const std::string& x) { return x.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("t.conf:4: error: '198.18.0.2 key 2'")) << format_diagnostics(r.diagnostics);
  EXPECT_TRUE(has("add 'trustedkey 2'"));
  EXPECT_TRUE(has("t.conf:5: error: '198.18.0.3 key 9'"));
  EXPECT_TRUE(has("key 9 is not in the keys file '/etc/ntp/keys'"));
  EXPECT_FALSE(has("198.18.0.1 key 1"));

  const ParseResult none = parse("server 198.18.0.1 key 1\n", {});
  EXPECT_TRUE(none.has_errors());
  EXPECT_NE(format_diagnostics(none.diagnostics).find("no 'keys FILE' line"), std::string::npos);
}

// --- lexical ----------------------------------------------------------------------

TEST(ConfigLexical, CrlfTabsCommentsAndBlankLines) {
  ParseResult r = parse(
      "# whole-line comment\r\n"
      "\r\n"
      "server 192.0.2.1 iburst # trailing comment\r\n"
      "\t restrict\tdefault   noquery\t \r\n"
      "   # indented comment\r\n"
      "driftfile \"/var/lib/with space/drift\"   \r\n"
      "fudge 127.127.1.0 stratum 10#no space before the comment\r\n"
      "server 127.127.1.0");  // no final newline
  EXPECT_TRUE(r.diagnostics.empty()) << format_diagnostics(r.diagnostics);
  ASSERT_EQ(r.config.sources.size(), 1u);
  EXPECT_TRUE(r.config.sources[0].iburst);
  EXPECT_EQ(r.config.sources[0].where.line, 3);
  ASSERT_EQ(r.config.restrict_rules.size(), 1u);
  EXPECT_EQ(r.config.restrict_rules[0].flags, kRestrictNoquery);
  EXPECT_EQ(r.config.restrict_rules[0].where.line, 4);
  EXPECT_EQ(r.config.driftfile, "/var/lib/with space/drift");
  ASSERT_TRUE(r.config.local_clock.has_value());
  EXPECT_EQ(r.config.local_clock->stratum, 10);
  EXPECT_EQ(r.config.local_clock->where.line, 8);
}

TEST(ConfigLexical, EmptyFile) {
  ParseResult r = parse("");
  EXPECT_TRUE(r.diagnostics.empty());
  EXPECT_TRUE(r.config.sources.empty());
}

// --- helpers ------------------------------------------------------------------------

TEST(ConfigSuggest, EditDistanceCountsTranspositionsOnce) {
  EXPECT_EQ(edit_distance("perfer", "prefer"), 1);
  EXPECT_EQ(edit_distance("", "abc"), 3);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(suggest("perfer", {"iburst", "prefer", "preempt"}), "prefer");
  EXPECT_EQ(suggest("zzz", {"iburst", "prefer"}), "");
}

TEST(ConfigFormat, DiagnosticWithoutLine) {
  EXPECT_EQ(format_diagnostic(Diagnostic{Severity::kWarning, "f.conf", 0, "m"}), "f.conf: warning: m");
  EXPECT_EQ(format_diagnostics({Diagnostic{Severity::kNote, "f", 3, "a"}, Diagnostic{Severity::kError, "f", 4, "b"}}),
            "f:3: note: a\nf:4: error: b\n");
}

}  // namespace
}  // namespace linetime::control
