// Requests per second through the whole dataplane loop on one lcore: net_ring
// port, mbufs in (rx_burst), classify + answer in place, software TX stamp,
// answers out (tx_burst). The harness recycles the answers as new requests
// (one 90-byte copy each); BM_HarnessOnly measures that part alone in the
// same run so the loop's own cost can be stated.
//
// With access control and rate limiting on (issue 9's goal: at least 80 % of
// the plain rate): BM_DataplaneLoopAcl10k / Acl100k look every request up in
// 10,000 / 100,000 restrict prefixes (the client's own a /32 under them, the
// longest lookup path); BM_DataplaneLoopAclRate10M adds `restrict default
// limited kod` with chrony-style limits over a client table holding 10 M
// clients (room for 1.5 times as many), and requests come from those 10 M
// addresses in turn, with valid checksums (BM_HarnessRotating: that harness
// alone); BM_DataplaneLoopAclRate100k the same with 100 k clients, whose
// table fits in the L3 cache. Their reference is BM_DataplaneLoopRotating:
// the plain loop fed rotating requests by the same harness (over the 10 M
// addresses: without access control the source makes no difference).
//
// With authentication: BM_DataplaneLoopAuthAes answers requests signed with
// an AES-128-CMAC key the responder trusts (verify, answer, sign the answer);
// BM_HarnessAuth refills those 110-octet frames alone.
#include <benchmark/benchmark.h>

#include <map>
#include <random>

#include "dataplane/acl_fib.h"
#include "dataplane/auth/keys.h"
#include "dataplane/auth/mac.h"
#include "dataplane/epoch_publisher.h"
#include "dataplane/wire/checksum.h"

#include "tests/dpdk/dpdk_env.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

struct Rig {
  test::RingPort port;
  std::unique_ptr<test::ControlSide> control;
  shm::Seqlock<hwclock::Timebase> timebase;
  std::unique_ptr<Worker> worker;
  test::Frame request;
  std::vector<rte_mbuf*> mbufs;
};

Rig* rig() {
  static Rig* r = [] {
    if (!test::eal_up()) return static_cast<Rig*>(nullptr);
    auto* g = new Rig;
    g->port = test::RingPort::create("lt_bench");
    g->control = std::make_unique<test::ControlSide>("bench");
    test::fit_timebase(g->timebase);
    LocalConfig local;
    local.mac = g->port.info.mac;
    local.ipv4 = {test::kServerIp};
    WorkerConfig wc;
    wc.port = g->port.port;
    g->worker = std::make_unique<Worker>(wc, local, g->control->dataplane, g->timebase, hwclock::Duration::from_s(300));
    const auto req = test::ntp_request();
    g->request = test::udp4(req, 50000, 123, test::kClientIp, test::kServerIp, g->port.info.mac);
    g->mbufs.resize(kBurst);
    return g;
  }();
  return r;
}

// Access-control variants: one worker each on the rig's port, built on first
// use; only one access list lives at a time (DPDK memory is -m 128 here).
enum class Variant { kAcl10k, kAcl100k, kAclRate100k, kAclRate10M };
bool rate_limited(Variant v) { return v == Variant::kAclRate100k || v == Variant::kAclRate10M; }
// How many distinct clients the rate-limited variants send from, in turn.
std::uint32_t rotating_clients(Variant v) { return v == Variant::kAclRate10M ? 10'000'000 : 100'000; }
constexpr std::uint32_t kRotatingBase = 0x0B000000;  // 11.0.0.0: outside the rules, under the default

struct AclRig {
  std::unique_ptr<EpochPublisher<AccessControl>> acl;
  std::unique_ptr<Worker> worker;
};

std::unique_ptr<const AccessControl> make_acl(unsigned prefixes, bool limited) {
  std::mt19937 rng(9);
  std::vector<AclRule> rules;
  rules.push_back(AclRule::default_rule(shm::kAclNomodify | shm::kAclNotrap | (limited ? shm::kAclLimited | shm::kAclKod : 0)));
  // Spread over 10.0.0.0/10 (16384 /24s, so 2-byte next hops suffice).
  for (unsigned i = 0; i < prefixes; ++i) {
    const std::uint32_t a = 0x0A000000u | (rng() & 0x3FFFFF);
    rules.push_back(AclRule::ipv4(static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                  static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a),
                                  static_cast<std::uint8_t>(20 + rng() % 13), shm::kAclNomodify | shm::kAclNoquery));
  }
  const std::uint32_t c = test::kClientIp.value;
  rules.push_back(AclRule::ipv4(static_cast<std::uint8_t>(c >> 24), static_cast<std::uint8_t>(c >> 16),
                                static_cast<std::uint8_t>(c >> 8), static_cast<std::uint8_t>(c), 32, shm::kAclNotrap));
  shm::AclRateLimit rate;
  rate.style = shm::RateStyle::kChrony;  // every client answered: its bucket is full when it comes back
  rate.interval_log2 = -4;
  rate.burst = 255;
  auto fib = FibAccessControl::build(compile_restrict(rules, rate), "lt_bench_acl" + std::to_string(prefixes) +
                                                                       (limited ? "l" : ""));
  if (!fib) {
    std::fprintf(stderr, "bench_dataplane: %s\n", fib.error().c_str());
    return nullptr;
  }
  return std::unique_ptr<const AccessControl>(fib->release());
}

