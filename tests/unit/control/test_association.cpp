// Tests of the upstream association: request fields, every packet test with its
// counter, iburst/burst timing, poll clamping and jitter bounds, the reach
// register, the unreachable back-off, kiss-o'-death, interleaved exchanges and
// clock steps, symmetric-key authentication. A fake server builds the replies
// field by field and signs them with its own copy of the key.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "control/association.h"
#include "control/config.h"
#include "dataplane/auth/keys.h"
#include "dataplane/auth/mac.h"
#include "dataplane/wire/ntp.h"

namespace linetime::control {
namespace {

namespace dsc = linetime::discipline;
using hwclock::NtpShort;
using hwclock::NtpTimestamp;

constexpr UtcTime kT0{1'709'251'200LL * hwclock::kNsPerSec};  // 2024-03-01T00:00:00Z

Duration ms(std::int64_t v) { return Duration::from_ms(v); }
Duration us(std::int64_t v) { return Duration::from_us(v); }
Duration sec(std::int64_t v) { return Duration::from_s(v); }

struct Request {
  unsigned leap, version, mode;
  int poll;
  NtpTimestamp org, rec, xmt;
};

Request decode(const Send& s) {
  const auto* h = wire::overlay<wire::NtpHeader>(wire::Bytes(s.packet.data(), s.length));
  return {h->leap(), h->version(), h->mode(), h->poll, wire::load_ts(h->origin_ts), wire::load_ts(h->receive_ts),
          wire::load_ts(h->transmit_ts)};
}

struct Reply {
  NtpTimestamp org, rec, xmt;
  std::uint8_t stratum = 1;
  unsigned leap = 0, version = 4, mode = 4;
  std::int8_t precision = -20;
  std::uint32_t refid = 0x47505300;  // "GPS"
  Duration root_delay{};
  Duration root_dispersion = us(100);
  std::size_t length = 48;

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> b(length, 0);
    auto* h = wire::overlay<wire::NtpHeader>(wire::MutableBytes(b));
    if (h == nullptr) return b;
    h->li_vn_mode = wire::ntp_li_vn_mode(leap, version, mode);
    h->stratum = stratum;
    h->poll = 6;
    h->precision = precision;
    wire::store_short(h->root_delay, NtpShort::from_duration(root_delay));
    wire::store_short(h->root_dispersion, NtpShort::from_duration(root_dispersion));
    h->reference_id.set(refid);
    wire::store_ts(h->origin_ts, org);
    wire::store_ts(h->receive_ts, rec);
    wire::store_ts(h->transmit_ts, xmt);
    return b;
  }
};

// A basic-mode answer to `req` received by the server at t2 and sent at t3
// (server clock).
Reply answer(const Request& req, UtcTime t2, UtcTime t3) {
  Reply r;
  r.org = req.xmt;
  r.rec = NtpTimestamp::from_utc(t2);
  r.xmt = NtpTimestamp::from_utc(t3);
  return r;
}

Actions deliver(Association& a, const Reply& r, UtcTime t4) {
  const auto b = r.bytes();
  return a.on_reply(wire::Bytes(b), t4, t4);
}

const Send& sent(const Actions& acts) {
  const Send* s = acts.find<Send>();
  EXPECT_NE(s, nullptr);
  static const Send none{};
  return s ? *s : none;
}

AssociationConfig plain() {
  AssociationConfig c;
  c.remote = "198.18.0.1";
  return c;
}

// One full basic exchange: send at `now`, the server (offset `off`, one-way 1
// ms) answers, the reply arrives 2 ms later. Returns the reply's actions.
Actions exchange(Association& a, UtcTime now, Duration off = Duration{}) {
  const Actions tx = a.on_timer(now);
  const Request req = decode(sent(tx));
  const UtcTime t2 = now + ms(1) + off;
  return deliver(a, answer(req, t2, t2 + us(10)), now + ms(2) + us(10));
}

TEST(AssociationTest, FirstTimerSendsClientRequest) {
  AssociationConfig c = plain();
  c.version = 3;
  Association a(c, 1);
  EXPECT_EQ(a.next_timer(), UtcTime(std::numeric_limits<std::int64_t>::min()));
  const Actions acts = a.on_timer(kT0);
  ASSERT_EQ(acts.size(), 1u);
  const Send& s = sent(acts);
  EXPECT_EQ(s.length, 48u);
  const Request r = decode(s);
  EXPECT_EQ(r.leap, 0u);
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.mode, 3u);
  EXPECT_EQ(r.poll, 6);
  EXPECT_TRUE(r.org.is_zero());
  EXPECT_TRUE(r.rec.is_zero());
  // The real T1 with its low 20 bits (244 us) random.
  const Duration d = hwclock::ntp_diff(r.xmt, NtpTimestamp::from_utc(kT0));
  EXPECT_LT(d, us(245));
  EXPECT_GT(d, -us(245));
  EXPECT_EQ(a.counters().sent, 1u);
  EXPECT_EQ(a.reach(), 0);
}

TEST(AssociationTest, BasicExchangeGivesMeasuredSample) {
  AssociationConfig c = plain();
  c.precision_log2 = -20;
  Association a(c, 2);
  const Actions tx = a.on_timer(kT0);
  const Request req = decode(sent(tx));
  // Server 5 ms ahead, 1 ms each way, 10 us in the server.
  const UtcTime t1 = kT0;
  const UtcTime t2 = kT0 + ms(1) + ms(5);
  const UtcTime t3 = t2 + us(10);
  const UtcTime t4 = kT0 + ms(2) + us(10);
  Reply r = answer(req, t2, t3);
  r.root_delay = ms(3);
  r.root_dispersion = ms(2);
  r.stratum = 2;
  r.leap = 1;
  r.refid = 0xC0A80001;
  const Actions acts = deliver(a, r, t4);
  const SampleReady* s = acts.find<SampleReady>();
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->interleaved);
  const Duration precision = Duration::from_seconds(2 * dsc::log2_seconds(-20));
  const dsc::Sample want = dsc::measure(t1, r.rec.to_utc(t4), r.xmt.to_utc(t4), t4, precision);
  EXPECT_EQ(s->sample.offset, want.offset);
  EXPECT_EQ(s->sample.delay, want.delay);
  EXPECT_EQ(s->sample.time, want.time);
  EXPECT_NEAR(s->sample.offset.seconds(), 5e-3, 1e-9);
  EXPECT_NEAR(s->sample.delay.seconds(), 2e-3, 1e-9);
  EXPECT_EQ(s->header.stratum, 2);
  EXPECT_EQ(s->header.leap, dsc::Leap::kInsert);
  EXPECT_EQ(s->header.precision_log2, -20);
  EXPECT_EQ(s->header.reference_id, 0xC0A80001u);
  EXPECT_NEAR(s->header.root_delay.seconds(), 3e-3, 2e-5);
  EXPECT_NEAR(s->header.root_dispersion.seconds(), 2e-3, 2e-5);
  EXPECT_EQ(a.reach(), 1);
  EXPECT_EQ(a.stratum(), 2);
  EXPECT_EQ(a.reference_id(), 0xC0A80001u);
  ASSERT_TRUE(a.last_reply_time().has_value());
  EXPECT_EQ(*a.last_reply_time(), t4);
  EXPECT_EQ(a.counters().samples, 1u);
  EXPECT_EQ(a.counters().valid, 1u);
  EXPECT_EQ(a.counters().received, 1u);
}

