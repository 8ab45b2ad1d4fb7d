// Mode 6 (RFC 9327) against hand-built packets: the request parser, the
// association list and variable lists byte for byte, fragmentation, error
// answers, the noquery check with ntpd's longest-prefix semantics and the
// reply rate limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "control/config.h"
#include "control/mode6.h"

using namespace linetime;
using namespace linetime::control;
using namespace linetime::control::mode6;

namespace {

// A request as ntpq builds it: version 2 (ntpq's default), data padded to 4.
std::vector<std::uint8_t> request(std::uint8_t opcode, std::uint16_t seq, std::uint16_t assoc, std::string data = {},
                                  std::uint8_t version = 2) {
  std::vector<std::uint8_t> p = {static_cast<std::uint8_t>(version << 3 | 6), opcode,
                                 static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq),
                                 0, 0,
                                 static_cast<std::uint8_t>(assoc >> 8), static_cast<std::uint8_t>(assoc),
                                 0, 0,
                                 static_cast<std::uint8_t>(data.size() >> 8), static_cast<std::uint8_t>(data.size())};
  for (const char c : data) p.push_back(static_cast<std::uint8_t>(c));
  while (p.size() % 4 != 0) p.push_back(0);
  return p;
}

Request parsed(const std::vector<std::uint8_t>& p) {
  auto r = parse_request(wire::Bytes(p.data(), p.size()));
  EXPECT_TRUE(r.has_value());
  return r ? *r : Request{};
}

std::uint16_t be16(const Fragment& f, std::size_t at) { return static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]); }
std::string data_of(const Fragment& f) {
  return std::string(reinterpret_cast<const char*>(f.data()) + kHeaderLength, be16(f, 10));
}

IpAddress v4(const char* text) {
  IpAddress a;
  a.v4 = *wire::parse_ipv4_address(text);
  return a;
}
IpAddress v6(const char* text) {
  IpAddress a;
  a.is_v6 = true;
  a.v6 = *wire::parse_ipv6_address(text);
  return a;
}

std::vector<RestrictRule> rules(const std::string& text) {
  ParseResult r = parse_config(text, "test.conf", {});
  EXPECT_FALSE(r.has_errors()) << format_diagnostics(r.diagnostics);
  return r.config.restrict_rules;
}

Snapshot cluster() {
  Snapshot s;
  SystemInfo& y = s.system;
  y.version = "linetime 0.1.0";
  y.processor = "x86_64";
  y.system = "Linux/6.1.0";
  y.leap = 0;
  y.clock_source = kSourceNtp;
  y.stratum = 2;
  y.precision_log2 = -20;
  y.root_delay_ms = 0.25;
  y.root_dispersion_ms = 1.5;
  y.refid = "198.18.1.1";
  y.reftime = 0xe8a6b1c25b3e1234ull;
  y.clock = 0xe8a6b1c3000000ffull;
  y.peer = 1;
  y.tc = 1;
  y.mintc = 1;
  y.offset_ms = 0.012;
  y.frequency_ppm = -3.25;
  y.sys_jitter_ms = 0.02;
  y.clk_jitter_ms = 0.005;
  y.clk_wander_ppm = 0.001;

  PeerInfo good;
  good.assoc_id = 1;
  good.srcadr = "198.18.1.1";
  good.dstadr = "198.18.1.2";
  good.select = Select::kSysPeer;
  good.leap = 0;
  good.stratum = 1;
  good.refid = "LOCL";
  good.rec = 0xe8a6b1c200000000ull;
  good.reach = 0xff;
  good.hpoll = 1;
  good.ppoll = 1;
  good.offset_ms = 0.0125;
  good.delay_ms = 0.08;
  good.dispersion_ms = 0.9;
  good.jitter_ms = 0.004;
  good.filter = {{0.08, 0.0125, 0.9}, {0.09, 0.013, 1.0}};
  PeerInfo bad = good;
  bad.assoc_id = 2;
  bad.srcadr = "198.18.3.1";
  bad.select = Select::kFalsetick;
  bad.offset_ms = 500.1;
  PeerInfo local;
  local.assoc_id = 3;
  local.srcadr = "127.127.1.0";
  local.srchost = "LOCAL(0)";
  local.stratum = 10;
  local.refid = "LOCL";
  s.peers = {good, bad, local};
  return s;
}

