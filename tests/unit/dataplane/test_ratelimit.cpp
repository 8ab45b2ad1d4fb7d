// Rate-limit arithmetic (ntpd's ntp_monitor and chrony's token bucket), the
// client table shared with interleaved mode, and the KoD RATE answer.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "dataplane/client_table.h"
#include "dataplane/ratelimit.h"
#include "dataplane/responder.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

constexpr std::uint64_t kEpoch = std::uint64_t{3'900'000'000} << 32;  // an NTP time in 2023
constexpr std::uint64_t at_s(double s) {
  return kEpoch + static_cast<std::uint64_t>(s * 4294967296.0);
}

// Drives one client through rate_limit() as the responder does.
struct Client {
  shm::AclRateLimit p;
  std::int32_t credit = 0;
  std::uint64_t last = 0;
  bool seen = false;
  RateVerdict at(double s, std::uint32_t random = 1) {
    const std::uint64_t now = at_s(s);
    const RateVerdict v = rate_limit(p, credit, last, !seen, now, random);
    seen = true;
    last = now;
    return v;
  }
};

TEST(RateLimitNtpd, FirstRequestAndPoliteClientsAreAnswered) {
  Client c;  // discard average 3 (8 s) minimum 2
  EXPECT_EQ(c.at(0), RateVerdict::kPass);
  EXPECT_EQ(c.credit, 0);
  // One request every 8 s: credit 8 - 2 = 6 after each, never limited.
  for (int i = 1; i <= 50; ++i) {
    ASSERT_EQ(c.at(8.0 * i), RateVerdict::kPass) << i;
    ASSERT_EQ(c.credit, 6);
  }
  // 64 s polling drains to 0 before each request: 0 + 8 - 2.
  EXPECT_EQ(c.at(400 + 64), RateVerdict::kPass);
  EXPECT_EQ(c.credit, 6);
}

TEST(RateLimitNtpd, MinimumSpacingAndAverageAsNtpMonitorComputesThem) {
  Client c;
  EXPECT_EQ(c.at(0), RateVerdict::kPass);
  // 0.4 s later rounds to 0 s: 0 + 1 < 2, limited; credit was below the
  // limit of 64, so a KoD may go and the credit jumps to 64 + 8.
  EXPECT_EQ(c.at(0.4), RateVerdict::kLimitedKod);
  EXPECT_EQ(c.credit, 72);
  // 1.6 s later (rounds to 2 s): spacing fine, but 70 + 8 >= 64: limited,
  // and no second KoD while the credit stays at or above 64.
  EXPECT_EQ(c.at(2.0), RateVerdict::kLimited);
  EXPECT_EQ(c.credit, 70);
  // 14 s later the credit is 56, and 56 + 8 is not below 64: still limited
  // (a KoD may go again: the credit was below the limit).
  Client d = c;
  EXPECT_EQ(d.at(16.0), RateVerdict::kLimitedKod);
  // 15 s later it is 55 and 55 + 8 < 64: answered.
  EXPECT_EQ(c.at(17.0), RateVerdict::kPass);
  EXPECT_EQ(c.credit, 55 + 8 - 2);
}

TEST(RateLimitNtpd, AFloodGetsOneKodPerAverageHeadway) {
  Client c;
  int kods = 0, passed = 0, limited = 0;
  // 10 requests per second for 100 s.
  for (int i = 0; i < 1000; ++i) {
    switch (c.at(0.1 * i)) {
      case RateVerdict::kPass: ++passed; break;
      case RateVerdict::kLimitedKod: ++kods; break;
      case RateVerdict::kLimited: ++limited; break;
    }
  }
  // Interval rounds to 0 s between requests: every one after the first is
  // limited, and the credit never drains: one KoD only.
  EXPECT_EQ(passed, 1);
  EXPECT_EQ(kods, 1);
  EXPECT_EQ(limited, 998);
}

TEST(RateLimitNtpd, OneRequestPerSecondGetsAKodEveryNineHeadways) {
  Client c;
  c.p.minimum_s = 0;
  int kods = 0, passed = 0;
  for (int i = 0; i <= 300; ++i) {
    const RateVerdict v = c.at(i);
    kods += v == RateVerdict::kLimitedKod;
    passed += v == RateVerdict::kPass;
  }
  // Each answered request adds 8 - 2 - 1 = 5 net: the 64 limit is reached
  // after a dozen; then the credit jumps to 72 and drains 1/s: 9 s of drops,
  // one answer (64 - ... ) and a KoD again.
  EXPECT_GE(kods, 25);
  EXPECT_LE(kods, 35);
  EXPECT_GT(passed, 10);
  EXPECT_LT(passed + kods, 100);
}

TEST(RateLimitChrony, BurstThenOnePerInterval) {
  Client c;
  c.p.style = shm::RateStyle::kChrony;  // interval 3 (8 s), burst 8
  c.p.leak = 0;
  for (int i = 0; i < 8; ++i) ASSERT_EQ(c.at(0.01 * i), RateVerdict::kPass) << i;
  EXPECT_EQ(c.at(0.1), RateVerdict::kLimitedKod);  // the first limited one may get a KoD
  EXPECT_EQ(c.at(0.2), RateVerdict::kLimited);
  // A KoD costs an interval: the next one 8 s later, never an answer while
  // the client keeps asking faster.
  EXPECT_EQ(c.at(9.0), RateVerdict::kLimitedKod);
  EXPECT_EQ(c.at(9.5), RateVerdict::kLimited);
  EXPECT_EQ(c.at(17.5), RateVerdict::kLimitedKod);
  // Quiet for a while: the bucket is full again.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(c.at(200 + 0.01 * i), RateVerdict::kPass) << i;
  EXPECT_EQ(c.at(200.5), RateVerdict::kLimitedKod);
}

TEST(RateLimitChrony, AClockStepBackRefillsNothing) {
  // A request that seems to come before the previous one counts as no time
  // at all (as in chrony): a flood keeps its empty bucket however the
  // timestamps move back, and the bucket fills again as time moves on.
  Client c;
  c.p.style = shm::RateStyle::kChrony;  // interval 3 (8 s), burst 8
  c.p.leak = 0;
  for (int i = 0; i < 8; ++i) ASSERT_EQ(c.at(100 + 0.01 * i), RateVerdict::kPass) << i;
  EXPECT_EQ(c.at(100.1), RateVerdict::kLimitedKod);
  const std::int32_t empty = c.credit;
  EXPECT_EQ(c.at(40), RateVerdict::kLimited);  // the clock stepped back a minute
  EXPECT_EQ(c.credit, empty);
  EXPECT_EQ(c.at(40 + 8 * 8 + 10), RateVerdict::kPass);  // a full bucket again
}

TEST(RateLimit, ElapsedTimeCountsIn256thsOfASecond) {
  // ntpd style rounds to the nearest second: 1.5 s counts as 2, 1.49 s as 1.
  const RateParams ntpd{shm::AclRateLimit{}};
  std::int32_t credit = 10;
  auto never = [] { return std::uint32_t{0}; };
  rate_limit(ntpd, credit, 384, false, never);  // 1.5 s: 10 - 2 + 8 - 2
  EXPECT_EQ(credit, 14);
  credit = 10;
  rate_limit(ntpd, credit, 381, false, never);  // 1.49 s: 10 - 1 + 8 - 2
  EXPECT_EQ(credit, 15);
  // chrony style fills in 1/256 s, to the bucket's size.
  shm::AclRateLimit c;
  c.style = shm::RateStyle::kChrony;
  c.interval_log2 = 0;  // 1 s = 256 per request
  c.burst = 4;
  const RateParams chrony{c};
  credit = 0;
  EXPECT_EQ(rate_limit(chrony, credit, 300, false, never), RateVerdict::kPass);
  EXPECT_EQ(credit, 300 - 256);
  EXPECT_EQ(rate_limit(chrony, credit, 0x7FFF'FFFFu, false, never), RateVerdict::kPass);  // 97 days
  EXPECT_EQ(credit, 4 * 256 - 256);
}

TEST(RateLimitChrony, LeakAnswersOneInFourWithAFixedSeed) {
  Client c;
  c.p.style = shm::RateStyle::kChrony;
  c.p.burst = 1;
  c.p.leak = 2;
  std::mt19937 rng(42);
  int passed = 0;
  EXPECT_EQ(c.at(0, rng()), RateVerdict::kPass);
  for (int i = 1; i <= 4000; ++i) passed += c.at(0.001 * i, rng()) == RateVerdict::kPass;
  EXPECT_GT(passed, 900);   // 1000 expected
  EXPECT_LT(passed, 1100);
}

TEST(RateLimitChrony, RandomIsDrawnOnlyForALimitedRequestThatMayLeak) {
  shm::AclRateLimit p;
  p.style = shm::RateStyle::kChrony;
  p.interval_log2 = 0;
  p.burst = 2;
  p.leak = 1;
  const RateParams params(p);
  EXPECT_EQ(params.cost, 256);
  EXPECT_EQ(params.cap, 512);
  EXPECT_EQ(params.leak_mask, 1u);
  EXPECT_EQ(params.kod_min_poll, 0);
  int draws = 0;
  auto random = [&draws] {
    ++draws;
    return std::uint32_t{1};  // odd: never leaks with leak 1
  };
  std::int32_t credit = 0;
  // Three requests at once: the bucket holds two.
  EXPECT_EQ(rate_limit(params, credit, 0, true, random), RateVerdict::kPass);
  EXPECT_EQ(rate_limit(params, credit, 0, false, random), RateVerdict::kPass);
  EXPECT_EQ(draws, 0);
  EXPECT_EQ(rate_limit(params, credit, 0, false, random), RateVerdict::kLimitedKod);
  EXPECT_EQ(draws, 1);
  // Without leak nothing is drawn at all.
  p.leak = 0;
  credit = 0;
  EXPECT_EQ(rate_limit(RateParams(p), credit, 0, false, random), RateVerdict::kLimitedKod);
  EXPECT_EQ(draws, 1);
}

TEST(ClientTable, RateStateSharesTheInterleavedEntry) {
  auto t = ClientTable::create(64, 99);
  ASSERT_TRUE(t.has_value());
  const std::uint8_t address[4] = {198, 18, 0, 2};
  const auto key = ClientKey::from_ipv4(address);
  const ClientTable::Touch first = t->touch(key, at_s(0));
  EXPECT_TRUE(first.fresh);
  t->credit(first.slot) = 17;
  const ClientTable::Claim claim = t->claim(key, at_s(1) | 1);
  EXPECT_EQ(claim.slot, first.slot);
  EXPECT_EQ(t->credit(first.slot), 17);  // interleaving keeps the rate state
  const ClientTable::Touch again = t->touch(key, at_s(2));
  EXPECT_FALSE(again.fresh);
  EXPECT_EQ(again.age, 256u);  // 1 s since the claim, in 1/256 s
}

TEST(ClientTable, EvictsTheLeastRecentlySeenWhenABucketIsFull) {
  auto t = ClientTable::create(4, 1);  // one bucket
  ASSERT_TRUE(t.has_value());
  for (std::uint8_t i = 0; i < 4; ++i) {
    const std::uint8_t a[4] = {198, 18, 1, i};
    t->touch(ClientKey::from_ipv4(a), at_s(i + 1));
  }
  const std::uint8_t first[4] = {198, 18, 1, 0};
  t->touch(ClientKey::from_ipv4(first), at_s(10));  // 198.18.1.1 is now the oldest
  const std::uint8_t fresh[4] = {198, 18, 2, 0};
  EXPECT_TRUE(t->touch(ClientKey::from_ipv4(fresh), at_s(11)).fresh);
  const std::uint8_t gone[4] = {198, 18, 1, 1};
  EXPECT_EQ(t->find(ClientKey::from_ipv4(gone)), nullptr);
  EXPECT_NE(t->find(ClientKey::from_ipv4(first)), nullptr);
  EXPECT_EQ(t->replaced(), 1u);
}

TEST(Kod, FieldByField) {
  std::array<std::uint8_t, 48> q{};
  q[0] = wire::ntp_li_vn_mode(0, 3, 3);
  q[2] = 1;                              // poll 2 s: raised to the average
  q[3] = static_cast<std::uint8_t>(-6);  // precision
  for (int i = 4; i < 48; ++i) q[i] = static_cast<std::uint8_t>(i);
  std::array<std::uint8_t, 48> r = q;  // answered in place
  Responder::write_kod(*reinterpret_cast<const wire::NtpHeader*>(q.data()), reinterpret_cast<wire::NtpHeader*>(r.data()), 3);
  const auto& h = *reinterpret_cast<const wire::NtpHeader*>(r.data());
  EXPECT_EQ(h.leap(), 3u);
  EXPECT_EQ(h.version(), 3u);  // the client's
  EXPECT_EQ(h.mode(), 4u);
  EXPECT_EQ(h.stratum, 0);
  EXPECT_EQ(h.poll, 3);
  EXPECT_EQ(h.precision, -6);
  EXPECT_EQ(std::memcmp(r.data() + 4, q.data() + 4, 8), 0);  // root delay and dispersion: the request's
  EXPECT_EQ(std::memcmp(r.data() + 12, "RATE", 4), 0);
  EXPECT_EQ(std::memcmp(r.data() + 16, q.data() + 16, 8), 0);  // reference: the request's
  for (int ts : {24, 32, 40}) EXPECT_EQ(std::memcmp(r.data() + ts, q.data() + 40, 8), 0) << ts;
  // A poll above the minimum is kept.
  q[2] = 10;
  Responder::write_kod(*reinterpret_cast<const wire::NtpHeader*>(q.data()), reinterpret_cast<wire::NtpHeader*>(r.data()), 3);
  EXPECT_EQ(r[2], 10);
}

TEST(Responder, LimitedWithoutKodDropsAndWithoutATableAnswers) {
  Responder resp;
  const auto req = test::ntp_request();
  const std::uint8_t client[4] = {198, 18, 0, 2};
  const hwclock::UtcTime rx(1'800'000'000LL * hwclock::kNsPerSec);
  std::array<std::uint8_t, 48> out{};
  auto ask = [&](std::uint8_t acl) {
    return resp.handle(NtpRequest{wire::Bytes(req), 40000, rx, client, 4, acl}, wire::MutableBytes(out), [&] { return rx; })
        .outcome;
  };
  EXPECT_EQ(ask(kActLimited), NtpOutcome::kAnsweredUnsync);  // no table: nothing to limit with
  auto t = ClientTable::create(64, 3);
  resp.set_clients(&*t);
  EXPECT_EQ(ask(kActLimited), NtpOutcome::kAnsweredUnsync);
  EXPECT_EQ(ask(kActLimited), NtpOutcome::kDropRateLimited);
  EXPECT_EQ(ask(kActIgnore), NtpOutcome::kDropRestrictIgnore);
  EXPECT_EQ(ask(kActNoserve), NtpOutcome::kDropRestrictNoserve);
}

}  // namespace
