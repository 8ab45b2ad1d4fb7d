#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "dataplane/responder.h"

using namespace linetime;
using namespace linetime::dataplane;
using hwclock::Duration;
using hwclock::NtpShort;
using hwclock::NtpTimestamp;
using hwclock::UtcTime;
using wire::NtpHeader;

namespace {

constexpr std::int64_t kS = hwclock::kNsPerSec;
const UtcTime kRef(1'800'000'000 * kS);           // reference time of the state
const UtcTime kRx = kRef + Duration::from_s(100);  // request received 100 s later
const UtcTime kTx = kRx + Duration::from_ns(1'234);

shm::ServerState synced_state() {
  shm::ServerState s;
  s.leap = 0;
  s.stratum = 2;
  s.precision = -24;
  s.min_poll = 4;
  s.max_poll = 10;
  s.synchronized = 1;
  s.reference_id = 0xC6120001;  // 198.18.0.1
  s.reference_time_ns = kRef.ticks();
  s.root_delay_ns = Duration::from_ms(2).ns();
  s.root_dispersion_ns = Duration::from_ms(1).ns();
  s.dispersion_rate = 15e-6;
  return s;
}

std::array<std::uint8_t, 48> client_request(unsigned version = 4, unsigned mode = 3, std::int8_t poll = 6) {
  std::array<std::uint8_t, 48> b{};
  auto* h = reinterpret_cast<NtpHeader*>(b.data());
  h->li_vn_mode = wire::ntp_li_vn_mode(0, version, mode);
  h->poll = poll;
  h->transmit_ts.set(0x1122'3344'5566'7788ULL);
  return b;
}

struct Answer {
  NtpResponse r;
  std::array<std::uint8_t, 64> out{};
  const NtpHeader& h() const { return *reinterpret_cast<const NtpHeader*>(out.data()); }
};

Answer answer(Responder& responder, wire::Bytes payload, std::uint16_t port = 40'000) {
  Answer a;
  a.r = responder.handle(NtpRequest{payload, port, kRx}, wire::MutableBytes(a.out), [] { return kTx; });
  return a;
}

}  // namespace

TEST(Responder, AnswersClientFieldByField) {
  Responder responder;
  responder.update(synced_state());
  const auto req = client_request();
  const Answer a = answer(responder, req);

  ASSERT_EQ(a.r.outcome, NtpOutcome::kAnswered);
  ASSERT_EQ(a.r.length, 48u);
  EXPECT_EQ(a.h().leap(), 0u);
  EXPECT_EQ(a.h().version(), 4u);
  EXPECT_EQ(a.h().mode(), 4u);
  EXPECT_EQ(a.h().stratum, 2);
  EXPECT_EQ(a.h().poll, 6);
  EXPECT_EQ(a.h().precision, -24);
  EXPECT_EQ(a.h().root_delay.get(), NtpShort::from_duration(Duration::from_ms(2)).raw());
  // 1 ms + 100 s * 15 ppm = 2.5 ms
  EXPECT_EQ(a.h().root_dispersion.get(), NtpShort::from_duration(Duration::from_us(2'500)).raw());
  EXPECT_EQ(a.h().reference_id.get(), 0xC6120001u);
  EXPECT_EQ(a.h().reference_ts.get(), NtpTimestamp::from_utc(kRef).raw());
  EXPECT_EQ(a.h().origin_ts.get(), 0x1122'3344'5566'7788ULL);
  EXPECT_EQ(a.h().receive_ts.get(), NtpTimestamp::from_utc(kRx).raw() | kRxFlag);
  EXPECT_EQ(a.h().transmit_ts.get(), NtpTimestamp::from_utc(kTx).raw() & ~kRxFlag);
}

TEST(Responder, EchoesVersionsOneToFour) {
  Responder responder;
  responder.update(synced_state());
  for (unsigned v = 1; v <= 4; ++v) {
    const auto req = client_request(v);
    const Answer a = answer(responder, req);
    ASSERT_EQ(a.r.outcome, NtpOutcome::kAnswered) << v;
    EXPECT_EQ(a.h().version(), v);
    EXPECT_EQ(a.h().mode(), 4u);
  }
}

TEST(Responder, ClampsPollToLimits) {
  Responder responder;
  responder.update(synced_state());
  EXPECT_EQ(answer(responder, client_request(4, 3, 0)).h().poll, 4);
  EXPECT_EQ(answer(responder, client_request(4, 3, 17)).h().poll, 10);
  EXPECT_EQ(answer(responder, client_request(4, 3, -3)).h().poll, 4);
}

TEST(Responder, UnsynchronizedSaysSo) {
  Responder responder;  // no state published: unsynchronized
  const auto req = client_request();
  Answer a = answer(responder, req);
  ASSERT_EQ(a.r.outcome, NtpOutcome::kAnsweredUnsync);
  EXPECT_EQ(a.h().leap(), 3u);
  EXPECT_EQ(a.h().stratum, 16);
  EXPECT_EQ(a.h().reference_ts.get(), 0u);
  EXPECT_EQ(a.h().reference_id.get(), 0u);
  EXPECT_EQ(a.h().root_dispersion.get(), NtpShort::from_duration(Duration::from_s(16)).raw());
  EXPECT_EQ(a.h().receive_ts.get(), NtpTimestamp::from_utc(kRx).raw() | kRxFlag);

  // A published state that says it is not synchronized is not served as good.
  auto s = synced_state();
  s.synchronized = 0;
  responder.update(s);
  a = answer(responder, req);
  EXPECT_EQ(a.r.outcome, NtpOutcome::kAnsweredUnsync);
  EXPECT_EQ(a.h().stratum, 16);
  EXPECT_EQ(a.h().reference_ts.get(), 0u);

  // Nor is one with the alarm leap bits, or stratum 16.
  s = synced_state();
  s.leap = 3;
  responder.update(s);
  EXPECT_EQ(answer(responder, req).h().stratum, 16);
  s = synced_state();
  s.stratum = 16;
  responder.update(s);
  EXPECT_EQ(answer(responder, req).h().leap(), 3u);
}

TEST(Responder, LeapIndicatorFromState) {
  Responder responder;
  auto s = synced_state();
  s.leap = 1;
  responder.update(s);
  EXPECT_EQ(answer(responder, client_request()).h().leap(), 1u);
}

TEST(Responder, DispersionNeverShrinksBeforeReference) {
  Responder responder;
  auto s = synced_state();
  s.reference_time_ns = (kRx + Duration::from_s(10)).ticks();  // clock stepped back since
  responder.update(s);
  EXPECT_EQ(answer(responder, client_request()).h().root_dispersion.get(),
            NtpShort::from_duration(Duration::from_ms(1)).raw());
}

TEST(Responder, DropsTable) {
  Responder responder;
  responder.update(synced_state());
  struct Case {
    const char* name;
    unsigned version, mode;
    std::size_t length;
    std::uint16_t port;
    NtpOutcome want;
  };
  const Case cases[] = {
      {"empty", 4, 3, 0, 1234, NtpOutcome::kDropTruncated},
      {"47 bytes", 4, 3, 47, 1234, NtpOutcome::kDropTruncated},
      {"version 0", 0, 3, 48, 1234, NtpOutcome::kDropBadVersion},
      {"version 5", 5, 3, 48, 1234, NtpOutcome::kDropBadVersion},
      {"version 7", 7, 3, 48, 1234, NtpOutcome::kDropBadVersion},
      {"mode 0", 4, 0, 48, 1234, NtpOutcome::kDropMode},
      {"mode 1", 4, 1, 48, 1234, NtpOutcome::kDropMode},
      {"mode 2", 4, 2, 48, 1234, NtpOutcome::kDropMode},
      {"mode 4", 4, 4, 48, 1234, NtpOutcome::kDropMode},
      {"mode 5", 4, 5, 48, 1234, NtpOutcome::kDropMode},
      {"mode 6", 2, 6, 48, 1234, NtpOutcome::kDropControl},
      {"mode 7", 2, 7, 48, 1234, NtpOutcome::kDropPrivate},
      {"port 0", 4, 3, 48, 0, NtpOutcome::kDropSourcePort0},
      {"bad tail", 4, 3, 50, 1234, NtpOutcome::kDropMalformed},
      {"v3 with extension", 3, 3, 48 + 28, 1234, NtpOutcome::kDropMalformed},
  };
  for (const Case& c : cases) {
    std::array<std::uint8_t, 128> b{};
    auto* h = reinterpret_cast<NtpHeader*>(b.data());
    h->li_vn_mode = wire::ntp_li_vn_mode(0, c.version, c.mode);
    if (c.length > 48) {  // a well-formed 28-octet extension field where one fits
      b[48] = 0x01;
      b[51] = 28;
      b[48 + 4] = 0xAA;
    }
    std::array<std::uint8_t, 128> out{};
    const auto r = responder.handle(NtpRequest{wire::Bytes(b.data(), c.length), c.port, kRx}, wire::MutableBytes(out),
                                    [] { return kTx; });
    EXPECT_EQ(r.outcome, c.want) << c.name;
    EXPECT_EQ(r.length, 0u) << c.name;
    EXPECT_EQ(out[0], 0) << c.name << ": nothing written on a drop";
  }
}

TEST(Responder, ExtensionFieldsIgnoredAnswerNeverLonger) {
  Responder responder;
  responder.update(synced_state());
  std::array<std::uint8_t, 48 + 28> req{};
  std::memcpy(req.data(), client_request().data(), 48);
  req[48] = 0x02;
  req[51] = 28;
  const Answer a = answer(responder, req);
  ASSERT_EQ(a.r.outcome, NtpOutcome::kAnswered);
  EXPECT_EQ(a.r.length, 48u);
}

TEST(Responder, AnswersInPlace) {
  Responder responder;
  responder.update(synced_state());
  auto buf = client_request();
  const auto r = responder.handle(NtpRequest{buf, 123, kRx}, wire::MutableBytes(buf), [] { return kTx; });
  ASSERT_EQ(r.outcome, NtpOutcome::kAnswered);
  const auto* h = reinterpret_cast<const NtpHeader*>(buf.data());
  EXPECT_EQ(h->origin_ts.get(), 0x1122'3344'5566'7788ULL);
  EXPECT_EQ(h->mode(), 4u);
  EXPECT_EQ(h->poll, 6);
}

TEST(Responder, OutputTooSmall) {
  Responder responder;
  responder.update(synced_state());
  const auto req = client_request();
  std::array<std::uint8_t, 40> out{};
  const auto r = responder.handle(NtpRequest{req, 123, kRx}, wire::MutableBytes(out), [] { return kTx; });
  EXPECT_EQ(r.outcome, NtpOutcome::kDropNoRoom);
}

TEST(Responder, TransmitClockReadOnceAndLast) {
  Responder responder;
  responder.update(synced_state());
  const auto req = client_request();
  std::array<std::uint8_t, 48> out{};
  int calls = 0;
  responder.handle(NtpRequest{req, 123, kRx}, wire::MutableBytes(out), [&] {
    ++calls;
    // Everything but the transmit timestamp is already written.
    EXPECT_EQ(reinterpret_cast<const NtpHeader*>(out.data())->receive_ts.get(), NtpTimestamp::from_utc(kRx).raw() | kRxFlag);
    return kTx;
  });
  EXPECT_EQ(calls, 1);
  // Dropped requests never read the clock.
  const auto bad = client_request(4, 7);
  responder.handle(NtpRequest{bad, 123, kRx}, wire::MutableBytes(out), [&] {
    ++calls;
    return kTx;
  });
  EXPECT_EQ(calls, 1);
}

// --- interleaved mode -------------------------------------------------------

namespace {

constexpr std::uint8_t kClientV4[4] = {198, 18, 0, 2};
constexpr std::uint8_t kOtherV4[4] = {198, 18, 0, 3};
constexpr std::uint8_t kClientV6[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

ClientTable small_table() {
  auto t = ClientTable::create(64, 42);
  EXPECT_TRUE(t) << t.error();
  return std::move(*t);
}

// A request as a client in interleaved mode sends it: origin = the server's
// last receive timestamp, receive = its own receive time of that answer.
std::array<std::uint8_t, 48> xleave_request(std::uint64_t origin, std::uint64_t receive, std::uint64_t transmit) {
  std::array<std::uint8_t, 48> b = client_request();
  auto* h = reinterpret_cast<NtpHeader*>(b.data());
  h->origin_ts.set(origin);
  h->receive_ts.set(receive);
  h->transmit_ts.set(transmit);
  return b;
}

struct Exchange {
  NtpResponse r;
  std::array<std::uint8_t, 48> out{};
  int clock_reads = 0;
  const NtpHeader& h() const { return *reinterpret_cast<const NtpHeader*>(out.data()); }
};

Exchange ask(Responder& responder, const std::array<std::uint8_t, 48>& req, UtcTime rx, UtcTime tx,
             const std::uint8_t* client = kClientV4, std::uint8_t client_length = 4) {
  Exchange e;
  e.r = responder.handle(NtpRequest{req, 40'000, rx, client, client_length}, wire::MutableBytes(e.out), [&] {
    ++e.clock_reads;
    return tx;
  });
  return e;
}

constexpr std::uint64_t kC1 = 0x1111'0000'0000'0010ULL;  // client transmit times
constexpr std::uint64_t kC2 = 0x1111'0001'0000'0020ULL;
constexpr std::uint64_t kC3 = 0x1111'0002'0000'0030ULL;
constexpr std::uint64_t kCr1 = 0x1111'0000'8000'0000ULL;  // client receive times of our answers
constexpr std::uint64_t kCr2 = 0x1111'0001'8000'0000ULL;

const UtcTime kRx2 = kRx + Duration::from_s(1);
const UtcTime kRx3 = kRx + Duration::from_s(2);
// The precise (post-send) transmit time of the second answer.
const std::uint64_t kPrecise2 = NtpTimestamp::from_utc(kRx2 + Duration::from_ns(25'000)).raw() & ~kRxFlag;

}  // namespace

TEST(ResponderInterleaved, ThreeRequestExchangeFieldByField) {
  ClientTable table = small_table();
  Responder responder;
  responder.update(synced_state());
  responder.set_clients(&table);

  // 1: a first request (origin zero) is basic and leaves nothing in the table.
  const Exchange a1 = ask(responder, xleave_request(0, 0, kC1), kRx, kTx);
  ASSERT_EQ(a1.r.outcome, NtpOutcome::kAnswered);
  EXPECT_FALSE(a1.r.interleaved());
  EXPECT_EQ(a1.r.tx_slot, ClientTable::kNoSlot);
  EXPECT_EQ(a1.h().origin_ts.get(), kC1);
  const std::uint64_t r1 = a1.h().receive_ts.get();
  EXPECT_EQ(r1, NtpTimestamp::from_utc(kRx).raw() | kRxFlag);
  EXPECT_EQ(a1.h().transmit_ts.get() & kRxFlag, 0u);
  EXPECT_EQ(table.find(ClientKey::from_ipv4(kClientV4)), nullptr);

  // 2: origin = our receive timestamp, but nothing saved for it: basic, and
  // the client's entry now waits for this answer's precise transmit time.
  const UtcTime tx2 = kRx2 + Duration::from_ns(900);
  const Exchange a2 = ask(responder, xleave_request(r1, kCr1, kC2), kRx2, tx2);
  ASSERT_EQ(a2.r.outcome, NtpOutcome::kAnswered);
  EXPECT_FALSE(a2.r.interleaved());
  ASSERT_NE(a2.r.tx_slot, ClientTable::kNoSlot);
  EXPECT_EQ(a2.h().origin_ts.get(), kC2);
  const std::uint64_t r2 = a2.h().receive_ts.get();
  EXPECT_EQ(r2, NtpTimestamp::from_utc(kRx2).raw() | kRxFlag);
  EXPECT_EQ(a2.h().transmit_ts.get(), NtpTimestamp::from_utc(tx2).raw() & ~kRxFlag);
  EXPECT_EQ(a2.clock_reads, 1);
  const ClientTimes* e = table.find(ClientKey::from_ipv4(kClientV4));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->rx, r2);
  EXPECT_EQ(e->tx, 0u);
  ASSERT_TRUE(table.complete(a2.r.tx_slot, r2, kPrecise2));  // what the worker does after tx_burst

  // 3: interleaved. Origin: the client's receive time of answer 2 (from the
  // request's receive field); receive: this request's; transmit: the
  // precise transmit time of answer 2. The clock is not read.
  const Exchange a3 = ask(responder, xleave_request(r2, kCr2, kC3), kRx3, kRx3 + Duration::from_ns(900));
  ASSERT_EQ(a3.r.outcome, NtpOutcome::kAnsweredInterleaved);
  EXPECT_TRUE(a3.r.interleaved());
  ASSERT_EQ(a3.r.length, 48u);
  EXPECT_EQ(a3.clock_reads, 0);
  EXPECT_EQ(a3.h().origin_ts.get(), kCr2);
  EXPECT_EQ(a3.h().receive_ts.get(), NtpTimestamp::from_utc(kRx3).raw() | kRxFlag);
  EXPECT_EQ(a3.h().transmit_ts.get(), kPrecise2);
  // The rest of the header is as in basic mode.
  EXPECT_EQ(a3.h().mode(), 4u);
  EXPECT_EQ(a3.h().version(), 4u);
  EXPECT_EQ(a3.h().leap(), 0u);
  EXPECT_EQ(a3.h().stratum, 2);
  EXPECT_EQ(a3.h().poll, 6);
  EXPECT_EQ(a3.h().precision, -24);
  EXPECT_EQ(a3.h().reference_id.get(), 0xC6120001u);
  EXPECT_EQ(a3.h().reference_ts.get(), NtpTimestamp::from_utc(kRef).raw());
  EXPECT_EQ(a3.h().root_delay.get(), NtpShort::from_duration(Duration::from_ms(2)).raw());
  // And answer 3's own precise transmit time is wanted for request 4.
  ASSERT_EQ(a3.r.slot(), a2.r.tx_slot);
  EXPECT_EQ(table.find(ClientKey::from_ipv4(kClientV4))->rx, a3.h().receive_ts.get());
  EXPECT_EQ(table.find(ClientKey::from_ipv4(kClientV4))->tx, 0u);
}

TEST(ResponderInterleaved, BasicWhenAnyConditionFails) {
  Responder responder;
  responder.update(synced_state());
  // Each case: a table in which the client's last answer (receive r2) has a
  // known precise transmit time, then one request that must be basic.
  struct Case {
    const char* name;
    bool attach_table;
    bool complete;
    bool same_receive_and_transmit;
    bool stale_origin;
    const std::uint8_t* asker;
    std::uint8_t asker_length;
  };
  const Case cases[] = {
      {"no table", false, true, false, false, kClientV4, 4},
      {"transmit time not known", true, false, false, false, kClientV4, 4},
      {"receive == transmit in the request", true, true, true, false, kClientV4, 4},
      {"origin is an older receive timestamp", true, true, false, true, kClientV4, 4},
      {"another client", true, true, false, false, kOtherV4, 4},
      {"no client address", true, true, false, false, nullptr, 0},
  };
  for (const Case& c : cases) {
    ClientTable table = small_table();
    responder.set_clients(&table);
    const std::uint64_t r1 = ask(responder, xleave_request(0, 0, kC1), kRx, kTx).h().receive_ts.get();
    const Exchange a2 = ask(responder, xleave_request(r1, kCr1, kC2), kRx2, kTx);
    const std::uint64_t r2 = a2.h().receive_ts.get();
    if (c.complete) {
      ASSERT_TRUE(table.complete(a2.r.tx_slot, r2, kPrecise2)) << c.name;
    }
    if (!c.attach_table) responder.set_clients(nullptr);

    const std::uint64_t origin = c.stale_origin ? r1 : r2;
    const std::uint64_t client_transmit = c.same_receive_and_transmit ? kCr2 : kC3;
    const UtcTime tx3 = kRx3 + Duration::from_ns(700);
    const Exchange a3 = ask(responder, xleave_request(origin, kCr2, client_transmit), kRx3, tx3, c.asker, c.asker_length);
    EXPECT_EQ(a3.r.outcome, NtpOutcome::kAnswered) << c.name;
    EXPECT_FALSE(a3.r.interleaved()) << c.name;
    EXPECT_EQ(a3.h().origin_ts.get(), client_transmit) << c.name;
    EXPECT_EQ(a3.h().receive_ts.get(), NtpTimestamp::from_utc(kRx3).raw() | kRxFlag) << c.name;
    EXPECT_EQ(a3.h().transmit_ts.get(), NtpTimestamp::from_utc(tx3).raw() & ~kRxFlag) << c.name;
    EXPECT_EQ(a3.clock_reads, 1) << c.name;
    responder.set_clients(nullptr);
  }
}

TEST(ResponderInterleaved, BasicClientsNeverTouchTheTable) {
  ClientTable table = small_table();
  Responder responder;
  responder.update(synced_state());
  responder.set_clients(&table);
  // A basic client echoes our transmit timestamp (flag clear) or sends zero.
  const Exchange a1 = ask(responder, xleave_request(0, 0, kC1), kRx, kTx);
  const Exchange a2 = ask(responder, xleave_request(a1.h().transmit_ts.get(), 0, kC2), kRx2, kTx);
  EXPECT_EQ(a2.r.tx_slot, ClientTable::kNoSlot);
  EXPECT_EQ(a2.h().origin_ts.get(), kC2);
  EXPECT_EQ(table.find(ClientKey::from_ipv4(kClientV4)), nullptr);
}

TEST(ResponderInterleaved, Ipv6ClientAndUnsynchronizedServer) {
  ClientTable table = small_table();
  Responder responder;  // unsynchronized: interleaved answers still go out, counted as unsync
  responder.set_clients(&table);
  const std::uint64_t r1 = ask(responder, xleave_request(0, 0, kC1), kRx, kTx, kClientV6, 16).h().receive_ts.get();
  const Exchange a2 = ask(responder, xleave_request(r1, kCr1, kC2), kRx2, kTx, kClientV6, 16);
  const std::uint64_t r2 = a2.h().receive_ts.get();
  ASSERT_TRUE(table.complete(a2.r.tx_slot, r2, kPrecise2));
  EXPECT_EQ(table.find(ClientKey::from_ipv4(kClientV4)), nullptr);
  const Exchange a3 = ask(responder, xleave_request(r2, kCr2, kC3), kRx3, kTx, kClientV6, 16);
  EXPECT_EQ(a3.r.outcome, NtpOutcome::kAnsweredUnsync);
  EXPECT_TRUE(a3.r.interleaved());
  EXPECT_EQ(a3.h().stratum, 16);
  EXPECT_EQ(a3.h().origin_ts.get(), kCr2);
  EXPECT_EQ(a3.h().transmit_ts.get(), kPrecise2);
}