TEST(Mode6, ParsesNtpqRequests) {
  const auto p = request(2, 0x1234, 7, "stratum,offset");
  ASSERT_EQ(p.size(), 28u);  // 12 + 14, padded to 28
  const Request r = parsed(p);
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(r.opcode, 2);
  EXPECT_EQ(r.sequence, 0x1234);
  EXPECT_EQ(r.assoc_id, 7);
  EXPECT_EQ(r.data, "stratum,offset");  // the padding is not data
  EXPECT_TRUE(is_control(wire::Bytes(p.data(), p.size())));
}

TEST(Mode6, RefusesWhatIsNotARequest) {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> packet;
    ParseFailure why;
  };
  auto response = request(1, 1, 0);
  response[1] |= kResponseBit;
  auto more = request(2, 1, 0);
  more[1] |= kMoreBit;
  auto offset = request(2, 1, 0);
  offset[9] = 4;
  auto long_count = request(2, 1, 0);
  long_count[10] = 0x01;
  long_count[11] = 0xd5;  // 469
  auto short_data = request(2, 1, 0, "abcd");
  short_data[11] = 9;
  auto mode3 = request(2, 1, 0);
  mode3[0] = 0x23;
  Case cases[] = {
      {"11 octets", std::vector<std::uint8_t>(11, 0x16), ParseFailure::kTruncated},
      {"mode 3", mode3, ParseFailure::kNotControl},
      {"version 0", request(2, 1, 0, {}, 0), ParseFailure::kBadVersion},
      {"version 5", request(2, 1, 0, {}, 5), ParseFailure::kBadVersion},
      {"response bit", response, ParseFailure::kResponse},
      {"more bit", more, ParseFailure::kFragmented},
      {"offset", offset, ParseFailure::kFragmented},
      {"count 469", long_count, ParseFailure::kTooLong},
      {"count beyond the datagram", short_data, ParseFailure::kTruncated},
  };
  for (const Case& c : cases) {
    const auto r = parse_request(wire::Bytes(c.packet.data(), c.packet.size()));
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error(), c.why) << c.name << ": " << to_string(r.error());
  }
}

TEST(Mode6, StatusWords) {
  SystemInfo unsync;
  EXPECT_EQ(system_status(unsync), 0xc000);  // LI 3, no source
  EXPECT_EQ(system_status(cluster().system), 0x0600);  // LI 0, NTP
  const Snapshot s = cluster();
  EXPECT_EQ(peer_status(s.peers[0]), 0x9600);  // configured, reachable, sys.peer
  EXPECT_EQ(peer_status(s.peers[1]), 0x9100);  // configured, reachable, falsetick
  EXPECT_EQ(peer_status(s.peers[2]), 0x8000);  // configured, unreachable, reject
  EXPECT_EQ(select_of(discipline::SourceStatus::kSystemPeer), Select::kSysPeer);
  EXPECT_EQ(select_of(discipline::SourceStatus::kSurvivor), Select::kCandidate);
  EXPECT_EQ(select_of(discipline::SourceStatus::kExcess), Select::kOutlier);
  EXPECT_EQ(select_of(discipline::SourceStatus::kFalseticker), Select::kFalsetick);
  EXPECT_EQ(select_of(discipline::SourceStatus::kNoSample), Select::kReject);
  EXPECT_EQ(flash_of(discipline::SourceStatus::kSystemPeer, 0xff), 0);
  EXPECT_EQ(flash_of(discipline::SourceStatus::kUnreachable, 0), kFlashUnreach);
  EXPECT_EQ(flash_of(discipline::SourceStatus::kDistance, 1), kFlashDistance);
  EXPECT_EQ(flash_of(discipline::SourceStatus::kUnsync, 1), kFlashUnsync);
  EXPECT_EQ(flash_of(discipline::SourceStatus::kStratum, 1), kFlashStratum);
}

TEST(Mode6, ReadStatListsAssociationsWithStatusWords) {
  const auto req = parsed(request(1, 9, 0));
  const auto out = answer(req, cluster());
  ASSERT_EQ(out.size(), 1u);
  const std::vector<std::uint8_t> want = {0x16, 0x81, 0x00, 0x09, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 12,
                                          0x00, 0x01, 0x96, 0x00, 0x00, 0x02, 0x91, 0x00, 0x00, 0x03, 0x80, 0x00};
  EXPECT_EQ(out[0], want);
}