AclRig* acl_rig(Rig& g, Variant v) {
  static std::map<Variant, AclRig> rigs;
  static Variant live = v;
  if (live != v) {
    rigs.erase(live);  // frees its access list before the next one is built
    live = v;
  }
  auto it = rigs.find(v);
  if (it != rigs.end()) return &it->second;
  AclRig r;
  auto acl = make_acl(v == Variant::kAcl10k ? 10'000 : 100'000, rate_limited(v));
  if (acl == nullptr) return nullptr;
  r.acl = std::make_unique<EpochPublisher<AccessControl>>(1, std::move(acl));
  ClientTable clients;
  if (rate_limited(v)) {
    // Room for half as many again (at least), as an operator sizes it: 4-way
    // buckets then seldom overflow and nearly every request finds its client.
    auto t = ClientTable::create(rotating_clients(v) * 3 / 2, 5, true);
    if (!t) return nullptr;
    // Every client seen once an hour ago: the table is full when the loop starts.
    const std::uint64_t then =
        hwclock::NtpTimestamp::from_utc(hwclock::UtcTime(test::clock_ns(CLOCK_REALTIME) - 3600LL * 1'000'000'000)).raw();
    for (std::uint32_t i = 0; i < rotating_clients(v); ++i) {
      const std::uint32_t a = kRotatingBase + i;
      const std::uint8_t b[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                 static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
      t->touch(ClientKey::from_ipv4(b), then);
    }
    clients = std::move(*t);
  }
  LocalConfig local;
  local.mac = g.port.info.mac;
  local.ipv4 = {test::kServerIp};
  WorkerConfig wc;
  wc.port = g.port.port;
  r.worker = std::make_unique<Worker>(wc, local, g.control->dataplane, g.timebase, hwclock::Duration::from_s(300),
                                      std::move(clients));
  r.worker->follow_acl(*r.acl, 0);
  return &rigs.emplace(v, std::move(r)).first->second;
}

// The request (from test::kClientIp) with its source set to the next of
// `count` rotating clients, both checksums updated: the dataplane verifies
// the UDP checksum as it does the plain loop's.
void rotate_source(std::uint8_t* f, std::uint32_t& next, std::uint32_t count) {
  const std::uint32_t a = kRotatingBase + next;
  next = next + 1 == count ? 0 : next + 1;
  std::uint8_t* ip = f + 14;
  ip[12] = static_cast<std::uint8_t>(a >> 24);
  ip[13] = static_cast<std::uint8_t>(a >> 16);
  ip[14] = static_cast<std::uint8_t>(a >> 8);
  ip[15] = static_cast<std::uint8_t>(a);
  ip[10] = ip[11] = 0;
  const auto sum = static_cast<std::uint16_t>(~wire::fold_sum(wire::sum_words<20>(ip)));
  ip[10] = static_cast<std::uint8_t>(sum >> 8);
  ip[11] = static_cast<std::uint8_t>(sum);
  std::uint16_t udp = static_cast<std::uint16_t>(f[34 + 6] << 8 | f[34 + 7]);
  udp = wire::checksum_update32(udp, test::kClientIp.value, a);
  if (udp == 0) udp = 0xFFFF;
  f[34 + 6] = static_cast<std::uint8_t>(udp >> 8);
  f[34 + 7] = static_cast<std::uint8_t>(udp);
}

void refill(Rig& g, rte_mbuf** m, unsigned n, std::uint32_t* rotating, std::uint32_t count) {
  for (unsigned i = 0; i < n; ++i) {
    rte_pktmbuf_reset(m[i]);
    auto* d = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m[i], static_cast<std::uint16_t>(g.request.length)));
    std::memcpy(d, g.request.buf.data(), g.request.length);
    rotate_source(d, *rotating, count);
  }
  rte_ring_enqueue_bulk(g.port.rx, reinterpret_cast<void**>(m), n, nullptr);
}

void refill(const test::Frame& request, Rig& g, rte_mbuf** m, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    rte_pktmbuf_reset(m[i]);
    std::memcpy(rte_pktmbuf_append(m[i], static_cast<std::uint16_t>(request.length)), request.buf.data(), request.length);
  }
  rte_ring_enqueue_bulk(g.port.rx, reinterpret_cast<void**>(m), n, nullptr);
}

