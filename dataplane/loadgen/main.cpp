// linetime-loadgen: a client population for the latency lab. It sends NTP
// client requests on any DPDK port from many source addresses and ports, at a
// fixed rate, stepping through rates, or searching the highest rate a server
// answers with at most 0.1 % loss (--find-max), in basic or interleaved mode.
// Every answer gives four timestamps, so each step reports offered and
// answered rate, loss, the share of interleaved answers and the distributions
// of round-trip delay, server residence (T3 - T2) and the server's offset
// against the generator's clock (on one host: the server's timestamp error).
//
//   linetime-loadgen [EAL options] -- --dst-mac MAC [options]     (--help)
//
// Per packet it is cheap: requests are copied from prebuilt per-address
// templates into bulk-allocated mbufs, with the UDP checksum from a
// precomputed sum; sends go in bursts of 32 on a TSC schedule (pacer.h).
// T1 is the TSC read just before the burst is written, T4 the TSC read when
// rx_burst returns (or the port's hardware receive timestamp), both mapped to
// UTC by the same Timebase the dataplane uses. It answers ARP for its client
// addresses, so kernel servers can reply to them.
//
// With --keys FILE --key ID every request carries a MAC with that key
// (RFC 5905 section 7.3), computed per packet once its timestamps are
// written; answers' MACs are verified with the same key and counted as
// verified, failed or crypto-NAK. An answer whose MAC fails is not used.
//
// Bounded: each step by --duration and --count, the run by the number of
// steps. Destinations outside 198.18.0.0/15 and 127.0.0.0/8 are refused unless
// --lab-network names the network they are on.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/loadgen/options.h"
#include "dataplane/loadgen/pacer.h"
#include "dataplane/loadgen/report.h"
#include "dataplane/loadgen/search.h"
#include "dataplane/loadgen/stats.h"
#include "dataplane/loadgen/traffic.h"
#include "dataplane/port.h"
#include "dataplane/wire/arp.h"
#include "dataplane/wire/ethernet.h"
#include "hwclock/ntp_time.h"
#include "hwclock/timebase.h"

using namespace linetime;
using namespace linetime::loadgen;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "linetime-loadgen: %s\n", msg.c_str());
  std::exit(1);
}

constexpr std::uint16_t kBurst = dataplane::kBurst;

class Generator {
 public:
  Generator(const Options& opt, rte_mempool* pool, const dataplane::PortInfo& port, std::FILE* csv,
            const std::optional<auth::Key>& key)
      : opt_(opt),
        pool_(pool),
        port_(port),
        csv_(csv),
        templates_(request_config(opt, port, key)),
        exchanges_(opt.population.clients(), opt.interleaved),
        hz_(rte_get_tsc_hz()),
        estimator_(static_cast<double>(hz_)),
        run_start_(rte_rdtsc()) {
    for (int i = 0; i < 4; ++i) dataplane::sample_timebase(estimator_);
    timebase_ = estimator_.timebase();
    use_hw_rx_ = opt.hw_timestamps && port.rx_ts.dynfield_offset >= 0;
  }

  bool hardware_rx() const { return use_hw_rx_; }

