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
  EXPECT_EQ(a.h().receive_ts.get(), NtpTimestamp::from_utc(kRx).raw());
  EXPECT_EQ(a.h().transmit_ts.get(), NtpTimestamp::from_utc(kTx).raw());
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
  EXPECT_EQ(a.h().receive_ts.get(), NtpTimestamp::from_utc(kRx).raw());

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
      {"md5 mac", 4, 3, 48 + 20, 1234, NtpOutcome::kDropAuthenticated},
      {"sha1 mac", 4, 3, 48 + 24, 1234, NtpOutcome::kDropAuthenticated},
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
    EXPECT_EQ(reinterpret_cast<const NtpHeader*>(out.data())->receive_ts.get(), NtpTimestamp::from_utc(kRx).raw());
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