void refill(Rig& g, rte_mbuf** m, unsigned n) { refill(g.request, g, m, n); }

// The AES-128-CMAC key of the authenticated variant and the request signed with it.
struct AuthRequest {
  auth::KeyTable keys;
  test::Frame frame;
};

const AuthRequest& auth_request(const Rig& g) {
  static const AuthRequest a = [&g] {
    AuthRequest r;
    r.keys = auth::KeyTable(auth::parse_keys("1 AES 00112233445566778899aabbccddeeff\n").keys, {1});
    std::array<std::uint8_t, 48 + auth::kMacKeyIdLength + auth::kMaxMacDigest> p{};
    const auto plain = test::ntp_request();
    std::memcpy(p.data(), plain.data(), plain.size());
    const std::size_t n = auth::sign(*r.keys.find(1), p.data(), 48);
    r.frame = test::udp4(wire::Bytes(p.data(), n), 50000, 123, test::kClientIp, test::kServerIp, g.port.info.mac);
    return r;
  }();
  return a;
}

// The rig and a burst of mbufs, or nullptr with the benchmark skipped.
Rig* prepare(benchmark::State& st, rte_mbuf** m) {
  Rig* g = rig();
  if (g == nullptr) {
    st.SkipWithError("DPDK EAL cannot start here (needs root)");
  } else if (rte_pktmbuf_alloc_bulk(test::pool(), m, kBurst) != 0) {
    st.SkipWithError("no mbufs");
    g = nullptr;
  }
  return g;
}