TEST(Mode6, ReadVarSystemVariablesInNtpdsFormat) {
  const auto req = parsed(request(2, 3, 0));
  const auto out = answer(req, cluster());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][1], 0x82);
  EXPECT_EQ(be16(out[0], 4), 0x0600);
  EXPECT_EQ(out[0].size() % 4, 0u);
  EXPECT_EQ(data_of(out[0]),
            "version=\"linetime 0.1.0\", processor=\"x86_64\", system=\"Linux/6.1.0\",\r\n"
            "leap=0, stratum=2, precision=-20, rootdelay=0.250000, rootdisp=1.500000,\r\n"
            "refid=198.18.1.1, reftime=0xe8a6b1c2.5b3e1234, clock=0xe8a6b1c3.000000ff,\r\n"
            "peer=1, tc=1, mintc=1, offset=0.012000, frequency=-3.250000,\r\n"
            "sys_jitter=0.020000, clk_jitter=0.005000, clk_wander=0.001000");
  // ntpd's lines: at most 72 characters before the ",\r\n".
  const std::string text = data_of(out[0]);
  for (std::size_t at = 0, end; at < text.size(); at = end + 3) {
    end = std::min(text.find(",\r\n", at), text.size());
    EXPECT_LE(end - at, 72u) << text.substr(at, end - at);
  }
}

TEST(Mode6, ReadVarPeerVariables) {
  const auto req = parsed(request(2, 4, 1));
  const auto out = answer(req, cluster());
  ASSERT_EQ(out.size(), 2u);  // the filter registers take it past 468 octets
  std::string text;
  for (const Fragment& f : out) {
    EXPECT_EQ(be16(f, 4), 0x9600);  // the tally ntpq -p prints comes from here
    EXPECT_EQ(be16(f, 6), 1);
    text += data_of(f);
  }
  EXPECT_EQ(out[0][1], 0xa2);
  EXPECT_EQ(out[1][1], 0x82);
  EXPECT_EQ(text.substr(0, 69), "srcadr=198.18.1.1, srcport=123, dstadr=198.18.1.2, leap=0, stratum=1,");
  for (const char* want : {"refid=LOCL", "rec=0xe8a6b1c2.00000000", "reach=0xff", "unreach=0", "hmode=3",
                           "pmode=4", "hpoll=1", "ppoll=1", "flash=0x0", "offset=0.012500", "delay=0.080000",
                           "dispersion=0.900000", "jitter=0.004000", "xleave=0",
                           "filtdelay= 0.080 0.090 0.000 0.000 0.000 0.000 0.000 0.000",
                           "filtoffset= 0.013 0.013 0.000 0.000 0.000 0.000 0.000 0.000",
                           "filtdisp= 0.900 1.000 16000.000 16000.000 16000.000 16000.000 16000.000 16000.000"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " in " << text;
  }
  // A reference clock carries its name; a source never heard has no `rec`.
  const auto local = answer(parsed(request(2, 5, 3)), cluster());
  const std::string ltext = data_of(local[0]);
  EXPECT_NE(ltext.find("srcadr=127.127.1.0, srcport=123, srchost=\"LOCAL(0)\""), std::string::npos) << ltext;
  EXPECT_EQ(ltext.find("rec="), std::string::npos);
}

TEST(Mode6, ReadVarNamedVariables) {
  auto out = answer(parsed(request(2, 6, 0, "stratum, offset,refid=x")), cluster());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(data_of(out[0]), "stratum=2, offset=0.012000, refid=198.18.1.1");
  // A known peer variable the association lacks gives nothing, an unknown one an error.
  out = answer(parsed(request(2, 7, 3, "rec,stratum")), cluster());
  EXPECT_EQ(data_of(out[0]), "stratum=10");
  out = answer(parsed(request(2, 8, 0, "stratum,bogus")), cluster());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][1], 0xc2);  // response, error, READVAR
  EXPECT_EQ(be16(out[0], 4), 0x0500);
  EXPECT_EQ(be16(out[0], 10), 0);
}

TEST(Mode6, ErrorsForUnknownAssociationsAndOpcodesAndWrites) {
  struct Case {
    std::uint8_t opcode;
    std::uint16_t assoc;
    ErrorCode code;
  };
  const Case cases[] = {
      {2, 99, ErrorCode::kUnknownAssociation}, {1, 99, ErrorCode::kUnknownAssociation},
      {3, 0, ErrorCode::kProhibited},          {5, 1, ErrorCode::kProhibited},
      {8, 0, ErrorCode::kProhibited},          {6, 0, ErrorCode::kProhibited},
      {31, 0, ErrorCode::kProhibited},         {9, 0, ErrorCode::kProhibited},
      {4, 1, ErrorCode::kBadOpcode},           {10, 0, ErrorCode::kBadOpcode},
      {12, 0, ErrorCode::kBadOpcode},          {0, 0, ErrorCode::kBadOpcode},
  };
  for (const Case& c : cases) {
    const auto out = answer(parsed(request(c.opcode, 77, c.assoc, "x=1")), cluster());
    ASSERT_EQ(out.size(), 1u);
    const std::vector<std::uint8_t> want = {0x16,
                                            static_cast<std::uint8_t>(0xc0 | c.opcode),
                                            0,
                                            77,
                                            static_cast<std::uint8_t>(c.code),
                                            0,
                                            static_cast<std::uint8_t>(c.assoc >> 8),
                                            static_cast<std::uint8_t>(c.assoc),
                                            0,
                                            0,
                                            0,
                                            0};
    EXPECT_EQ(out[0], want) << "opcode " << int(c.opcode);
  }
  // A READSTAT for one association: its status word, no data.
  const auto one = answer(parsed(request(1, 78, 2)), cluster());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(be16(one[0], 4), 0x9100);
  EXPECT_EQ(be16(one[0], 10), 0);
}