  // One step at `rate` requests/s (0 = unpaced); `label` names it in progress lines.
  StepResult run_step(unsigned step, double rate, const std::string& label) {
    StepResult r;
    r.step = step;
    r.target_rate = rate;
    auto slice = std::make_unique<Tally>();
    Tally& total = r.tally;

    const std::uint64_t start = rte_rdtsc();
    const std::uint64_t end = start + ticks(opt_.duration_s);
    const std::uint64_t slice_ticks = ticks(opt_.slice_s);
    const std::uint64_t drain_ticks = ticks(opt_.drain_s);
    std::uint64_t next_slice = start + slice_ticks;
    std::uint64_t next_refit = start + hz_;
    std::uint64_t next_progress = start + hz_;
    std::uint64_t drain_end = 0;
    bool sending = true;
    Pacer pacer(hz_, rate, start);
    const std::uint64_t earliest_t1 = ntp_now(start);
    std::uint64_t sent = 0;

    while (!g_stop.load(std::memory_order_relaxed)) {
      const std::uint64_t now = rte_rdtsc();
      if (sending && now >= next_slice) {
        end_slice(*slice, total, next_slice, step, rate);
        next_slice += slice_ticks;
      }
      if (sending && (now >= end || (opt_.count != 0 && sent >= opt_.count))) {
        sending = false;
        // A last partial slice gets a row only if it is at least half a slice
        // long: the scripts read slice rows as rates.
        if (now - (next_slice - slice_ticks) >= slice_ticks / 2) {
          end_slice(*slice, total, now, step, rate);
        } else {
          total.merge(*slice);
          slice->clear();
        }
        r.send_s = static_cast<double>(now - start) / static_cast<double>(hz_);
        drain_end = now + drain_ticks;
      }
      if (!sending && now >= drain_end) break;
      if (now >= next_refit) {
        if (dataplane::sample_timebase(estimator_)) timebase_ = estimator_.timebase();
        next_refit += hz_;
      }
      if (now >= next_progress) {
        std::fprintf(stderr, "  %s: %.0f s, sent %llu, answered %llu\n", label.c_str(),
                     static_cast<double>(now - start) / static_cast<double>(hz_),
                     static_cast<unsigned long long>(total.sent + slice->sent),
                     static_cast<unsigned long long>(total.answered + slice->answered));
        next_progress += hz_;
      }
      if (sending) {
        unsigned want = pacer.due(now, kBurst);
        if (opt_.count != 0 && want > opt_.count - sent) want = static_cast<unsigned>(opt_.count - sent);
        if (want > 0) {
          const unsigned done = send_burst(want);
          pacer.sent(done);
          sent += done;
          slice->sent += done;
        }
      }
      receive(sending ? *slice : total, earliest_t1);
    }
    if (g_stop && sending) {
      r.send_s = static_cast<double>(rte_rdtsc() - start) / static_cast<double>(hz_);
      if (slice->sent + slice->received > 0) end_slice(*slice, total, rte_rdtsc(), step, rate);
    }
    total.merge(*slice);
    r.slipped = pacer.slipped();
    return r;
  }

 private:
  static RequestConfig request_config(const Options& opt, const dataplane::PortInfo& port,
                                      const std::optional<auth::Key>& key) {
    RequestConfig c;
    c.src_mac = port.mac;
    c.dst_mac = opt.dst_mac;
    c.dst = opt.dst;
    c.dst_port = wire::kNtpPort;
    c.population = opt.population;
    c.key = key;
    return c;
  }

  std::uint64_t ticks(double s) const { return static_cast<std::uint64_t>(s * static_cast<double>(hz_)); }

  std::uint64_t ntp_now(std::uint64_t tsc) const {
    return hwclock::NtpTimestamp::from_utc(timebase_.to_utc(hwclock::TscTime(static_cast<std::int64_t>(tsc)))).raw();
  }

  void end_slice(Tally& slice, Tally& total, std::uint64_t at, unsigned step, double rate) {
    if (csv_ != nullptr) {
      write_csv_row(csv_, slice_row(static_cast<double>(at - run_start_) / static_cast<double>(hz_), step, rate, slice));
    }
    total.merge(slice);
    slice.clear();
  }

  unsigned send_burst(unsigned want) {
    rte_mbuf* tx[kBurst];
    if (rte_pktmbuf_alloc_bulk(pool_, tx, want) != 0) return 0;
    const std::uint64_t t1 = ntp_now(rte_rdtsc());
    const std::uint64_t clients = opt_.population.clients();
    const auto length = static_cast<std::uint16_t>(templates_.frame_length());
    if (exchanges_.interleaved()) {
      std::uint64_t c = next_client_;
      for (unsigned i = 0; i < want; ++i) {
        std::uint64_t origin = 0, receive = 0;
        exchanges_.on_send(c, t1, origin, receive);
        rte_mbuf* m = tx[i];
        m->data_len = length;
        m->pkt_len = length;
        templates_.write(c, rte_pktmbuf_mtod(m, std::uint8_t*), origin, receive, t1);
        if (++c == clients) c = 0;
      }
    } else {
      std::uint8_t* data[kBurst];
      for (unsigned i = 0; i < want; ++i) {
        rte_mbuf* m = tx[i];
        m->data_len = length;
        m->pkt_len = length;
        data[i] = rte_pktmbuf_mtod(m, std::uint8_t*);
      }
      templates_.write_basic_burst(next_client_, data, want, t1);
    }
    const std::uint16_t done = rte_eth_tx_burst(opt_.port, 0, tx, static_cast<std::uint16_t>(want));
    if (done < want) rte_pktmbuf_free_bulk(tx + done, want - done);
    // Clients whose requests did not leave go first next time.
    next_client_ = (next_client_ + done) % clients;
    return done;
  }

