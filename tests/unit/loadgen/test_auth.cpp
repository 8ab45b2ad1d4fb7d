// The load generator's authenticated requests: signed templates (checked
// with auth::Mac and answered by the dataplane's Responder), the reading of
// the MACs of answers, their counts in the reports, and --keys / --key.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "dataplane/auth/keys.h"
#include "dataplane/auth/mac.h"
#include "dataplane/loadgen/options.h"
#include "dataplane/loadgen/report.h"
#include "dataplane/loadgen/traffic.h"
#include "dataplane/responder.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::loadgen {
namespace {

using Frame = std::array<std::uint8_t, kMaxRequestFrameLength>;

// One key of each family the brief's benchmarks cover: a 16-octet digest, a
// 20-octet digest, a CMAC.
const char* const kKeys =
    "1 MD5 md5secret\n"
    "2 SHA1 0123456789abcdef0123456789abcdef01234567\n"
    "3 AES 00112233445566778899aabbccddeeff\n"
    "4 AES ffeeddccbbaa99887766554433221100\n";

auth::Key key(std::uint32_t id) {
  const auth::KeysFile f = auth::parse_keys(kKeys);
  EXPECT_TRUE(f.problems.empty());
  return *f.find(id);
}

RequestConfig config(std::optional<auth::Key> k) {
  RequestConfig c;
  c.src_mac = wire::MacAddress{{0x02, 0, 0, 0, 0, 0x02}};
  c.dst_mac = wire::MacAddress{{0x02, 0, 0, 0, 0, 0x01}};
  c.dst = wire::Ipv4Address::of(198, 18, 0, 1);
  c.population.first_address = wire::Ipv4Address::of(198, 18, 128, 1);
  c.population.addresses = 5;
  c.population.first_port = 20000;
  c.population.ports = 7;
  c.key = std::move(k);
  return c;
}

// The frame's NTP message after the IPv4 and UDP checks (lengths, header
// and UDP checksums), or an empty view when one fails.
wire::Bytes checked_ntp(const Frame& f, std::size_t length, const RequestConfig& c) {
  const wire::Bytes frame(f.data(), length);
  const auto ip = wire::parse_ipv4(frame.subspan(14));
  if (!ip) return {};
  const auto udp = wire::parse_udp(ip->payload, ip->fields.src, c.dst);
  if (!udp) return {};
  return udp->payload;
}

TEST(SignedRequests, EveryClientsRequestVerifiesWithTheKey) {
  for (std::uint32_t id : {1u, 2u, 3u}) {
    const RequestConfig c = config(key(id));
    const RequestTemplates t(c);
    const auth::Mac mac(key(id));
    ASSERT_NE(t.mac(), nullptr);
    EXPECT_EQ(t.frame_length(), kRequestFrameLength + 4 + mac.length()) << id;
    for (std::uint64_t client = 0; client < c.population.clients(); ++client) {
      Frame f{};
      const std::uint64_t origin = client % 2 ? 0xE000000100000001ull + client : 0;
      const std::uint64_t receive = client % 2 ? 0xE000000200000000ull + client : 0;
      const std::uint64_t transmit = 0xE000000300000000ull + client * 977;
      t.write(client, f.data(), origin, receive, transmit);
      const wire::Bytes ntp = checked_ntp(f, t.frame_length(), c);
      ASSERT_EQ(ntp.size(), 48 + 4 + mac.length()) << "key " << id << " client " << client;
      const auto p = wire::parse_ntp(ntp);
      ASSERT_TRUE(p.has_value());
      ASSERT_TRUE(p->has_mac);
      EXPECT_EQ(p->mac.key_id, id);
      EXPECT_EQ(p->header->origin_ts.get(), origin);
      EXPECT_EQ(p->header->receive_ts.get(), receive);
      EXPECT_EQ(p->header->transmit_ts.get(), transmit);
      EXPECT_TRUE(mac.verify(ntp.data(), 48, p->mac.digest.data(), p->mac.digest.size())) << id << " " << client;
    }
  }
}

TEST(SignedRequests, BasicBurstWritesTheSameSignedBytes) {
  const RequestConfig c = config(key(3));
  const RequestTemplates t(c);
  std::vector<Frame> burst(40);
  std::vector<std::uint8_t*> out;
  for (Frame& f : burst) out.push_back(f.data());
  const std::uint64_t t1 = 0xE1234567'89ABCDEFull;
  t.write_basic_burst(30, out.data(), 40, t1);
  for (unsigned i = 0; i < 40; ++i) {
    Frame one{};
    t.write((30 + i) % 35, one.data(), 0, 0, t1);
    EXPECT_EQ(burst[i], one) << i;
    EXPECT_FALSE(checked_ntp(burst[i], t.frame_length(), c).empty()) << i;
  }
}

TEST(SignedRequests, WithoutAKeyTheRequestIsAsBefore) {
  const RequestTemplates t(config(std::nullopt));
  EXPECT_EQ(t.mac(), nullptr);
  EXPECT_EQ(t.frame_length(), kRequestFrameLength);
  Frame f{};
  f.fill(0xAA);
  t.write(4, f.data(), 1, 2, 3);
  for (std::size_t i = kRequestFrameLength; i < f.size(); ++i) EXPECT_EQ(f[i], 0xAA) << "written beyond the frame";
  EXPECT_EQ(checked_ntp(f, kRequestFrameLength, config(std::nullopt)).size(), 48u);
}

// --- answers ---------------------------------------------------------------

const hwclock::UtcTime kRx(1'800'000'000LL * hwclock::kNsPerSec);
const hwclock::UtcTime kTx = kRx + hwclock::Duration::from_ns(5'000);

// A server synchronized at stratum 2 (the local reference's state does).
shm::ServerState synced() { return shm::local_reference_state(kRx - hwclock::Duration::from_s(1), 2, -24); }

// The dataplane's answer to request frame `req` (its NTP message answered by
// a Responder with the keys `trusted` of kKeys), as the frame that comes back.
struct Answered {
  dataplane::NtpOutcome outcome;
  Frame frame{};
  std::size_t length = 0;
};

Answered answer(const Frame& req, std::size_t length, const std::vector<std::uint32_t>& trusted) {
  const auth::KeysFile keys = auth::parse_keys(kKeys);
  const auth::KeyTable table(keys.keys, trusted);
  dataplane::Responder responder;
  responder.update(synced());
  responder.set_keys(&table);
  Answered a;
  a.frame = req;
  std::uint8_t* ntp = a.frame.data() + kNtpOffset;
  const auto r = responder.handle(
      dataplane::NtpRequest{wire::Bytes(req.data() + kNtpOffset, length - kNtpOffset), 20000, kRx},
      wire::MutableBytes(ntp, a.frame.size() - kNtpOffset), [] { return kTx; });
  a.outcome = r.outcome;
  for (int i = 0; i < 6; ++i) std::swap(a.frame[i], a.frame[6 + i]);
  for (int i = 0; i < 4; ++i) std::swap(a.frame[26 + i], a.frame[30 + i]);
  std::swap(a.frame[34], a.frame[36]);
  std::swap(a.frame[35], a.frame[37]);
  const std::size_t udp = 8 + r.length;
  a.frame[38] = static_cast<std::uint8_t>(udp >> 8);
  a.frame[39] = static_cast<std::uint8_t>(udp);
  a.length = kNtpOffset + r.length;
  return a;
}

AnswerAuth check(const Answered& a, const Population& p, const auth::Mac& mac) {
  Answer got;
  EXPECT_EQ(classify(a.frame.data(), a.length, p, got), FrameKind::kAnswer);
  EXPECT_EQ(got.ntp_length, a.length - kNtpOffset);
  return check_answer_mac(a.frame.data() + kNtpOffset, got.ntp_length, mac);
}

TEST(AnswerMacs, TheDataplanesAnswersClassify) {
  for (std::uint32_t id : {1u, 2u, 3u}) {
    const RequestConfig c = config(key(id));
    const RequestTemplates t(c);
    const auth::Mac& mac = *t.mac();
    Frame req{};
    t.write(12, req.data(), 0, 0, 0xE000000012345678ull);

    // Trusted: answered with the same key, which verifies.
    const Answered ok = answer(req, t.frame_length(), {1, 2, 3});
    ASSERT_EQ(ok.outcome, dataplane::NtpOutcome::kAnsweredAuthenticated) << id;
    EXPECT_EQ(ok.length, t.frame_length());
    EXPECT_EQ(check(ok, c.population, mac), AnswerAuth::kVerified) << id;

    // The same answer with one bit of the transmit timestamp or of the digest changed.
    Answered bad = ok;
    bad.frame[kNtpOffset + 47] ^= 1;
    EXPECT_EQ(check(bad, c.population, mac), AnswerAuth::kMacFailed) << id;
    bad = ok;
    bad.frame[ok.length - 1] ^= 0x80;
    EXPECT_EQ(check(bad, c.population, mac), AnswerAuth::kMacFailed) << id;
    // Signed with a key id other than ours.
    bad = ok;
    bad.frame[kNtpOffset + 51] = 9;
    EXPECT_EQ(check(bad, c.population, mac), AnswerAuth::kMacFailed) << id;

    // Untrusted: a crypto-NAK.
    const Answered nak = answer(req, t.frame_length(), {4});
    ASSERT_EQ(nak.outcome, dataplane::NtpOutcome::kAnsweredNakUnknownKey) << id;
    EXPECT_EQ(nak.length, kRequestFrameLength + 4);
    EXPECT_EQ(check(nak, c.population, mac), AnswerAuth::kCryptoNak) << id;
  }
}

TEST(AnswerMacs, PlainAnswersAndTailsThatAreNoMac) {
  const auth::Mac mac(key(3));
  std::array<std::uint8_t, 120> ntp{};
  ntp[0] = wire::ntp_li_vn_mode(0, 4, 4);
  EXPECT_EQ(check_answer_mac(ntp.data(), 48, mac), AnswerAuth::kUnauthenticated);
  // 2 octets behind the header: neither an extension field nor a MAC.
  EXPECT_EQ(check_answer_mac(ntp.data(), 50, mac), AnswerAuth::kMacFailed);
  // A 4-octet tail that is not key 0 is no crypto-NAK.
  ntp[51] = 3;
  EXPECT_EQ(check_answer_mac(ntp.data(), 52, mac), AnswerAuth::kMacFailed);
  // A MAC of the right length with our key id and a digest of zeros.
  EXPECT_EQ(check_answer_mac(ntp.data(), 68, mac), AnswerAuth::kMacFailed);
  // One 28-octet extension field and no MAC.
  ntp[48] = 0x01;
  ntp[49] = 0x04;
  ntp[50] = 0;
  ntp[51] = 28;
  EXPECT_EQ(check_answer_mac(ntp.data(), 76, mac), AnswerAuth::kUnauthenticated);
}

TEST(AnswerMacs, ClassifyReadsTheUdpLength) {
  const RequestConfig c = config(key(1));
  const RequestTemplates t(c);
  Frame req{};
  t.write(3, req.data(), 0, 0, 0xE000000012345678ull);
  Answered a = answer(req, t.frame_length(), {1});
  Answer got;
  // Ethernet padding behind the datagram is not part of the NTP message.
  ASSERT_EQ(classify(a.frame.data(), a.length + 6, c.population, got), FrameKind::kAnswer);
  EXPECT_EQ(got.ntp_length, 68u);
  // A UDP length beyond the frame is not an answer.
  EXPECT_EQ(classify(a.frame.data(), a.length - 1, c.population, got), FrameKind::kOther);
  a.frame[39] = 8 + 40;  // shorter than an NTP header
  EXPECT_EQ(classify(a.frame.data(), a.length, c.population, got), FrameKind::kOther);
}

TEST(AnswerMacs, CountsAndWhichAnswersAreUsed) {
  Tally t;
  EXPECT_TRUE(count_auth(AnswerAuth::kVerified, t));
  EXPECT_TRUE(count_auth(AnswerAuth::kVerified, t));
  EXPECT_FALSE(count_auth(AnswerAuth::kMacFailed, t));
  EXPECT_TRUE(count_auth(AnswerAuth::kCryptoNak, t));
  EXPECT_TRUE(count_auth(AnswerAuth::kUnauthenticated, t));
  EXPECT_EQ(t.auth_verified, 2u);
  EXPECT_EQ(t.auth_mac_failed, 1u);
  EXPECT_EQ(t.auth_crypto_nak, 1u);
  EXPECT_EQ(t.auth_unauthenticated, 1u);
  EXPECT_EQ(t.auth_answers(), 5u);
  EXPECT_DOUBLE_EQ(t.auth_share(t.auth_verified), 0.4);
  Tally sum;
  sum.merge(t);
  sum.merge(t);
  EXPECT_EQ(sum.auth_verified, 4u);
  EXPECT_EQ(sum.auth_crypto_nak, 2u);
  sum.clear();
  EXPECT_EQ(sum.auth_answers(), 0u);
  EXPECT_EQ(sum.auth_share(0), 0.0);
  EXPECT_STREQ(to_string(AnswerAuth::kCryptoNak), "crypto-nak");
}

std::string captured(void (*write)(std::FILE*, const RunInfo&, const std::vector<StepResult>&), const RunInfo& info,
                     const std::vector<StepResult>& steps) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  write(f, info, steps);
  std::fclose(f);
  std::string s(buf, size);
  std::free(buf);
  return s;
}

TEST(AuthReports, JsonTableAndCsvCarryTheCounts) {
  StepResult s;
  s.step = 1;
  s.send_s = 1;
  s.tally.sent = 10;
  s.tally.answered = 9;
  s.tally.auth_verified = 6;
  s.tally.auth_mac_failed = 1;
  s.tally.auth_crypto_nak = 3;
  RunInfo info;
  const std::string plain = captured(write_json, info, {s});
  EXPECT_NE(plain.find("\"authentication\": null"), std::string::npos);
  EXPECT_EQ(plain.find("\"auth\":"), std::string::npos);
  info.key_id = 3;
  info.key_type = "AES";
  const std::string json = captured(write_json, info, {s});
  EXPECT_NE(json.find("\"authentication\": {\"key\": 3, \"type\": \"AES\"}"), std::string::npos);
  EXPECT_NE(json.find("\"auth\": {\"checked\": 10, \"verified\": 6, \"mac_failed\": 1, \"crypto_nak\": 3, "
                      "\"unauthenticated\": 0, \"verified_share\": 0.600000, \"mac_failed_share\": 0.100000, "
                      "\"crypto_nak_share\": 0.300000"),
            std::string::npos)
      << json;

  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  write_table_header(f, true);
  write_table_row(f, s, true);
  write_csv_header(f);
  write_csv_row(f, slice_row(0.1, 1, 0, s.tally));
  std::fclose(f);
  const std::string out(buf, size);
  std::free(buf);
  EXPECT_NE(out.find("macok%"), std::string::npos);
  EXPECT_NE(out.find("60.000    10.000    30.000\n"), std::string::npos) << out;
  EXPECT_NE(out.find(",auth_verified,auth_mac_failed,auth_crypto_nak,auth_unauthenticated\n"), std::string::npos);
  EXPECT_NE(out.find(",6,1,3,0\n"), std::string::npos) << out;
}

// --- options ---------------------------------------------------------------

Expected<Options, std::string> parse(std::vector<std::string> extra) {
  std::vector<std::string> args{"--dst-mac", "02:00:00:00:00:01"};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse_options(args);
}

TEST(AuthOptions, KeysAndKeyGoTogether) {
  const auto o = parse({"--keys", "/etc/ntp/keys", "--key", "7"});
  ASSERT_TRUE(o.has_value()) << o.error();
  EXPECT_EQ(o->keys_file, "/etc/ntp/keys");
  EXPECT_EQ(o->key_id, 7u);
  EXPECT_EQ(parse({})->key_id, 0u);

  const auto no_key = parse({"--keys", "/etc/ntp/keys"});
  ASSERT_FALSE(no_key.has_value());
  EXPECT_NE(no_key.error().find("needs --key ID"), std::string::npos) << no_key.error();
  const auto no_file = parse({"--key", "1"});
  ASSERT_FALSE(no_file.has_value());
  EXPECT_NE(no_file.error().find("needs --keys FILE"), std::string::npos) << no_file.error();
  for (const char* bad : {"0", "65536", "abc", "-1", ""}) {
    const auto e = parse({"--keys", "k", "--key", bad});
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_NE(e.error().find("from 1 to 65535"), std::string::npos) << e.error();
  }
  const auto missing = parse({"--keys"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("--keys needs a value"), std::string::npos);
  EXPECT_NE(usage().find("--keys FILE"), std::string::npos);
  EXPECT_NE(usage().find("--key ID"), std::string::npos);
}

TEST(AuthOptions, SelectKeyNamesLinesAndFixes) {
  std::vector<std::string> warnings;
  const auto k = select_key("keys", kKeys, 3, warnings);
  ASSERT_TRUE(k.has_value()) << k.error();
  EXPECT_EQ(k->algorithm, auth::Algorithm::kAes128Cmac);
  EXPECT_TRUE(warnings.empty());

  const auto absent = select_key("/etc/ntp/keys", kKeys, 9, warnings);
  ASSERT_FALSE(absent.has_value());
  EXPECT_NE(absent.error().find("key 9 is not in /etc/ntp/keys (it holds 1, 2, 3, 4)"), std::string::npos)
      << absent.error();
  EXPECT_NE(absent.error().find("--key"), std::string::npos);
  const auto empty = select_key("k", "# nothing\n", 1, warnings);
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().find("holds no key"), std::string::npos) << empty.error();

  // A line it cannot read is an error with file:line; a changed one a warning.
  const auto bad = select_key("k", "1 AES 00112233445566778899aabbccddeeff\n2 NOPE abc\n", 1, warnings);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().rfind("k:2: ", 0), 0u) << bad.error();
  warnings.clear();
  const auto changed = select_key("k", "1 AES 00112233445566778899aabbccddeeff\n2 Mystery abc\n", 1, warnings);
  ASSERT_TRUE(changed.has_value()) << changed.error();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("k:2: ", 0), 0u) << warnings[0];
}

TEST(AuthOptions, LoadKeyReadsTheFileAndWarnsWhenOthersMayReadIt) {
  const std::string path = ::testing::TempDir() + "lt-loadgen-keys-" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << kKeys;
  }
  Options o;
  o.keys_file = path;
  o.key_id = 2;
  ::chmod(path.c_str(), 0600);
  std::vector<std::string> warnings;
  auto k = load_key(o, warnings);
  ASSERT_TRUE(k.has_value()) << k.error();
  EXPECT_EQ(k->algorithm, auth::Algorithm::kSha1);
  EXPECT_TRUE(warnings.empty());
  ::chmod(path.c_str(), 0644);
  k = load_key(o, warnings);
  EXPECT_TRUE(k.has_value());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("chmod 600"), std::string::npos) << warnings[0];
  std::remove(path.c_str());

  const auto gone = load_key(o, warnings);
  ASSERT_FALSE(gone.has_value());
  EXPECT_NE(gone.error().find("cannot read keys file " + path), std::string::npos) << gone.error();
  EXPECT_NE(gone.error().find("--keys"), std::string::npos);
}

}  // namespace
}  // namespace linetime::loadgen
