// Symmetric-key authentication: the keys file, MACs against requests a real
// ntpsec ntpdig signed (auth_vectors/, generate.sh), and the responder's
// answers to authenticated requests.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/auth/keys.h"
#include "dataplane/auth/mac.h"
#include "dataplane/responder.h"

using namespace linetime;
using namespace linetime::auth;
using linetime::dataplane::NtpOutcome;
using linetime::dataplane::NtpRequest;
using linetime::dataplane::Responder;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::uint8_t> from_hex(const std::string& h) {
  std::vector<std::uint8_t> v;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) v.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return v;
}

std::vector<std::uint32_t> ids(const KeysFile& f) {
  std::vector<std::uint32_t> v;
  for (const Key& k : f.keys) v.push_back(k.id);
  return v;
}

}  // namespace

TEST(KeysFile, ParsesTypesAsciiAndHexSecrets) {
  const KeysFile f = parse_keys(
      "# comment line\n"
      "1 MD5 secret#trailing comment\n"
      "2 sha1 0123456789abcdef0123456789abcdef01234567\n"
      "3 AES 00112233445566778899aabbccddeeff\n"
      "4 AES128CMAC 00112233445566778899aabbccddeeff\n"
      "\n"
      "  5\tSHA-1\t  x\n"
      "6 M 12345\n");
  ASSERT_EQ(ids(f), (std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.find(1)->algorithm, Algorithm::kMd5);
  EXPECT_EQ(std::string(f.find(1)->secret.begin(), f.find(1)->secret.end()), "secret");
  EXPECT_EQ(f.find(2)->algorithm, Algorithm::kSha1);
  ASSERT_EQ(f.find(2)->secret.size(), 20u);
  EXPECT_EQ(f.find(2)->secret[0], 0x01);
  EXPECT_EQ(f.find(2)->secret[19], 0x67);
  EXPECT_EQ(f.find(3)->algorithm, Algorithm::kAes128Cmac);
  EXPECT_EQ(f.find(4)->algorithm, Algorithm::kAes128Cmac);
  EXPECT_EQ(f.find(3)->secret, f.find(4)->secret);
  EXPECT_EQ(f.find(5)->algorithm, Algorithm::kSha1);
  EXPECT_EQ(f.find(6)->algorithm, Algorithm::kMd5);  // ntpd's 'M' rule, reported
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_FALSE(f.problems[0].error);
  EXPECT_EQ(f.problems[0].line, 8);
  EXPECT_NE(f.problems[0].message.find("taken as MD5"), std::string::npos);
  EXPECT_EQ(f.find(7), nullptr);
}

TEST(KeysFile, ReportsEveryBadLineWithItsFix) {
  const KeysFile f = parse_keys(
      "0 MD5 zero\n"                                        // 1: key 0 is the NAK's
      "65536 MD5 big\n"                                     // 2
      "7 MD5\n"                                             // 3: no secret
      "8 BLAKE2 abc\n"                                      // 4: unsupported
      "9 SHA1 0123456789abcdef0123456789abcdef0123456z\n"   // 5: not hex
      "10 SHA1 0123456789abcdef0123456789abcdef012345678\n" // 6: odd
      "11 MD5 two words\n"                                  // 7
      "12 AES short\n"                                      // 8: padded (warning)
      "13 MD5 first\n"
      "13 MD5 second\n");                                   // 10: replaces (warning)
  EXPECT_EQ(ids(f), (std::vector<std::uint32_t>{12, 13}));
  std::map<int, std::pair<bool, std::string>> by_line;
  for (const auto& p : f.problems) by_line[p.line] = {p.error, p.message};
  ASSERT_EQ(by_line.size(), 9u);
  EXPECT_NE(by_line[1].second.find("1 to 65535"), std::string::npos);
  EXPECT_NE(by_line[2].second.find("1 to 65535"), std::string::npos);
  EXPECT_NE(by_line[3].second.find("key 7 has no secret"), std::string::npos);
  EXPECT_NE(by_line[4].second.find("unsupported type 'BLAKE2' — use one of MD5, SHA1"), std::string::npos);
  EXPECT_NE(by_line[5].second.find("'z' is not a hex digit"), std::string::npos);
  EXPECT_NE(by_line[6].second.find("even number"), std::string::npos);
  EXPECT_NE(by_line[7].second.find("unexpected 'words'"), std::string::npos);
  EXPECT_FALSE(by_line[8].first);
  EXPECT_NE(by_line[8].second.find("padded with zeros"), std::string::npos);
  EXPECT_FALSE(by_line[10].first);
  EXPECT_NE(by_line[10].second.find("defined again"), std::string::npos);
  for (int line : {1, 2, 3, 4, 5, 6, 7}) EXPECT_TRUE(by_line[line].first) << line;
  ASSERT_EQ(f.find(12)->secret.size(), 16u);
  EXPECT_EQ(f.find(12)->secret[5], 0);
  EXPECT_EQ(std::string(f.find(13)->secret.begin(), f.find(13)->secret.end()), "second");
}

TEST(KeysFile, LongHexSecretsAreCutTo32Octets) {
  const std::string hex(70, 'a');
  const KeysFile f = parse_keys("1 SHA256 " + hex + "\n");
  ASSERT_NE(f.find(1), nullptr);
  EXPECT_EQ(f.find(1)->secret.size(), 32u);
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_FALSE(f.problems[0].error);
}

// Every request ntpdig signed verifies with our MAC of the same key; digests
// ntpdig sends whole (SHA-256 and longer, where ntpd sends 20 octets) agree
// with ours in the 20 octets we send.
TEST(Mac, MatchesNtpdigRequests) {
  const std::string dir = LINETIME_AUTH_VECTORS_DIR;
  const KeysFile keys = parse_keys(read_file(dir + "/keys"));
  ASSERT_EQ(keys.keys.size(), 8u);
  std::istringstream lines(read_file(dir + "/requests.txt"));
  std::string line;
  int checked = 0, whole = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream w(line);
    std::uint32_t id = 0;
    std::string hex;
    w >> id >> hex;
    const auto packet = from_hex(hex);
    const Key* key = keys.find(id);
    ASSERT_NE(key, nullptr) << id;
    const Mac mac(*key);
    ASSERT_GT(packet.size(), 52u);
    EXPECT_EQ(packet[48] << 24 | packet[49] << 16 | packet[50] << 8 | packet[51], static_cast<int>(id));
    const std::size_t sent = packet.size() - 52;
    std::array<std::uint8_t, kMaxMacDigest> ours{};
    mac.compute(packet.data(), 48, ours.data());
    if (sent == mac.length()) {
      EXPECT_TRUE(mac.verify(packet.data(), 48, packet.data() + 52, sent)) << "key " << id;
      ++whole;
    }
    ASSERT_GE(sent, mac.length()) << "key " << id;
    EXPECT_EQ(std::memcmp(ours.data(), packet.data() + 52, mac.length()), 0) << "key " << id << " " << to_string(key->algorithm);
    ++checked;
  }
  EXPECT_EQ(checked, 8);
  EXPECT_EQ(whole, 5);  // MD5, SHA1, AES-128 (twice), AES-256
}