TEST(AssociationTest, IburstSendsEightRequestsTwoSecondsApart) {
  AssociationConfig c = plain();
  c.iburst = true;
  Association a(c, 3);
  UtcTime now = kT0;
  std::vector<UtcTime> sends;
  for (int i = 0; i < 8; ++i) {
    const Actions acts = a.on_timer(now);
    ASSERT_NE(acts.find<Send>(), nullptr) << i;
    sends.push_back(now);
    now = a.next_timer();
  }
  for (int i = 1; i < 8; ++i) EXPECT_EQ(sends[i] - sends[i - 1], sec(2)) << i;
  // Then the regular poll: 64 s +-1/32 after the first request of the burst.
  const Duration gap = a.next_timer() - sends[0];
  EXPECT_GE(gap, Duration::from_seconds(64 * (1 - 1.0 / 32)));
  EXPECT_LE(gap, Duration::from_seconds(64 * (1 + 1.0 / 32)));
  EXPECT_EQ(a.counters().sent, 8u);
  // A call before the timer is due does nothing.
  EXPECT_TRUE(a.on_timer(sends[7] + sec(1)).empty());
}

TEST(AssociationTest, IburstNotRepeatedWhileReachable) {
  AssociationConfig c = plain();
  c.iburst = true;
  Association a(c, 4);
  UtcTime now = kT0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_NE(exchange(a, now).find<SampleReady>(), nullptr);
    now = a.next_timer();
  }
  EXPECT_EQ(a.reach(), 0xFF);
  // Regular polls from now on: one request each.
  const UtcTime first = now;
  exchange(a, now);
  EXPECT_GE(a.next_timer() - first, sec(60));
}

TEST(AssociationTest, BurstWhenReachable) {
  AssociationConfig c = plain();
  c.burst = true;
  Association a(c, 5);
  // Unreachable: no burst, one request.
  exchange(a, kT0);
  EXPECT_GE(a.next_timer() - kT0, sec(60));
  // Reachable now: the next poll is a burst of 8, 2 s apart.
  UtcTime now = a.next_timer();
  const UtcTime start = now;
  for (int i = 0; i < 8; ++i) {
    ASSERT_NE(exchange(a, now).find<SampleReady>(), nullptr);
    if (i < 7) {
      EXPECT_EQ(a.next_timer() - now, sec(2)) << i;
    }
    now = a.next_timer();
  }
  EXPECT_GE(now - start, sec(60));
  EXPECT_EQ(a.counters().sent, 9u);
}

TEST(AssociationTest, SystemPollClampedToMinpollMaxpoll) {
  AssociationConfig c = plain();
  c.minpoll = 4;
  c.maxpoll = 8;
  Association a(c, 6);
  EXPECT_EQ(a.poll_log2(), 4);
  a.set_system_poll(2);
  EXPECT_EQ(a.poll_log2(), 4);
  a.set_system_poll(12);
  EXPECT_EQ(a.poll_log2(), 8);
  a.set_system_poll(6);
  EXPECT_EQ(a.poll_log2(), 6);
  exchange(a, kT0);
  const Duration at6 = a.next_timer() - kT0;
  EXPECT_GE(at6, Duration::from_seconds(64 * (1 - 1.0 / 32)));
  EXPECT_LE(at6, Duration::from_seconds(64 * (1 + 1.0 / 32)));
  // A new suggestion leaves the scheduled poll and sets the interval after it.
  a.set_system_poll(8);
  EXPECT_EQ(a.next_timer() - kT0, at6);
  a.set_system_poll(20);
  EXPECT_EQ(a.poll_log2(), 8);
  const UtcTime t = a.next_timer();
  EXPECT_EQ(decode(sent(a.on_timer(t))).poll, 8);
  EXPECT_GE(a.next_timer() - t, Duration::from_seconds(256 * (1 - 1.0 / 32)));
  EXPECT_LE(a.next_timer() - t, Duration::from_seconds(256 * (1 + 1.0 / 32)));
}

TEST(AssociationTest, PollJitterStaysWithinOneThirtySecondAndVaries) {
  Association a(plain(), 7);
  UtcTime now = kT0;
  Duration lo = sec(1000), hi{};
  for (int i = 0; i < 50; ++i) {
    exchange(a, now);
    const Duration gap = a.next_timer() - now;
    lo = std::min(lo, gap);
    hi = std::max(hi, gap);
    now = a.next_timer();
  }
  EXPECT_GE(lo, Duration::from_seconds(64 * (1 - 1.0 / 32)));
  EXPECT_LE(hi, Duration::from_seconds(64 * (1 + 1.0 / 32)));
  EXPECT_GT(hi - lo, sec(1));
}