TEST(Mode6, FragmentsCarry468OctetsAtIncreasingOffsets) {
  const Request req = parsed(request(2, 0xbeef, 5, {}, 4));
  std::string data;
  for (int i = 0; data.size() < 1000; ++i) data += "v" + std::to_string(i) + "=" + std::to_string(i * 7) + ", ";
  data.resize(1000);
  const auto out = fragments(req, 0x1234, data);
  ASSERT_EQ(out.size(), 3u);
  const std::size_t counts[] = {468, 468, 64};
  std::string joined;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Fragment& f = out[i];
    EXPECT_EQ(f[0], 0x26);  // version 4 echoed, mode 6
    EXPECT_EQ(f[1], i + 1 < out.size() ? 0xa2 : 0x82) << i;  // More on all but the last
    EXPECT_EQ(be16(f, 2), 0xbeef);
    EXPECT_EQ(be16(f, 4), 0x1234);
    EXPECT_EQ(be16(f, 6), 5);
    EXPECT_EQ(be16(f, 8), i * 468);
    EXPECT_EQ(be16(f, 10), counts[i]);
    EXPECT_EQ(f.size(), (12 + counts[i] + 3) / 4 * 4);
    EXPECT_EQ(f.size() % 4, 0u);
    joined += data_of(f);
  }
  EXPECT_EQ(joined, data);

  // Exactly 468 octets: one fragment; nothing: one empty fragment.
  EXPECT_EQ(fragments(req, 0, std::string(468, 'a')).size(), 1u);
  const auto empty = fragments(req, 0, {});
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].size(), 12u);
  EXPECT_EQ(empty[0][1], 0x82);

  // Beyond kMaxFragments the data is cut after the last whole variable.
  std::string huge;
  for (int i = 0; huge.size() < 6000; ++i) huge += "name" + std::to_string(i) + "=1, ";
  const auto capped = fragments(req, 0, huge);
  ASSERT_EQ(capped.size(), kMaxFragments);
  std::string got;
  for (const Fragment& f : capped) got += data_of(f);
  EXPECT_LE(got.size(), kMaxData * kMaxFragments);
  EXPECT_EQ(huge.compare(0, got.size(), got), 0);
  EXPECT_EQ(got.back(), '1');
}

TEST(Mode6, NoqueryWithLongestPrefixMatch) {
  const QueryAccess a(rules(
      "restrict default nomodify notrap nopeer noquery\n"
      "restrict 198.18.0.0 mask 255.255.0.0 nomodify\n"
      "restrict 198.18.7.0 mask 255.255.255.0 noquery\n"
      "restrict 198.18.7.9 nomodify\n"
      "restrict 198.18.9.1 ignore\n"
      "restrict -6 default ignore\n"
      "restrict 2001:db8::/32\n"));
  EXPECT_TRUE(a.allows(v4("198.18.1.1")));   // /16 without noquery
  EXPECT_FALSE(a.allows(v4("198.18.7.1")));  // /24 noquery is longer
  EXPECT_TRUE(a.allows(v4("198.18.7.9")));   // the host rule is longer still
  EXPECT_FALSE(a.allows(v4("198.18.9.1")));  // ignore
  EXPECT_FALSE(a.allows(v4("192.0.2.1")));   // default noquery
  EXPECT_TRUE(a.allows(v4("127.0.0.1")));    // loopback, no rule naming it
  EXPECT_TRUE(a.allows(v6("::1")));
  EXPECT_FALSE(a.allows(v6("2001:db9::1")));  // -6 default ignore
  EXPECT_TRUE(a.allows(v6("2001:db8::5")));

  // A rule naming loopback is obeyed; a later rule for the same prefix wins.
  const QueryAccess b(rules("restrict 127.0.0.1 noquery\nrestrict 198.18.0.1 noquery\nrestrict 198.18.0.1\n"));
  EXPECT_FALSE(b.allows(v4("127.0.0.1")));
  EXPECT_TRUE(b.allows(v4("198.18.0.1")));
  EXPECT_FALSE(b.allows(v4("198.18.0.2")));  // no rule, not loopback

  // Without any rule only loopback may ask; `restrict default` opens the rest.
  const QueryAccess none;
  EXPECT_TRUE(none.allows(v4("127.0.0.1")));
  EXPECT_FALSE(none.allows(v4("198.18.0.2")));
  EXPECT_TRUE(QueryAccess(rules("restrict default kod limited\n")).allows(v4("198.18.0.2")));
}