  void receive(Tally& t, std::uint64_t earliest_t1) {
    rte_mbuf* rx[kBurst];
    const std::uint16_t n = rte_eth_rx_burst(opt_.port, 0, rx, kBurst);
    if (n == 0) return;
    const std::uint64_t t4_sw = ntp_now(rte_rdtsc());
    t.received += n;
    rte_mbuf* arp[kBurst];
    std::uint16_t narp = 0;
    rte_mbuf* done[kBurst];
    std::uint16_t ndone = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = rx[i];
      const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
      Answer a;
      const FrameKind kind = classify(p, rte_pktmbuf_data_len(m), opt_.population, a);
      if (kind == FrameKind::kAnswer) {
        if (const auth::Mac* mac = templates_.mac(); mac != nullptr) [[unlikely]] {
          // An answer whose MAC fails is counted and dropped, unmeasured.
          if (!count_auth(check_answer_mac(p + kNtpOffset, a.ntp_length, *mac), t)) {
            done[ndone++] = m;
            continue;
          }
        }
        std::uint64_t t4 = t4_sw;
        if (use_hw_rx_ && (m->ol_flags & port_.rx_ts.dynflag) != 0) {
          t4 = hw_time(m);
          ++t.hw_rx;
        }
        Exchange e;
        const Match match = exchanges_.on_answer(a, t4, earliest_t1, e);
        if (match == Match::kUnmatched) {
          ++t.unmatched;
        } else {
          ++t.answered;
          if (match == Match::kInterleaved) ++t.interleaved;
          t.add(e);
        }
      } else if (kind == FrameKind::kArpRequest && answer_arp(m)) {
        arp[narp++] = m;
        continue;
      }
      done[ndone++] = m;
    }
    if (ndone > 0) rte_pktmbuf_free_bulk(done, ndone);
    if (narp > 0) {
      const std::uint16_t sent = rte_eth_tx_burst(opt_.port, 0, arp, narp);
      if (sent < narp) rte_pktmbuf_free_bulk(arp + sent, narp - sent);
    }
  }

  std::uint64_t hw_time(rte_mbuf* m) const {
    const auto nic = *RTE_MBUF_DYNFIELD(m, port_.rx_ts.dynfield_offset, const std::uint64_t*);
    const auto ns = static_cast<std::int64_t>(static_cast<double>(nic) * port_.rx_ts.nic_ns_per_tick) + port_.rx_ts.nic_to_utc_ns;
    return hwclock::NtpTimestamp::from_utc(hwclock::UtcTime(ns)).raw();
  }

  // Turns an ARP request for one of the client addresses into the reply, in place.
  bool answer_arp(rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const std::size_t len = rte_pktmbuf_data_len(m);
    const auto req = wire::parse_arp(wire::Bytes(p + 14, len - 14));
    if (!req || req->op != wire::ArpOp::kRequest || !opt_.population.contains(req->target_ip)) return false;
    const wire::MacAddress asker = req->sender_mac;
    const wire::Ipv4Address asker_ip = req->sender_ip, target = req->target_ip;
    auto* w = rte_pktmbuf_mtod(m, std::uint8_t*);
    const std::size_t room = m->buf_len - m->data_off;
    wire::MutableBytes b(w, room);
    const std::size_t eth = wire::write_ethernet(b, asker, port_.mac, wire::kEtherTypeArp);
    const std::size_t body = wire::write_arp(b.subspan(eth), wire::ArpOp::kReply, port_.mac, target, asker, asker_ip);
    const std::size_t total = eth + body < 60 ? 60 : eth + body;  // Ethernet minimum without FCS
    for (std::size_t i = eth + body; i < total; ++i) w[i] = 0;
    m->data_len = static_cast<std::uint16_t>(total);
    m->pkt_len = static_cast<std::uint32_t>(total);
    m->ol_flags = 0;
    return true;
  }

  const Options& opt_;
  rte_mempool* pool_;
  dataplane::PortInfo port_;
  std::FILE* csv_;
  RequestTemplates templates_;
  Exchanges exchanges_;
  std::uint64_t hz_;
  hwclock::TimebaseEstimator estimator_;
  hwclock::Timebase timebase_{};
  std::uint64_t run_start_;
  std::uint64_t next_client_ = 0;
  bool use_hw_rx_ = false;
};