TEST(AssociationTest, ReachRegisterShiftsPerRequest) {
  Association a(plain(), 8);
  UtcTime now = kT0;
  // reply, miss, reply, reply, miss
  const bool pattern[] = {true, false, true, true, false};
  const std::uint8_t want[] = {0b1, 0b10, 0b101, 0b1011, 0b10110};
  for (int i = 0; i < 5; ++i) {
    if (pattern[i]) {
      exchange(a, now);
    } else {
      a.on_timer(now);
    }
    EXPECT_EQ(a.reach(), want[i]) << i;
    now = a.next_timer();
  }
}

TEST(AssociationTest, UnreachableAfterEightMissesAndBackOffToMaxpoll) {
  AssociationConfig c = plain();
  c.minpoll = 6;
  c.maxpoll = 9;
  Association a(c, 9);
  UtcTime now = kT0;
  exchange(a, now);
  now = a.next_timer();
  int unreachable = 0;
  std::vector<int> polls;
  for (int i = 0; i < 12; ++i) {
    const Actions acts = a.on_timer(now);
    ASSERT_NE(acts.find<Send>(), nullptr);
    if (acts.find<Unreachable>() != nullptr) {
      ++unreachable;
      EXPECT_EQ(i, 7);  // the 8th unanswered request clears the register
    }
    polls.push_back(a.poll_log2());
    now = a.next_timer();
  }
  EXPECT_EQ(unreachable, 1);
  EXPECT_EQ(a.reach(), 0);
  // Back-off starts at the poll after 8 unanswered requests: 7, 8, 9, 9.
  const std::vector<int> want = {6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9};
  EXPECT_EQ(polls, want);
  // An answer ends the back-off.
  exchange(a, now);
  EXPECT_EQ(a.poll_log2(), 6);
  EXPECT_EQ(a.reach(), 1);
}

TEST(AssociationTest, IburstRepeatsWhenUnreachable) {
  AssociationConfig c = plain();
  c.iburst = true;
  c.minpoll = c.maxpoll = 6;
  Association a(c, 10);
  UtcTime now = kT0;
  for (int i = 0; i < 16; ++i) {
    a.on_timer(now);
    now = a.next_timer();
  }
  // Two bursts of 8: the second began at the second regular poll.
  EXPECT_EQ(a.counters().sent, 16u);
}

TEST(AssociationTest, KissRateRaisesPollEachTime) {
  AssociationConfig c = plain();
  c.minpoll = 4;
  c.maxpoll = 6;
  Association a(c, 11);
  auto kiss = [&](UtcTime now, std::uint32_t code) {
    const Request req = decode(sent(a.on_timer(now)));
    Reply r;
    r.org = req.xmt;
    r.leap = 3;
    r.stratum = 0;
    r.refid = code;
    return deliver(a, r, now + ms(2));
  };
  UtcTime now = kT0;
  Actions acts = kiss(now, kKissRate);
  ASSERT_NE(acts.find<KissOfDeath>(), nullptr);
  EXPECT_EQ(acts.find<KissOfDeath>()->code, kKissRate);
  EXPECT_EQ(acts.find<SampleReady>(), nullptr);
  EXPECT_EQ(a.poll_log2(), 5);  // at least minpoll + 1
  EXPECT_GE(a.next_timer() - now, sec(31));
  now = a.next_timer();
  kiss(now, kKissRate);
  EXPECT_EQ(a.poll_log2(), 6);
  now = a.next_timer();
  kiss(now, kKissRate);
  EXPECT_EQ(a.poll_log2(), 7);  // beyond maxpoll: the server asked for it
  EXPECT_EQ(a.counters().kod, 3u);
  EXPECT_EQ(a.reach(), 0);
  EXPECT_FALSE(a.demobilized());

  // A kiss that fails the origin test is bogus and changes nothing.
  now = a.next_timer();
  a.on_timer(now);
  Reply forged;
  forged.org = NtpTimestamp::from_raw(12345);
  forged.leap = 3;
  forged.stratum = 0;
  forged.refid = kKissDeny;
  EXPECT_TRUE(deliver(a, forged, now + ms(1)).empty());
  EXPECT_FALSE(a.demobilized());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kBogus), 1u);
}

TEST(AssociationTest, KissRateStopsIburst) {
  AssociationConfig c = plain();
  c.iburst = true;
  Association a(c, 12);
  const Request req = decode(sent(a.on_timer(kT0)));
  Reply r;
  r.org = req.xmt;
  r.leap = 3;
  r.stratum = 0;
  r.refid = kKissRate;
  deliver(a, r, kT0 + ms(1));
  EXPECT_GE(a.next_timer() - kT0, sec(120));
}

TEST(AssociationTest, KissDenyAndRstrDemobilize) {
  for (const std::uint32_t code : {kKissDeny, kKissRstr}) {
    Association a(plain(), 13);
    const Request req = decode(sent(a.on_timer(kT0)));
    Reply r;
    r.org = req.xmt;
    r.leap = 3;
    r.stratum = 0;
    r.refid = code;
    const Actions acts = deliver(a, r, kT0 + ms(1));
    ASSERT_NE(acts.find<Demobilize>(), nullptr);
    EXPECT_EQ(acts.find<Demobilize>()->reason,
              code == kKissDeny ? DemobilizeReason::kKissDeny : DemobilizeReason::kKissRstr);
    EXPECT_TRUE(a.demobilized());
    EXPECT_EQ(a.next_timer(), UtcTime(std::numeric_limits<std::int64_t>::max()));
    EXPECT_TRUE(a.on_timer(kT0 + sec(100000)).empty());
    EXPECT_EQ(a.counters().sent, 1u);
  }
  EXPECT_STREQ(to_string(DemobilizeReason::kKissDeny), "the server denied service (kiss code DENY)");
}