TEST(Mac, RejectsTamperingWrongLengthAndUntrustedKeys) {
  const KeysFile keys = parse_keys("1 AES 00112233445566778899aabbccddeeff\n2 SHA1 abc\n3 MD5 notrusted\n");
  const KeyTable table(keys.keys, {1, 2});
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(3), nullptr);
  EXPECT_EQ(table.find(0), nullptr);
  for (std::uint32_t id : {1u, 2u}) {
    const Mac& mac = *table.find(id);
    std::array<std::uint8_t, 72> p{};
    for (std::size_t i = 0; i < 48; ++i) p[i] = static_cast<std::uint8_t>(i * 7);
    const std::size_t n = sign(mac, p.data(), 48);
    EXPECT_EQ(n, 52 + mac.length());
    EXPECT_TRUE(mac.verify(p.data(), 48, p.data() + 52, mac.length()));
    EXPECT_FALSE(mac.verify(p.data(), 48, p.data() + 52, mac.length() - 1));
    p[40] ^= 1;  // the transmit timestamp
    EXPECT_FALSE(mac.verify(p.data(), 48, p.data() + 52, mac.length()));
    p[40] ^= 1;
    p[52 + 3] ^= 0x80;
    EXPECT_FALSE(mac.verify(p.data(), 48, p.data() + 52, mac.length()));
  }
}