std::string rate_label(double rate) {
  char b[48];
  if (rate > 0) {
    std::snprintf(b, sizeof b, "%.0f/s", rate);
  } else {
    std::snprintf(b, sizeof b, "unpaced");
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) die(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno));
  std::vector<std::string> args;
  for (int i = eal + 1; i < argc; ++i) args.emplace_back(argv[i]);
  const auto parsed = parse_options(args);
  if (!parsed) die(parsed.error());
  const Options& opt = *parsed;
  std::optional<auth::Key> key;
  if (opt.key_id != 0) {
    std::vector<std::string> warnings;
    auto k = load_key(opt, warnings);
    for (const std::string& w : warnings) std::fprintf(stderr, "linetime-loadgen: warning: %s\n", w.c_str());
    if (!k) die(k.error());
    key = std::move(*k);
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  if (!rte_eth_dev_is_valid_port(opt.port)) die(dataplane::no_such_port(opt.port));
  rte_mempool* pool =
      rte_pktmbuf_pool_create("lg_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool == nullptr) die("cannot allocate 16383 mbufs: give the EAL more memory (-m 256)");
  auto info = dataplane::start_port(dataplane::PortRequest{opt.port, 1, pool, 1024, 1024, opt.hw_timestamps});
  if (!info) die(info.error());

  std::FILE* csv = nullptr;
  if (!opt.csv.empty()) {
    csv = std::fopen(opt.csv.c_str(), "w");
    if (csv == nullptr) die("cannot write " + opt.csv + ": check that its directory exists and is writable");
    write_csv_header(csv);
  }

  auto gen = std::make_unique<Generator>(opt, pool, *info, csv, key);
  RunInfo run;
  run.port = dataplane::port_label(opt.port);
  run.timestamping = gen->hardware_rx() ? "hardware RX, software TX" : "software (TSC at burst)";
  run.destination = wire::to_string(opt.dst);
  run.clients = opt.population.clients();
  run.interleaved = opt.interleaved;
  run.max_loss = opt.max_loss;
  run.find_max = opt.mode == RunMode::kFindMax;
  std::string signing = "requests unauthenticated";
  if (key) {
    run.key_id = key->id;
    run.key_type = auth::to_string(key->algorithm);
    signing = "requests signed with key " + std::to_string(key->id) + " (" + run.key_type + ")";
  }
  std::fprintf(stderr,
               "linetime-loadgen: %s -> %s, %llu clients (%u addresses x %u ports), %s mode, timestamps: %s, %s\n",
               run.port.c_str(), run.destination.c_str(), static_cast<unsigned long long>(run.clients),
               opt.population.addresses, opt.population.ports, opt.interleaved ? "interleaved" : "basic",
               run.timestamping.c_str(), signing.c_str());

  std::vector<StepResult> steps;
  const std::uint64_t started = rte_rdtsc();
  auto run_one = [&](double rate, const std::string& what) {
    const auto step = static_cast<unsigned>(steps.size() + 1);
    std::fprintf(stderr, "step %u: %s%s\n", step, rate_label(rate).c_str(), what.c_str());
    steps.push_back(gen->run_step(step, rate, "step " + std::to_string(step)));
    const StepResult& s = steps.back();
    std::fprintf(stderr, "step %u: offered %.0f/s, answered %.0f/s, loss %.3f %%, interleaved %.1f %%\n", step,
                 s.offered_rate(), s.answered_rate(), 100 * s.tally.loss(), 100 * s.interleaved_share());
    if (key) {
      const Tally& t = s.tally;
      std::fprintf(stderr, "step %u: MACs of %llu answers: %llu verified, %llu failed, %llu crypto-NAKs, %llu without\n",
                   step, static_cast<unsigned long long>(t.auth_answers()),
                   static_cast<unsigned long long>(t.auth_verified), static_cast<unsigned long long>(t.auth_mac_failed),
                   static_cast<unsigned long long>(t.auth_crypto_nak),
                   static_cast<unsigned long long>(t.auth_unauthenticated));
    }
    return s;
  };

  if (opt.mode == RunMode::kFindMax) {
    double high = opt.rate_max;
    bool done = false;
    if (high <= 0) {
      const StepResult s = run_one(0, " (the generator's own limit, upper bound of the search)");
      high = s.offered_rate();
      if (s.tally.loss() <= opt.max_loss) {
        run.max_rate = high;
        done = true;
      }
    }
    MaxRateSearch search(MaxRateSearch::Config{0, high, opt.max_loss, 0.02, 12});
    while (!done && !g_stop) {
      const auto rate = search.next();
      if (!rate) break;
      const StepResult s = run_one(*rate, " (search)");
      search.record(*rate, s.offered_rate(), s.tally.loss());
    }
    if (!done) {
      run.max_rate = search.best();
      run.lowest_failing_rate = search.lowest_failing();
    }
  } else {
    for (const double rate : opt.rates) {
      if (g_stop) break;
      run_one(rate, "");
    }
  }

  if (csv != nullptr) std::fclose(csv);
  std::printf("%s -> %s, %llu clients, %s mode, timestamps: %s, %s\n", run.port.c_str(), run.destination.c_str(),
              static_cast<unsigned long long>(run.clients), opt.interleaved ? "interleaved" : "basic",
              run.timestamping.c_str(), signing.c_str());
  write_table_header(stdout, key.has_value());
  Tally all;
  double send_s = 0;
  for (const StepResult& s : steps) {
    write_table_row(stdout, s, key.has_value());
    all.sent += s.tally.sent;
    all.received += s.tally.received;
    all.answered += s.tally.answered;
    send_s += s.send_s;
  }
  if (run.find_max) {
    if (run.lowest_failing_rate > 0) {
      std::printf("loss-free rate (loss <= %.3f %%): %.0f/s; %.0f/s lost more\n", 100 * opt.max_loss, run.max_rate,
                  run.lowest_failing_rate);
    } else {
      std::printf("loss-free rate (loss <= %.3f %%): at least %.0f/s, the most the generator offered\n",
                  100 * opt.max_loss, run.max_rate);
    }
  }
  if (!opt.json.empty()) {
    std::FILE* j = std::fopen(opt.json.c_str(), "w");
    if (j == nullptr) die("cannot write " + opt.json + ": check that its directory exists and is writable");
    write_json(j, run, steps);
    std::fclose(j);
  }
  const double secs = static_cast<double>(rte_rdtsc() - started) / static_cast<double>(rte_get_tsc_hz());
  const double rate_s = send_s > 0 ? send_s : secs;
  std::printf("sent %llu received %llu answered %llu in %.2f s: %.2f M/s offered, %.2f M/s received\n",
              static_cast<unsigned long long>(all.sent), static_cast<unsigned long long>(all.received),
              static_cast<unsigned long long>(all.answered), secs, static_cast<double>(all.sent) / rate_s / 1e6,
              static_cast<double>(all.received) / rate_s / 1e6);
  gen.reset();
  rte_eth_dev_stop(opt.port);
  rte_eal_cleanup();
  return 0;
}