TEST(Mode6, RateLimitPerSourceAndInTotal) {
  RateLimiter::Settings s;
  s.per_source_per_s = 50;
  s.per_source_burst = 50;
  s.total_per_s = 120;
  s.total_burst = 120;
  s.max_sources = 3;
  RateLimiter r(s);
  const std::int64_t t0 = 1'000'000'000;
  int admitted = 0;
  for (int i = 0; i < 80; ++i) admitted += r.admit(v4("198.18.0.2"), t0, 1);
  EXPECT_EQ(admitted, 50);
  // 0.1 s later: 5 more tokens.
  admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += r.admit(v4("198.18.0.2"), t0 + 100'000'000, 1);
  EXPECT_EQ(admitted, 5);
  // Another source has its own bucket, but the total (120, 55 used) binds.
  admitted = 0;
  for (int i = 0; i < 80; ++i) admitted += r.admit(v4("198.18.0.3"), t0 + 100'000'000, 1);
  EXPECT_EQ(admitted, 50);
  admitted = 0;
  for (int i = 0; i < 80; ++i) admitted += r.admit(v4("198.18.0.4"), t0 + 100'000'000, 1);
  EXPECT_EQ(admitted, 120 + 12 - 55 - 50);  // the total refilled 12 in 0.1 s
  // Beyond max_sources the least recently seen bucket is reused.
  EXPECT_TRUE(r.admit(v4("198.18.0.5"), t0 + 10'000'000'000, 1));
  EXPECT_EQ(r.tracked(), 3u);
  EXPECT_FALSE(r.admit(v4("198.18.0.6"), t0 + 10'000'000'000, 51));  // more than a burst
}

TEST(Mode6, ServerChecksAccessThenRateThenAnswers) {
  RateLimiter::Settings lim;
  lim.per_source_burst = 3;
  lim.per_source_per_s = 1;
  Server srv(lim);
  srv.set_restrictions(rules("restrict default noquery\nrestrict 198.18.1.1\n"));
  int snapshots = 0;
  const auto snap = [&] {
    ++snapshots;
    return cluster();
  };
  std::vector<Fragment> out;
  const auto rv = request(2, 1, 0);
  const wire::Bytes b(rv.data(), rv.size());

  EXPECT_EQ(srv.handle(b, v4("198.18.2.1"), 0, snap, out), Outcome::kRefused);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(snapshots, 0);
  const auto mode3 = std::vector<std::uint8_t>(48, 0x23);
  EXPECT_EQ(srv.handle(wire::Bytes(mode3.data(), mode3.size()), v4("198.18.1.1"), 0, snap, out), Outcome::kMalformed);

  EXPECT_EQ(srv.handle(b, v4("198.18.1.1"), 0, snap, out), Outcome::kAnswered);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(be16(out[0], 4), 0x0600);
  const auto write = request(3, 2, 0, "stratum=1");
  EXPECT_EQ(srv.handle(wire::Bytes(write.data(), write.size()), v4("198.18.1.1"), 0, snap, out), Outcome::kError);
  EXPECT_EQ(be16(out[0], 4), 0x0700);
  EXPECT_EQ(srv.handle(b, v4("198.18.1.1"), 0, snap, out), Outcome::kAnswered);
  EXPECT_EQ(srv.handle(b, v4("198.18.1.1"), 0, snap, out), Outcome::kRateLimited);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(snapshots, 3);
  // Loopback may ask although `default` says noquery.
  EXPECT_EQ(srv.handle(b, v4("127.0.0.1"), 0, snap, out), Outcome::kAnswered);

  EXPECT_EQ(srv.count(Outcome::kRefused), 1u);
  EXPECT_EQ(srv.count(Outcome::kMalformed), 1u);
  EXPECT_EQ(srv.count(Outcome::kAnswered), 3u);
  EXPECT_EQ(srv.count(Outcome::kError), 1u);
  EXPECT_EQ(srv.count(Outcome::kRateLimited), 1u);
}

}  // namespace