namespace {

const hwclock::UtcTime kRx(1'800'000'000LL * hwclock::kNsPerSec);
const hwclock::UtcTime kTx = kRx + hwclock::Duration::from_ns(5'000);

// A server synchronized at stratum 2 (the local reference's state does).
shm::ServerState synced() { return shm::local_reference_state(kRx - hwclock::Duration::from_s(1), 2, -24); }

struct Exchange {
  dataplane::NtpResponse r;
  std::array<std::uint8_t, 96> out{};
};

Exchange ask(Responder& responder, const std::vector<std::uint8_t>& request) {
  Exchange e;
  e.r = responder.handle(NtpRequest{wire::Bytes(request.data(), request.size()), 40'000, kRx},
                         wire::MutableBytes(e.out), [] { return kTx; });
  return e;
}

std::vector<std::uint8_t> request(const Mac* mac, std::uint32_t key_id = 0) {
  std::vector<std::uint8_t> b(48 + 4 + kMaxMacDigest);
  b[0] = 0x23;  // v4 client
  for (int i = 40; i < 48; ++i) b[i] = static_cast<std::uint8_t>(0x11 * (i - 39));
  if (mac != nullptr) {
    b.resize(sign(*mac, b.data(), 48));
  } else {  // a MAC with a key we do not have: 16 octets of anything
    b.resize(68);
    b[48] = static_cast<std::uint8_t>(key_id >> 24);
    b[51] = static_cast<std::uint8_t>(key_id);
  }
  return b;
}

}  // namespace

TEST(ResponderAuth, AnswersWithTheSameKeyNeverLonger) {
  const KeysFile keys = parse_keys("1 MD5 md5secret\n2 SHA1 sha1secret\n3 AES 00112233445566778899aabbccddeeff\n");
  const KeyTable table(keys.keys, {1, 2, 3});
  Responder responder;
  responder.update(synced());
  responder.set_keys(&table);
  for (std::uint32_t id : {1u, 2u, 3u}) {
    const Mac& mac = *table.find(id);
    const auto req = request(&mac);
    const Exchange e = ask(responder, req);
    ASSERT_EQ(e.r.outcome, NtpOutcome::kAnsweredAuthenticated) << id;
    EXPECT_EQ(e.r.length, req.size()) << "the answer is exactly as long as the request";
    EXPECT_FALSE(dataplane::restampable(e.r.outcome));
    EXPECT_EQ(e.out[48] << 24 | e.out[49] << 16 | e.out[50] << 8 | e.out[51], static_cast<int>(id));
    EXPECT_TRUE(mac.verify(e.out.data(), 48, e.out.data() + 52, mac.length()));
    EXPECT_EQ(e.out[0] & 7, 4) << "mode 4";
    EXPECT_EQ(std::memcmp(e.out.data() + 24, req.data() + 40, 8), 0) << "origin = the request's transmit";
  }
}

TEST(ResponderAuth, CryptoNakForUnknownUntrustedAndBadMacs) {
  const KeysFile keys = parse_keys("1 MD5 md5secret\n2 MD5 untrusted\n");
  const KeyTable table(keys.keys, {1});
  const Mac untrusted(*keys.find(2));
  Responder responder;
  responder.update(synced());
  responder.set_keys(&table);

  auto check_nak = [&](const std::vector<std::uint8_t>& req, NtpOutcome want, const char* what) {
    const Exchange e = ask(responder, req);
    EXPECT_EQ(e.r.outcome, want) << what;
    EXPECT_EQ(e.r.length, 52u) << what;
    EXPECT_LT(e.r.length, req.size()) << what;
    EXPECT_EQ(e.out[48] | e.out[49] | e.out[50] | e.out[51], 0) << what << ": key identifier 0";
    EXPECT_TRUE(dataplane::restampable(e.r.outcome));
  };
  check_nak(request(nullptr, 99), NtpOutcome::kAnsweredNakUnknownKey, "unknown key");
  check_nak(request(&untrusted), NtpOutcome::kAnsweredNakUnknownKey, "key not in trustedkey");
  auto bad = request(table.find(1));
  bad[47] ^= 1;  // transmit timestamp changed after signing
  check_nak(bad, NtpOutcome::kAnsweredNakBadMac, "tampered");
  // A 20-octet digest for an MD5 key (16) does not verify.
  auto long_digest = request(table.find(1));
  long_digest.resize(72, 0);
  check_nak(long_digest, NtpOutcome::kAnsweredNakBadMac, "wrong digest length");

  Responder no_keys;
  no_keys.update(synced());
  const Exchange e = ask(no_keys, request(table.find(1)));
  EXPECT_EQ(e.r.outcome, NtpOutcome::kAnsweredNakUnknownKey) << "no keys configured";
}

TEST(ResponderAuth, NoRoomForTheMacIsADrop) {
  const KeysFile keys = parse_keys("1 SHA1 sha1secret\n");
  const KeyTable table(keys.keys, {1});
  Responder responder;
  responder.update(synced());
  responder.set_keys(&table);
  const auto req = request(table.find(1));
  std::array<std::uint8_t, 60> out{};
  const auto r = responder.handle(NtpRequest{wire::Bytes(req.data(), req.size()), 40'000, kRx},
                                  wire::MutableBytes(out), [] { return kTx; });
  EXPECT_EQ(r.outcome, NtpOutcome::kDropNoRoom);
  EXPECT_EQ(r.length, 0u);
}

// `restrict ... limited kod`: the rate limit comes first, then the MAC.
TEST(ResponderAuth, RateLimitedBeforeVerification) {
  const KeysFile keys = parse_keys("1 MD5 md5secret\n");
  const KeyTable table(keys.keys, {1});
  auto clients = dataplane::ClientTable::create(1024, 7);
  ASSERT_TRUE(clients);
  Responder responder;
  responder.update(synced());
  responder.set_keys(&table);
  responder.set_clients(&*clients);
  shm::AclRateLimit rate{};
  rate.style = shm::RateStyle::kChrony;
  rate.interval_log2 = 3;  // one request per 8 s on average
  rate.burst = 1;
  rate.leak = 0;
  responder.set_rate_limit(rate);
  const std::uint8_t client[4] = {198, 18, 0, 7};
  const auto req = request(table.find(1));
  int authenticated = 0, limited = 0;
  for (int i = 0; i < 4; ++i) {
    std::array<std::uint8_t, 96> out{};
    NtpRequest q{wire::Bytes(req.data(), req.size()), 40'000, kRx + hwclock::Duration::from_ms(i), client, 4,
                 dataplane::kActLimited};
    const auto r = responder.handle(q, wire::MutableBytes(out), [] { return kTx; });
    if (r.outcome == NtpOutcome::kAnsweredAuthenticated) ++authenticated;
    if (r.outcome == NtpOutcome::kDropRateLimited) ++limited;
  }
  EXPECT_GE(authenticated, 1);
  EXPECT_GE(limited, 2);
  EXPECT_EQ(authenticated + limited, 4);
}

// `restrict ... notrust`: only requests authenticated with a trusted key are
// answered; the rest are dropped, without a crypto-NAK (as ntpd).
TEST(ResponderAuth, NotrustServesOnlyAuthenticatedRequests) {
  const KeysFile keys = parse_keys("1 AES 00112233445566778899aabbccddeeff\n2 MD5 untrusted\n");
  const KeyTable table(keys.keys, {1});
  const Mac untrusted(*keys.find(2));
  Responder responder;
  responder.update(synced());
  responder.set_keys(&table);
  auto ask_notrust = [&](const std::vector<std::uint8_t>& req) {
    std::array<std::uint8_t, 96> out{};
    NtpRequest q{wire::Bytes(req.data(), req.size()), 40'000, kRx, nullptr, 0, dataplane::kActNotrust};
    return responder.handle(q, wire::MutableBytes(out), [] { return kTx; });
  };
  EXPECT_EQ(ask_notrust(request(table.find(1))).outcome, NtpOutcome::kAnsweredAuthenticated);
  auto plain = request(table.find(1));
  plain.resize(48);
  EXPECT_EQ(ask_notrust(plain).outcome, NtpOutcome::kDropRestrictNotrust);
  EXPECT_EQ(ask_notrust(request(&untrusted)).outcome, NtpOutcome::kDropRestrictNotrust);
  auto bad = request(table.find(1));
  bad[44] ^= 1;
  const auto r = ask_notrust(bad);
  EXPECT_EQ(r.outcome, NtpOutcome::kDropRestrictNotrust);
  EXPECT_EQ(r.length, 0u);
  // noserve still wins over a valid MAC.
  std::array<std::uint8_t, 96> out{};
  const auto good = request(table.find(1));
  NtpRequest q{wire::Bytes(good.data(), good.size()), 40'000, kRx, nullptr, 0,
               static_cast<std::uint8_t>(dataplane::kActNoserve)};
  EXPECT_EQ(responder.handle(q, wire::MutableBytes(out), [] { return kTx; }).outcome, NtpOutcome::kDropRestrictNoserve);
}

// An unsynchronized server's authenticated answer says so in its header and
// is still never restamped: the MAC covers its transmit timestamp.
TEST(ResponderAuth, UnsynchronizedAnswersKeepTheirMac) {
  const KeysFile keys = parse_keys("1 MD5 md5secret\n");
  const KeyTable table(keys.keys, {1});
  Responder responder;
  responder.update(shm::ServerState{});  // not synchronized
  responder.set_keys(&table);
  const Exchange e = ask(responder, request(table.find(1)));
  ASSERT_EQ(e.r.outcome, NtpOutcome::kAnsweredAuthenticated);
  EXPECT_FALSE(dataplane::restampable(e.r.outcome));
  EXPECT_EQ(e.out[0] >> 6, 3) << "LI 3: unsynchronized";
  EXPECT_EQ(e.out[1], 16) << "stratum 16";
  EXPECT_TRUE(table.find(1)->verify(e.out.data(), 48, e.out.data() + 52, 16));
}