TEST(AssociationTest, UnknownKissCodeIsCountedOnly) {
  Association a(plain(), 14);
  const Request req = decode(sent(a.on_timer(kT0)));
  Reply r;
  r.org = req.xmt;
  r.leap = 3;
  r.stratum = 0;
  r.refid = 0x494E4954;  // "INIT"
  const Actions acts = deliver(a, r, kT0 + ms(1));
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_NE(acts.find<KissOfDeath>(), nullptr);
  EXPECT_EQ(a.poll_log2(), 6);
  EXPECT_FALSE(a.demobilized());
}

// Every packet test: the reply is dropped, counted under its reason, and
// gives no sample.
struct DropCase {
  const char* name;
  ReplyDrop why;
  bool valid;  // passes tests 1-3 (sets the reach bit)
  void (*edit)(Reply&, const Request&);
};

TEST(AssociationTest, PacketTestsDropAndCountByReason) {
  const DropCase cases[] = {
      {"short", ReplyDrop::kMalformed, false, [](Reply& r, const Request&) { r.length = 20; }},
      {"odd tail", ReplyDrop::kMalformed, false, [](Reply& r, const Request&) { r.length = 50; }},
      {"version 0", ReplyDrop::kBadVersion, false, [](Reply& r, const Request&) { r.version = 0; }},
      {"version 5", ReplyDrop::kBadVersion, false, [](Reply& r, const Request&) { r.version = 5; }},
      {"client mode", ReplyDrop::kBadMode, false, [](Reply& r, const Request&) { r.mode = 3; }},
      {"broadcast mode", ReplyDrop::kBadMode, false, [](Reply& r, const Request&) { r.mode = 5; }},
      {"origin mismatch", ReplyDrop::kBogus, false,
       [](Reply& r, const Request& q) { r.org = NtpTimestamp::from_raw(q.xmt.raw() + 1); }},
      {"origin zero", ReplyDrop::kBogus, false, [](Reply& r, const Request&) { r.org = {}; }},
      {"receive zero", ReplyDrop::kZeroTimestamp, false, [](Reply& r, const Request&) { r.rec = {}; }},
      {"transmit zero", ReplyDrop::kZeroTimestamp, false, [](Reply& r, const Request&) { r.xmt = {}; }},
      {"LI 3", ReplyDrop::kUnsync, true, [](Reply& r, const Request&) { r.leap = 3; }},
      {"stratum 16", ReplyDrop::kUnsync, true, [](Reply& r, const Request&) { r.stratum = 16; }},
      {"stratum 0 no kiss", ReplyDrop::kUnsync, true, [](Reply& r, const Request&) { r.stratum = 0; }},
      {"root dispersion 16 s", ReplyDrop::kRootDistance, true,
       [](Reply& r, const Request&) { r.root_dispersion = sec(16); }},
      {"root delay 40 s", ReplyDrop::kRootDistance, true, [](Reply& r, const Request&) { r.root_delay = sec(40); }},
      {"delay 4 s", ReplyDrop::kBadDelay, true,
       [](Reply& r, const Request&) { r.rec = NtpTimestamp::from_utc(r.rec.to_utc(kT0) - sec(4)); }},
      {"negative delay", ReplyDrop::kBadDelay, true,
       [](Reply& r, const Request&) { r.xmt = NtpTimestamp::from_utc(r.rec.to_utc(kT0) + ms(50)); }},
      {"server held 5 s", ReplyDrop::kBadDelay, true,
       [](Reply& r, const Request&) { r.xmt = NtpTimestamp::from_utc(r.rec.to_utc(kT0) + sec(5)); }},
  };
  for (const DropCase& dc : cases) {
    Association a(plain(), 15);
    const Request req = decode(sent(a.on_timer(kT0)));
    Reply r = answer(req, kT0 + ms(1), kT0 + ms(1) + us(10));
    dc.edit(r, req);
    const Actions acts = deliver(a, r, kT0 + ms(2));
    EXPECT_TRUE(acts.empty()) << dc.name;
    EXPECT_EQ(a.counters().drops(dc.why), 1u) << dc.name;
    EXPECT_EQ(a.counters().samples, 0u) << dc.name;
    EXPECT_EQ(a.counters().valid, dc.valid ? 1u : 0u) << dc.name;
    EXPECT_EQ(a.reach(), dc.valid ? 1 : 0) << dc.name;
  }
}

TEST(AssociationTest, DuplicateAndSecondAnswerAreDropped) {
  Association a(plain(), 16);
  const Request req = decode(sent(a.on_timer(kT0)));
  const Reply r = answer(req, kT0 + ms(1), kT0 + ms(1) + us(10));
  EXPECT_NE(deliver(a, r, kT0 + ms(2)).find<SampleReady>(), nullptr);
  // The same packet again (test 1).
  EXPECT_TRUE(deliver(a, r, kT0 + ms(3)).empty());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kDuplicate), 1u);
  // Another answer to the request already answered (test 2).
  Reply again = r;
  again.xmt = NtpTimestamp::from_raw(r.xmt.raw() + 1000);
  EXPECT_TRUE(deliver(a, again, kT0 + ms(3)).empty());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kBogus), 1u);
  // The duplicate of the previous reply after the next request (test 1 first).
  a.on_timer(a.next_timer());
  EXPECT_TRUE(deliver(a, r, a.next_timer()).empty());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kDuplicate), 2u);
  EXPECT_EQ(a.counters().samples, 1u);
  EXPECT_STREQ(to_string(ReplyDrop::kDuplicate), "duplicate");
}

TEST(AssociationTest, ReplyToEarlierRequestIsBogus) {
  Association a(plain(), 17);
  const Request first = decode(sent(a.on_timer(kT0)));
  const Request second = decode(sent(a.on_timer(a.next_timer())));
  EXPECT_NE(first.xmt, second.xmt);
  EXPECT_TRUE(deliver(a, answer(first, kT0 + ms(1), kT0 + ms(2)), kT0 + sec(65)).empty());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kBogus), 1u);
  // A reply before any request is bogus too.
  Association b(plain(), 18);
  EXPECT_TRUE(deliver(b, answer(first, kT0, kT0), kT0).empty());
  EXPECT_EQ(b.counters().drops(ReplyDrop::kBogus), 1u);
}