void set_rate(benchmark::State& st, std::uint64_t requests) {
  st.SetItemsProcessed(static_cast<std::int64_t>(requests));
  st.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The loop on `worker`: `fill(n)` puts n requests on the port, `answers(m,
// n)` sees each burst of answers before its mbufs are refilled. Returns the
// number of answers.
template <class Fill, class Answers>
std::uint64_t run_loop(benchmark::State& st, Rig& g, Worker& worker, rte_mbuf** m, Fill fill, Answers answers) {
  fill(kBurst);
  std::uint64_t answered = 0;
  for (auto _ : st) {
    worker.poll_once();
    const unsigned n = rte_ring_dequeue_burst(g.port.tx, reinterpret_cast<void**>(m), kBurst, nullptr);
    answered += n;
    answers(m, n);
    fill(n);
  }
  rte_ring_dequeue_burst(g.port.rx, reinterpret_cast<void**>(m), kBurst, nullptr);
  rte_pktmbuf_free_bulk(m, kBurst);
  return answered;
}

// The harness of a loop alone: `fill(n)` as above, the requests taken back
// off the port.
template <class Fill>
void run_harness(benchmark::State& st, rte_mbuf** m, Rig& g, Fill fill) {
  std::uint64_t n = 0;
  for (auto _ : st) {
    fill(kBurst);
    n += rte_ring_dequeue_burst(g.port.rx, reinterpret_cast<void**>(m), kBurst, nullptr);
  }
  rte_pktmbuf_free_bulk(m, kBurst);
  set_rate(st, n);
}

constexpr auto kNoCheck = [](rte_mbuf**, unsigned) {};

// Every benchmark runs for a second, and for fixed numbers of bursts for
// instruction counts under valgrind, which are repeatable where this VM's
// timings are not. The difference of the two fixed runs is 10,000 bursts
// without the set-up: scripts/count-instructions.sh.
#define LT_BENCHMARK(fn)                      \
  BENCHMARK(fn)->MinTime(1.0);                \
  BENCHMARK(fn)->Iterations(10'000);          \
  BENCHMARK(fn)->Iterations(20'000)

void BM_DataplaneLoop(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  set_rate(st, run_loop(st, *g, *g->worker, m, [&](unsigned n) { refill(*g, m, n); }, kNoCheck));
}
LT_BENCHMARK(BM_DataplaneLoop);

void BM_DataplaneLoopRotating(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  std::uint32_t next = 0;
  const std::uint32_t count = rotating_clients(Variant::kAclRate10M);
  set_rate(st, run_loop(st, *g, *g->worker, m, [&](unsigned n) { refill(*g, m, n, &next, count); }, kNoCheck));
}
LT_BENCHMARK(BM_DataplaneLoopRotating);

void BM_HarnessOnly(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  run_harness(st, m, *g, [&](unsigned n) { refill(*g, m, n); });
}
LT_BENCHMARK(BM_HarnessOnly);

void acl_loop(benchmark::State& st, Variant v) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  AclRig* r = acl_rig(*g, v);
  if (r == nullptr) {
    st.SkipWithError("cannot build the access list or the client table");
    rte_pktmbuf_free_bulk(m, kBurst);
    return;
  }
  const bool rotating = rate_limited(v);
  const std::uint32_t count = rotating_clients(v);
  std::uint32_t next = 0;
  auto fill = [&](unsigned n) { rotating ? refill(*g, m, n, &next, count) : refill(*g, m, n); };
  set_rate(st, run_loop(st, *g, *r->worker, m, fill, kNoCheck));
}

void BM_DataplaneLoopAcl10k(benchmark::State& st) { acl_loop(st, Variant::kAcl10k); }
void BM_DataplaneLoopAcl100k(benchmark::State& st) { acl_loop(st, Variant::kAcl100k); }
void BM_DataplaneLoopAclRate100k(benchmark::State& st) { acl_loop(st, Variant::kAclRate100k); }
void BM_DataplaneLoopAclRate10M(benchmark::State& st) { acl_loop(st, Variant::kAclRate10M); }
LT_BENCHMARK(BM_DataplaneLoopAcl10k);
LT_BENCHMARK(BM_DataplaneLoopAcl100k);
LT_BENCHMARK(BM_DataplaneLoopAclRate100k);
LT_BENCHMARK(BM_DataplaneLoopAclRate10M);

void BM_DataplaneLoopAuthAes(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  const AuthRequest& a = auth_request(*g);
  Responder& responder = g->worker->processor().responder();
  responder.set_keys(&a.keys);
  std::uint64_t signed_answers = 0;
  const std::uint64_t answered = run_loop(
      st, *g, *g->worker, m, [&](unsigned n) { refill(a.frame, *g, m, n); },
      [&](rte_mbuf** out, unsigned n) {
        for (unsigned i = 0; i < n; ++i) signed_answers += rte_pktmbuf_data_len(out[i]) == a.frame.length;
      });
  responder.set_keys(nullptr);
  if (signed_answers != answered) st.SkipWithError("answers without a MAC: the request did not verify");
  set_rate(st, answered);
}
LT_BENCHMARK(BM_DataplaneLoopAuthAes);

void BM_HarnessAuth(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  const AuthRequest& a = auth_request(*g);
  run_harness(st, m, *g, [&](unsigned n) { refill(a.frame, *g, m, n); });
}
LT_BENCHMARK(BM_HarnessAuth);

void BM_HarnessRotating(benchmark::State& st) {
  rte_mbuf* m[kBurst];
  Rig* g = prepare(st, m);
  if (g == nullptr) return;
  std::uint32_t next = 0;
  run_harness(st, m, *g, [&](unsigned n) { refill(*g, m, n, &next, rotating_clients(Variant::kAclRate10M)); });
}
LT_BENCHMARK(BM_HarnessRotating);

}  // namespace

BENCHMARK_MAIN();
