// The cost of symmetric-key authentication per 48-octet NTP packet, for the
// three key types in use: MD5 (16-octet digest), SHA1 (cut to 20 octets) and
// AES-128-CMAC.
//   BM_MacSign / BM_MacVerify: auth::sign (key id and digest appended) and
//     Mac::verify of one request, keys prepared once as the dataplane does.
//   BM_ResponderAuth: the pure responder answering a burst of 32 requests in
//     place, as bench_responder's BM_ResponderBurst does: argument 0 plain
//     requests, 1..3 requests signed with the MD5, SHA1, AES-CMAC key (verify,
//     answer, sign the answer), so the difference to 0 is what authentication
//     adds per request. The refill of the burst is the same copy either way
//     (68 or 72 octets instead of 48).
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "dataplane/auth/keys.h"
#include "dataplane/auth/mac.h"
#include "dataplane/responder.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

constexpr std::size_t kBurst = 32;
constexpr std::size_t kMaxPacket = 48 + auth::kMacKeyIdLength + auth::kMaxMacDigest;

// Key 1, 2, 3: the benchmarks' argument picks one.
const auth::KeysFile& keys() {
  static const auth::KeysFile k = auth::parse_keys(
      "1 MD5 md5secret\n"
      "2 SHA1 0123456789abcdef0123456789abcdef01234567\n"
      "3 AES 00112233445566778899aabbccddeeff\n");
  return k;
}

const auth::KeyTable& table() {
  static const auth::KeyTable t(keys().keys, {1, 2, 3});
  return t;
}

const auth::Mac& mac_of(benchmark::State& st) {
  const auth::Mac& m = *table().find(static_cast<std::uint32_t>(st.range(0)));
  st.SetLabel(auth::to_string(m.algorithm()));
  return m;
}

std::array<std::uint8_t, kMaxPacket> request() {
  std::array<std::uint8_t, kMaxPacket> b{};
  b[0] = wire::ntp_li_vn_mode(0, 4, 3);
  b[2] = 6;
  for (int i = 0; i < 8; ++i) b[40 + i] = static_cast<std::uint8_t>(0xA0 + i);
  return b;
}

void per_packet(benchmark::State& st, std::uint64_t packets) {
  st.SetItemsProcessed(static_cast<std::int64_t>(packets));
  st.counters["ns_per_packet"] =
      benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_MacSign(benchmark::State& st) {
  const auth::Mac& mac = mac_of(st);
  auto p = request();
  std::uint64_t t = 0;
  for (auto _ : st) {
    std::memcpy(p.data() + 40, &t, 8);  // a new transmit timestamp per packet
    ++t;
    benchmark::DoNotOptimize(auth::sign(mac, p.data(), 48));
    benchmark::ClobberMemory();
  }
  per_packet(st, st.iterations());
}
BENCHMARK(BM_MacSign)->ArgName("key")->Arg(1)->Arg(2)->Arg(3);

void BM_MacVerify(benchmark::State& st) {
  const auth::Mac& mac = mac_of(st);
  auto p = request();
  auth::sign(mac, p.data(), 48);
  std::size_t good = 0;
  for (auto _ : st) {
    good += mac.verify(p.data(), 48, p.data() + 52, mac.length());
    benchmark::ClobberMemory();
  }
  if (good != static_cast<std::size_t>(st.iterations())) st.SkipWithError("a MAC did not verify");
  per_packet(st, st.iterations());
}
BENCHMARK(BM_MacVerify)->ArgName("key")->Arg(1)->Arg(2)->Arg(3);

shm::ServerState state() {
  auto s = shm::local_reference_state(hwclock::UtcTime(1'800'000'000LL * hwclock::kNsPerSec), 2, -24);
  s.root_dispersion_ns = 1'000'000;
  return s;
}

void BM_ResponderAuth(benchmark::State& st) {
  const auto id = static_cast<std::uint32_t>(st.range(0));
  Responder responder;
  responder.update(state());
  responder.set_keys(&table());
  auto req = request();
  std::size_t length = 48;
  NtpOutcome expected = NtpOutcome::kAnswered;
  if (id != 0) {
    length = auth::sign(*table().find(id), req.data(), 48);
    expected = NtpOutcome::kAnsweredAuthenticated;
    st.SetLabel(auth::to_string(table().find(id)->algorithm()));
  } else {
    st.SetLabel("plain");
  }
  std::vector<std::array<std::uint8_t, kMaxPacket>> bufs(kBurst);
  hwclock::UtcTime rx(1'800'000'100LL * hwclock::kNsPerSec);
  std::size_t right = 0;
  for (auto _ : st) {
    for (auto& b : bufs) std::memcpy(b.data(), req.data(), length);  // a fresh burst of requests
    const hwclock::UtcTime tx = rx + hwclock::Duration::from_ns(700);
    for (auto& b : bufs) {
      const auto r = responder.handle(NtpRequest{wire::Bytes(b.data(), length), 40'000, rx}, wire::MutableBytes(b),
                                      [tx] { return tx; });
      right += r.outcome == expected && r.length == length;
    }
    benchmark::DoNotOptimize(bufs.data());
    benchmark::ClobberMemory();
    rx += hwclock::Duration::from_ns(3'000);
  }
  if (right != kBurst * static_cast<std::size_t>(st.iterations())) st.SkipWithError("requests were not answered as expected");
  st.SetItemsProcessed(st.iterations() * kBurst);
  st.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(st.iterations() * kBurst),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ResponderAuth)->ArgName("key")->Arg(0)->Arg(1)->Arg(2)->Arg(3);

}  // namespace

BENCHMARK_MAIN();