TEST(AssociationTest, PreciseTransmitTimeIsT1) {
  Association a(plain(), 19);
  const Request req = decode(sent(a.on_timer(kT0)));
  a.on_transmitted(kT0 + us(30));
  const UtcTime t2 = kT0 + ms(1), t3 = t2 + us(10), t4 = kT0 + ms(2);
  const Actions acts = deliver(a, answer(req, t2, t3), t4);
  ASSERT_NE(acts.find<SampleReady>(), nullptr);
  EXPECT_EQ(acts.find<SampleReady>()->sample.time, kT0 + us(30) + (t4 - (kT0 + us(30))) / 2);
  // A stamp more than a second away is not ours.
  const UtcTime now = a.next_timer();
  const Request req2 = decode(sent(a.on_timer(now)));
  a.on_transmitted(now + sec(2));
  const Actions acts2 = deliver(a, answer(req2, now + ms(1), now + ms(1)), now + ms(2));
  ASSERT_NE(acts2.find<SampleReady>(), nullptr);
  EXPECT_EQ(acts2.find<SampleReady>()->sample.time, now + ms(1));
}

// A server in interleaved mode: remembers the receive timestamp it sent last
// and the precise transmit time of that reply.
struct InterleavedServer {
  NtpTimestamp last_rx_sent;
  NtpTimestamp last_tx_precise;
  bool supports = true;

  Reply answer_request(const Request& q, UtcTime t2, UtcTime t3_written, UtcTime t3_precise) {
    Reply r;
    const bool inter = supports && !q.org.is_zero() && q.org == last_rx_sent && q.rec != q.xmt;
    r.org = inter ? q.rec : q.xmt;
    r.rec = NtpTimestamp::from_utc(t2);
    r.xmt = inter ? last_tx_precise : NtpTimestamp::from_utc(t3_written);
    last_rx_sent = r.rec;
    last_tx_precise = NtpTimestamp::from_utc(t3_precise);
    return r;
  }
};

TEST(AssociationTest, InterleavedExchangeUsesPreviousPreciseTimestamps) {
  AssociationConfig c = plain();
  c.xleave = true;
  c.minpoll = c.maxpoll = 4;
  Association a(c, 20);
  InterleavedServer srv;
  const Duration offset = us(700);  // server ahead

  struct Ex {
    UtcTime t1_sw, t1_hw, t2, t3_written, t3_precise, t4;
  };
  std::vector<Ex> ex;
  UtcTime now = kT0;
  for (int i = 0; i < 4; ++i) {
    Ex e;
    e.t1_sw = now;
    const Actions tx = a.on_timer(now);
    const Request q = decode(sent(tx));
    if (i == 0) {
      EXPECT_TRUE(q.org.is_zero());
      EXPECT_TRUE(q.rec.is_zero());
    } else {
      // Origin: the server's receive timestamp of the last reply; receive: our
      // arrival time of it (low bits random); transmit differs from both.
      EXPECT_EQ(q.org, NtpTimestamp::from_utc(ex.back().t2));
      const Duration d = hwclock::ntp_diff(q.rec, NtpTimestamp::from_utc(ex.back().t4));
      EXPECT_LT(d, us(245));
      EXPECT_GT(d, -us(245));
      EXPECT_NE(q.rec, q.xmt);
    }
    e.t1_hw = now + us(5);  // the transport's stamp, 5 us after the software one
    a.on_transmitted(e.t1_hw);
    e.t2 = e.t1_hw + us(100) + offset;
    e.t3_written = e.t2 + us(10);
    e.t3_precise = e.t2 + us(17);  // left the server 7 us after it wrote T3
    e.t4 = e.t1_hw + us(100) + us(17) + us(100);
    const Reply r = srv.answer_request(q, e.t2, e.t3_written, e.t3_precise);
    ex.push_back(e);
    const Actions acts = deliver(a, r, e.t4);
    const SampleReady* s = acts.find<SampleReady>();
    ASSERT_NE(s, nullptr) << i;
    const Duration precision = Duration::from_seconds(2 * dsc::log2_seconds(-20));
    if (i == 0) {
      EXPECT_FALSE(s->interleaved);
      const dsc::Sample want = dsc::measure(e.t1_hw, e.t2, e.t3_written, e.t4, precision);
      EXPECT_EQ(s->sample.offset, want.offset);
    } else {
      // The previous exchange, completed by its precise server transmit time.
      EXPECT_TRUE(s->interleaved) << i;
      const Ex& p = ex[ex.size() - 2];
      const dsc::Sample want = dsc::measure(p.t1_hw, p.t2, p.t3_precise, p.t4, precision);
      EXPECT_EQ(s->sample.offset, want.offset) << i;
      EXPECT_EQ(s->sample.delay, want.delay) << i;
      EXPECT_EQ(s->sample.time, want.time) << i;
      // Symmetric 100 us paths: the precise pair measures the offset exactly
      // (to the 1 ns rounding of NTP timestamps).
      EXPECT_NEAR(s->sample.offset.seconds(), offset.seconds(), 2e-9) << i;
      EXPECT_NEAR(s->sample.delay.seconds(), 200e-6, 2e-9) << i;
    }
    now = a.next_timer();
  }
  EXPECT_TRUE(a.interleaved());
  EXPECT_EQ(a.counters().interleaved, 3u);
  EXPECT_EQ(a.counters().samples, 4u);
}

TEST(AssociationTest, InterleavedRequestAnsweredInBasicMode) {
  AssociationConfig c = plain();
  c.xleave = true;
  Association a(c, 21);
  InterleavedServer srv;
  srv.supports = false;
  UtcTime now = kT0;
  for (int i = 0; i < 3; ++i) {
    const Request q = decode(sent(a.on_timer(now)));
    if (i > 0) {
      EXPECT_FALSE(q.org.is_zero());
    }
    const UtcTime t2 = now + ms(1);
    const Actions acts = deliver(a, srv.answer_request(q, t2, t2 + us(10), t2 + us(20)), now + ms(2) + us(10));
    const SampleReady* s = acts.find<SampleReady>();
    ASSERT_NE(s, nullptr);
    EXPECT_FALSE(s->interleaved);
    EXPECT_NEAR(s->sample.offset.seconds(), 0, 1e-8);
    now = a.next_timer();
  }
  EXPECT_EQ(a.counters().interleaved, 0u);
}

TEST(AssociationTest, InterleavedRequestsStopAfterFourMisses) {
  AssociationConfig c = plain();
  c.xleave = true;
  Association a(c, 22);
  UtcTime now = kT0;
  exchange(a, now);
  now = a.next_timer();
  std::vector<bool> interleaved;
  for (int i = 0; i < 6; ++i) {
    interleaved.push_back(!decode(sent(a.on_timer(now))).org.is_zero());
    now = a.next_timer();
  }
  const std::vector<bool> want = {true, true, true, true, false, false};
  EXPECT_EQ(interleaved, want);
}

TEST(AssociationTest, InterleavedReplyWithoutXleaveIsBogus) {
  Association a(plain(), 23);
  const Request q = decode(sent(a.on_timer(kT0)));
  Reply r = answer(q, kT0 + ms(1), kT0 + ms(1));
  r.org = NtpTimestamp::from_raw(q.xmt.raw() ^ 0xFFFF);
  EXPECT_TRUE(deliver(a, r, kT0 + ms(2)).empty());
  EXPECT_EQ(a.counters().drops(ReplyDrop::kBogus), 1u);
}

TEST(AssociationTest, ClockStepMovesStoredTimes) {
  Association a(plain(), 24);
  const Request q = decode(sent(a.on_timer(kT0)));
  const UtcTime before = a.next_timer();
  // The clock is stepped back 10 s while the request is in flight.
  a.on_clock_step(-sec(10));
  EXPECT_EQ(a.next_timer(), before - sec(10));
  const UtcTime t2 = kT0 + ms(1);
  // T4 is read on the stepped clock: the measurement sees the 10 s step as
  // the server being ahead, T1 moved with the clock.
  const Actions acts = deliver(a, answer(q, t2, t2), kT0 - sec(10) + ms(2));
  ASSERT_NE(acts.find<SampleReady>(), nullptr);
  EXPECT_NEAR(acts.find<SampleReady>()->sample.offset.seconds(), 10.0, 1e-8);
  EXPECT_NEAR(acts.find<SampleReady>()->sample.delay.seconds(), 2e-3, 1e-8);
}

TEST(AssociationTest, FrequencyChangeReexpressesPreviousExchange) {
  AssociationConfig c = plain();
  c.xleave = true;
  c.minpoll = c.maxpoll = 4;
  Association a(c, 26);
  InterleavedServer srv;
  // Exchange 1 (basic), zero offset, 100 us each way.
  const Request q1 = decode(sent(a.on_timer(kT0)));
  deliver(a, srv.answer_request(q1, kT0 + us(100), kT0 + us(99), kT0 + us(100)), kT0 + us(200));
  // 10 s later the clock was made to run 100 ppm faster: had it run so since
  // the first exchange, it would have read 1 ms less then.
  a.on_frequency_change(kT0 + sec(10), 100e-6);
  const UtcTime now = a.next_timer();
  const Request q2 = decode(sent(a.on_timer(now)));
  const Actions acts = deliver(a, srv.answer_request(q2, now + us(100), now + us(100), now + us(100)), now + us(200));
  const SampleReady* s = acts.find<SampleReady>();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->interleaved);
  EXPECT_NEAR(s->sample.offset.seconds(), 100e-6 * (10 - 100e-6), 2e-9);
  // The faster clock reads the 200 us round trip 100 ppm longer.
  EXPECT_NEAR(s->sample.delay.seconds(), 200e-6 * (1 + 100e-6), 2e-9);
}

TEST(AssociationTest, ConfigFromServerLine) {
  ParseResult pr = parse_config("server 198.18.0.7 iburst burst prefer minpoll 4 maxpoll 8 version 3 xleave\n", "t.conf", {});
  ASSERT_FALSE(pr.has_errors()) << format_diagnostics(pr.diagnostics);
  ASSERT_EQ(pr.config.sources.size(), 1u);
  const AssociationConfig c = association_config(pr.config.sources[0]);
  EXPECT_EQ(c.remote, "198.18.0.7");
  EXPECT_TRUE(c.iburst);
  EXPECT_TRUE(c.burst);
  EXPECT_TRUE(c.prefer);
  EXPECT_FALSE(c.noselect);
  EXPECT_EQ(c.minpoll, 4);
  EXPECT_EQ(c.maxpoll, 8);
  EXPECT_EQ(c.version, 3);
  EXPECT_TRUE(c.xleave);
  Association a(c, 25);
  EXPECT_EQ(a.poll_log2(), 4);
}

// --- Symmetric-key authentication (`key N`).

auth::Key key_of(std::uint32_t id, auth::Algorithm alg, const std::string& secret) {
  auth::Key k;
  k.id = id;
  k.algorithm = alg;
  k.secret.assign(secret.begin(), secret.end());
  if (const std::size_t n = auth::cmac_key_length(alg)) k.secret.resize(n, 0);
  return k;
}

const auth::Key kMd5Key = key_of(1, auth::Algorithm::kMd5, "linetime-md5");
const auth::Key kAesKey = key_of(7, auth::Algorithm::kAes128Cmac, "0123456789abcdef");
const auth::Key kSha1Key = key_of(3, auth::Algorithm::kSha1, "sha1-secret");

AssociationConfig keyed(const auth::Key& k) {
  AssociationConfig c = plain();
  c.key = k.id;
  c.mac = std::make_shared<const auth::Mac>(k);
  return c;
}

// The reply's bytes with a MAC made by `signer` (the server's copy of a key).
std::vector<std::uint8_t> signed_bytes(const Reply& r, const auth::Mac& signer) {
  std::vector<std::uint8_t> b = r.bytes();
  b.resize(b.size() + auth::kMacKeyIdLength + auth::kMaxMacDigest);
  b.resize(auth::sign(signer, b.data(), r.length));
  return b;
}

Actions deliver_bytes(Association& a, const std::vector<std::uint8_t>& b, UtcTime t4) {
  return a.on_reply(wire::Bytes(b), t4, t4);
}

TEST(AssociationAuthTest, RequestsCarryAMacThatVerifiesWithTheKey) {
  struct Case {
    const auth::Key* key;
    std::size_t length;
  };
  for (const Case c : {Case{&kMd5Key, 68u}, Case{&kAesKey, 68u}, Case{&kSha1Key, 72u}}) {
    Association a(keyed(*c.key), 40);
    EXPECT_EQ(a.auth(), AuthState::kPending);
    for (int i = 0; i < 2; ++i) {
      const Actions acts = a.on_timer(i == 0 ? kT0 : a.next_timer());
      const Send& s = sent(acts);
      ASSERT_EQ(s.length, c.length) << auth::to_string(c.key->algorithm);
      const auto p = wire::parse_ntp(wire::Bytes(s.packet.data(), s.length));
      ASSERT_TRUE(p.has_value());
      ASSERT_TRUE(p->has_mac);
      EXPECT_EQ(p->mac.key_id, c.key->id);
      EXPECT_EQ(p->authenticated.size(), 48u);
      // The server's own copy of the key verifies it; another secret does not.
      const auth::Mac server(*c.key);
      EXPECT_TRUE(server.verify(p->authenticated.data(), p->authenticated.size(), p->mac.digest.data(),
                                p->mac.digest.size()));
      auth::Key other = *c.key;
      other.secret[0] ^= 1;
      EXPECT_FALSE(auth::Mac(other).verify(p->authenticated.data(), p->authenticated.size(), p->mac.digest.data(),
                                           p->mac.digest.size()));
      // The header is the one an unauthenticated request has.
      EXPECT_EQ(decode(s).mode, 3u);
      EXPECT_EQ(decode(s).version, 4u);
    }
  }
}

TEST(AssociationAuthTest, SignedReplyGivesASample) {
  for (const auth::Key* k : {&kMd5Key, &kAesKey, &kSha1Key}) {
    Association a(keyed(*k), 41);
    const Request req = decode(sent(a.on_timer(kT0)));
    const auth::Mac server(*k);
    const Actions acts =
        deliver_bytes(a, signed_bytes(answer(req, kT0 + ms(1), kT0 + ms(1) + us(10)), server), kT0 + ms(2));
    const SampleReady* s = acts.find<SampleReady>();
    ASSERT_NE(s, nullptr) << auth::to_string(k->algorithm);
    EXPECT_NEAR(s->sample.offset.seconds(), 5e-6, 1e-9);  // ((T2 - T1) + (T3 - T4)) / 2
    EXPECT_EQ(a.reach(), 1);
    EXPECT_EQ(a.counters().valid, 1u);
    EXPECT_EQ(a.auth(), AuthState::kOk);
  }
}

TEST(AssociationAuthTest, RepliesFailingAuthenticationAreDroppedAndLeaveReach) {
  const auth::Mac server(kMd5Key);
  const auth::Mac stranger(key_of(2, auth::Algorithm::kMd5, "linetime-md5"));  // another key id
  const auth::Mac impostor(key_of(1, auth::Algorithm::kMd5, "not-the-secret"));  // our id, wrong secret
  struct Case {
    const char* name;
    ReplyDrop why;
    std::vector<std::uint8_t> (*make)(const Reply&, const auth::Mac&, const auth::Mac&, const auth::Mac&);
  };
  const Case cases[] = {
      {"unsigned", ReplyDrop::kUnauthenticated,
       [](const Reply& r, const auth::Mac&, const auth::Mac&, const auth::Mac&) { return r.bytes(); }},
      {"another key", ReplyDrop::kUnauthenticated,
       [](const Reply& r, const auth::Mac&, const auth::Mac& other, const auth::Mac&) { return signed_bytes(r, other); }},
      {"crypto-NAK", ReplyDrop::kCryptoNak,
       [](const Reply& r, const auth::Mac&, const auth::Mac&, const auth::Mac&) {
         std::vector<std::uint8_t> b = r.bytes();
         b.resize(b.size() + auth::kMacKeyIdLength);
         b.resize(auth::append_crypto_nak(b.data(), r.length));
         return b;
       }},
      {"tampered header", ReplyDrop::kBadMac,
       [](const Reply& r, const auth::Mac& good, const auth::Mac&, const auth::Mac&) {
         std::vector<std::uint8_t> b = signed_bytes(r, good);
         b[47] ^= 0x01;  // the transmit timestamp's last octet
         return b;
       }},
      {"tampered digest", ReplyDrop::kBadMac,
       [](const Reply& r, const auth::Mac& good, const auth::Mac&, const auth::Mac&) {
         std::vector<std::uint8_t> b = signed_bytes(r, good);
         b.back() ^= 0x80;
         return b;
       }},
      {"wrong secret", ReplyDrop::kBadMac,
       [](const Reply& r, const auth::Mac&, const auth::Mac&, const auth::Mac& bad) { return signed_bytes(r, bad); }},
  };
  for (const Case& c : cases) {
    Association a(keyed(kMd5Key), 42);
    const Request req = decode(sent(a.on_timer(kT0)));
    const Reply r = answer(req, kT0 + ms(1), kT0 + ms(1) + us(10));
    EXPECT_TRUE(deliver_bytes(a, c.make(r, server, stranger, impostor), kT0 + ms(2)).empty()) << c.name;
    EXPECT_EQ(a.counters().drops(c.why), 1u) << c.name;
    EXPECT_EQ(a.counters().received, 1u) << c.name;
    EXPECT_EQ(a.counters().valid, 0u) << c.name;
    EXPECT_EQ(a.counters().samples, 0u) << c.name;
    EXPECT_EQ(a.reach(), 0) << c.name;
    EXPECT_FALSE(a.last_reply_time().has_value()) << c.name;
    EXPECT_EQ(a.auth(), AuthState::kBad) << c.name;
    // The forgery did not use up the request: the genuine reply still counts.
    EXPECT_NE(deliver_bytes(a, signed_bytes(r, server), kT0 + ms(3)).find<SampleReady>(), nullptr) << c.name;
    EXPECT_EQ(a.reach(), 1) << c.name;
    EXPECT_EQ(a.auth(), AuthState::kOk) << c.name;
  }
  EXPECT_STREQ(to_string(ReplyDrop::kUnauthenticated), "unauthenticated");
  EXPECT_STREQ(to_string(ReplyDrop::kCryptoNak), "crypto-nak");
  EXPECT_STREQ(to_string(ReplyDrop::kBadMac), "bad-mac");
  EXPECT_STREQ(to_string(AuthState::kOk), "ok");
  EXPECT_STREQ(to_string(AuthState::kBad), "bad");
  EXPECT_STREQ(to_string(AuthState::kNone), "none");
}

TEST(AssociationAuthTest, UnauthenticatedKissCannotDemobilize) {
  Association a(keyed(kAesKey), 43);
  const Request req = decode(sent(a.on_timer(kT0)));
  Reply r;
  r.org = req.xmt;
  r.rec = r.xmt = req.xmt;
  r.leap = 3;
  r.stratum = 0;
  r.refid = kKissDeny;
  EXPECT_TRUE(deliver(a, r, kT0 + ms(1)).empty());
  EXPECT_FALSE(a.demobilized());
  EXPECT_EQ(a.counters().kod, 0u);
  EXPECT_EQ(a.counters().drops(ReplyDrop::kUnauthenticated), 1u);
  // Signed with the key, the same kiss counts.
  const Actions acts = deliver_bytes(a, signed_bytes(r, auth::Mac(kAesKey)), kT0 + ms(2));
  EXPECT_NE(acts.find<Demobilize>(), nullptr);
  EXPECT_TRUE(a.demobilized());
}

TEST(AssociationAuthTest, WithoutKeyNothingChanges) {
  Association a(plain(), 44);
  EXPECT_EQ(a.auth(), AuthState::kNone);
  const Actions first = a.on_timer(kT0);
  const Send& s = sent(first);
  EXPECT_EQ(s.length, 48u);
  const Request req = decode(s);
  // A server that signs anyway (or a crypto-NAK) is still an answer.
  const Reply r = answer(req, kT0 + ms(1), kT0 + ms(1) + us(10));
  EXPECT_NE(deliver_bytes(a, signed_bytes(r, auth::Mac(kMd5Key)), kT0 + ms(2)).find<SampleReady>(), nullptr);
  EXPECT_EQ(a.reach(), 1);
  EXPECT_EQ(a.auth(), AuthState::kNone);
  const UtcTime t = a.next_timer();
  const Request req2 = decode(sent(a.on_timer(t)));
  std::vector<std::uint8_t> nak = answer(req2, t + ms(1), t + ms(1)).bytes();
  nak.resize(52);
  EXPECT_NE(deliver_bytes(a, nak, t + ms(2)).find<SampleReady>(), nullptr);
  EXPECT_EQ(a.counters().samples, 2u);
}

TEST(AssociationAuthTest, KeyWithoutMacNeverSends) {
  AssociationConfig c = plain();
  c.key = 5;
  Association a(c, 45);
  EXPECT_EQ(a.auth(), AuthState::kNoKey);
  EXPECT_TRUE(a.on_timer(kT0).empty());
  EXPECT_EQ(a.counters().sent, 0u);
  // A MAC of another id than `key` is no better.
  c.mac = std::make_shared<const auth::Mac>(kMd5Key);
  Association b(c, 46);
  EXPECT_TRUE(b.on_timer(kT0).empty());
  EXPECT_EQ(b.auth(), AuthState::kNoKey);
}

TEST(AssociationAuthTest, ConfigFromServerLineTakesTheTrustedKey) {
  const FileLoader files = [](const std::string& path) {
    if (path == "/k") return FileLoad{"1 MD5 linetime-md5\n2 AES 000102030405060708090a0b0c0d0e0f\n", "", ""};
    return FileLoad{std::nullopt, "No such file or directory", ""};
  };
  ParseResult pr = parse_config(
      "keys /k\ntrustedkey 1\nserver 198.18.0.7 key 1\nserver 198.18.0.8 key 2\nserver 198.18.0.9\n", "t.conf", files);
  // The untrusted key 2 is the configuration's one error (the daemon would
  // not start); the parsed lines still show what an association makes of it.
  ASSERT_EQ(pr.count(Severity::kError), 1u) << format_diagnostics(pr.diagnostics);
  ASSERT_NE(format_diagnostics(pr.diagnostics).find("add 'trustedkey 2'"), std::string::npos);
  ASSERT_EQ(pr.config.sources.size(), 3u);
  const auto table = std::make_shared<const auth::KeyTable>(pr.config.keys, pr.config.trusted_keys);
  const AssociationConfig one = association_config(pr.config.sources[0], table);
  ASSERT_NE(one.mac, nullptr);
  EXPECT_EQ(one.mac->id(), 1u);
  EXPECT_EQ(one.mac->algorithm(), auth::Algorithm::kMd5);
  // Requests signed with it verify with the key as written.
  Association a(one, 47);
  const Actions first = a.on_timer(kT0);
  const Send& s = sent(first);
  ASSERT_EQ(s.length, 68u);
  EXPECT_TRUE(auth::Mac(kMd5Key).verify(s.packet.data(), 48, s.packet.data() + 52, 16));
  // Key 2 is not trusted: no MAC, and the association stays silent.
  const AssociationConfig two = association_config(pr.config.sources[1], table);
  EXPECT_EQ(two.key, 2u);
  EXPECT_EQ(two.mac, nullptr);
  const AssociationConfig none = association_config(pr.config.sources[2], table);
  EXPECT_FALSE(none.key.has_value());
  EXPECT_EQ(none.mac, nullptr);
}

}  // namespace
}  // namespace linetime::control
