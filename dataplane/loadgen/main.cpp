// linetime-loadgen: sends NTP client requests on a DPDK port as fast as it can
// (or at a fixed rate), receives what comes back, and records both in 100 ms
// slices, so a server's rate can be compared as a distribution rather than a
// single number on a machine whose speed changes under it.
//
//   linetime-loadgen [EAL options] -- --dst-mac MAC [options]
//
// Requests are prebuilt (a template with a valid UDP checksum, the source
// port varied over a range so clients look distinct), sent in bursts of 32.
// Only 198.18.0.0/15 destinations are accepted.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/port.h"
#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

using namespace linetime;
using namespace linetime::wire;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "linetime-loadgen: %s\n", msg.c_str());
  std::exit(1);
}

struct Options {
  std::uint16_t port = 0;
  MacAddress dst_mac;
  bool have_dst_mac = false;
  Ipv4Address dst = Ipv4Address::of(198, 18, 0, 1);
  Ipv4Address src = Ipv4Address::of(198, 18, 1, 1);
  std::uint16_t src_ports = 1024;  // distinct client ports
  double rate = 0;                 // requests/s; 0 = as fast as the port takes them
  double duration_s = 5;
  double slice_s = 0.1;
  std::string csv;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--port") {
      o.port = static_cast<std::uint16_t>(std::atoi(value().c_str()));
    } else if (a == "--dst-mac") {
      const auto m = parse_mac_address(value());
      if (!m) die("--dst-mac takes a MAC address like 02:00:00:00:00:01");
      o.dst_mac = *m;
      o.have_dst_mac = true;
    } else if (a == "--dst") {
      const auto ip = parse_ipv4_address(value());
      if (!ip) die("--dst takes an IPv4 address");
      o.dst = *ip;
    } else if (a == "--src") {
      const auto ip = parse_ipv4_address(value());
      if (!ip) die("--src takes an IPv4 address");
      o.src = *ip;
    } else if (a == "--rate") {
      o.rate = std::atof(value().c_str());
    } else if (a == "--duration") {
      o.duration_s = std::atof(value().c_str());
    } else if (a == "--slice") {
      o.slice_s = std::atof(value().c_str());
    } else if (a == "--csv") {
      o.csv = value();
    } else {
      die("unknown option '" + a + "'; options: --port --dst-mac --dst --src --rate --duration --slice --csv");
    }
  }
  if (!o.have_dst_mac) die("--dst-mac is required: the server's MAC address");
  // RFC 2544 benchmarking range only: this tool floods.
  const auto in_lab = [](Ipv4Address a) { return (a.value & 0xFFFE0000u) == 0xC6120000u; };
  if (!in_lab(o.dst) || !in_lab(o.src)) die("addresses must be in 198.18.0.0/15, the benchmarking range");
  if (o.duration_s <= 0 || o.duration_s > 600) die("--duration takes 0 to 600 seconds");
  if (o.slice_s <= 0) die("--slice takes a positive number of seconds");
  return o;
}

// The request frame for source port `sport`.
std::vector<std::uint8_t> request_frame(const Options& o, const MacAddress& src_mac, std::uint16_t sport) {
  std::vector<std::uint8_t> f(14 + 20 + 8 + 48, 0);
  MutableBytes b(f);
  std::size_t n = write_ethernet(b, o.dst_mac, src_mac, kEtherTypeIpv4);
  std::uint8_t ntp[48] = {};
  ntp[0] = ntp_li_vn_mode(0, 4, 3);
  ntp[2] = 6;
  ntp[40] = 0xE9;  // a transmit timestamp, so answers carry an origin
  const std::size_t u = write_udp(b.subspan(n + 20), o.src, o.dst, sport, kNtpPort, Bytes(ntp, sizeof ntp));
  Ipv4Fields ip;
  ip.src = o.src;
  ip.dst = o.dst;
  write_ipv4(b.subspan(n), ip, u);
  return f;
}

struct Slice {
  double t;
  std::uint64_t sent, received, answered;
};

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) die(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno));
  const Options opt = parse(argc - eal - 1 > 0 ? argc - eal - 1 : 0, argv + eal + 1);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  rte_mempool* pool = rte_pktmbuf_pool_create("lg_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool == nullptr) die("cannot allocate mbufs (raise -m)");
  auto info = dataplane::start_port(dataplane::PortRequest{opt.port, 1, pool, 1024, 1024, false});
  if (!info) die(info.error());

  // One template per source port, copied into fresh mbufs.
  std::vector<std::vector<std::uint8_t>> templates;
  for (std::uint16_t i = 0; i < opt.src_ports; ++i) templates.push_back(request_frame(opt, info->mac, static_cast<std::uint16_t>(20000 + i)));

  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t start = rte_rdtsc();
  const std::uint64_t end = start + static_cast<std::uint64_t>(opt.duration_s * static_cast<double>(hz));
  const std::uint64_t slice_ticks = static_cast<std::uint64_t>(opt.slice_s * static_cast<double>(hz));
  const double ticks_per_request = opt.rate > 0 ? static_cast<double>(hz) / opt.rate : 0;
  std::uint64_t next_slice = start + slice_ticks;
  std::uint64_t sent = 0, received = 0, answered = 0, last_sent = 0, last_received = 0, last_answered = 0;
  std::vector<Slice> slices;
  std::size_t next_template = 0;
  double credit_at = static_cast<double>(start);

  while (!g_stop.load(std::memory_order_relaxed)) {
    const std::uint64_t now = rte_rdtsc();
    if (now >= next_slice) {
      slices.push_back(Slice{static_cast<double>(next_slice - start) / static_cast<double>(hz), sent - last_sent,
                             received - last_received, answered - last_answered});
      last_sent = sent;
      last_received = received;
      last_answered = answered;
      next_slice += slice_ticks;
      if (now >= end) break;
    }
    unsigned want = dataplane::kBurst;
    if (ticks_per_request > 0) {
      const double due = (static_cast<double>(now) - credit_at) / ticks_per_request;
      want = due >= dataplane::kBurst ? dataplane::kBurst : static_cast<unsigned>(due);
    }
    if (want > 0) {
      rte_mbuf* tx[dataplane::kBurst];
      if (rte_pktmbuf_alloc_bulk(pool, tx, want) == 0) {
        for (unsigned i = 0; i < want; ++i) {
          const auto& t = templates[next_template];
          next_template = next_template + 1 == templates.size() ? 0 : next_template + 1;
          std::memcpy(rte_pktmbuf_append(tx[i], static_cast<std::uint16_t>(t.size())), t.data(), t.size());
        }
        const std::uint16_t done = rte_eth_tx_burst(opt.port, 0, tx, static_cast<std::uint16_t>(want));
        if (done < want) rte_pktmbuf_free_bulk(tx + done, want - done);
        sent += done;
        if (ticks_per_request > 0) credit_at += done * ticks_per_request;
      }
    }
    rte_mbuf* rx[dataplane::kBurst];
    const std::uint16_t n = rte_eth_rx_burst(opt.port, 0, rx, dataplane::kBurst);
    for (std::uint16_t i = 0; i < n; ++i) {
      // An NTP answer comes from port 123 (a forwarder returns the request).
      const auto* p = rte_pktmbuf_mtod(rx[i], const std::uint8_t*);
      if (rte_pktmbuf_data_len(rx[i]) >= 42 && p[34] == 0 && p[35] == 123) ++answered;
    }
    received += n;
    if (n > 0) rte_pktmbuf_free_bulk(rx, n);
  }

  std::FILE* csv = opt.csv.empty() ? nullptr : std::fopen(opt.csv.c_str(), "w");
  if (!opt.csv.empty() && csv == nullptr) die("cannot write " + opt.csv);
  if (csv != nullptr) std::fprintf(csv, "t_s,sent,received,answered\n");
  for (const Slice& s : slices) {
    if (csv != nullptr) {
      std::fprintf(csv, "%.3f,%llu,%llu,%llu\n", s.t, static_cast<unsigned long long>(s.sent),
                   static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.answered));
    }
  }
  if (csv != nullptr) std::fclose(csv);
  const double secs = static_cast<double>(rte_rdtsc() - start) / static_cast<double>(hz);
  std::printf("sent %llu received %llu answered %llu in %.2f s: %.2f M/s offered, %.2f M/s received\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(answered), secs, static_cast<double>(sent) / secs / 1e6,
              static_cast<double>(received) / secs / 1e6);
  rte_eth_dev_stop(opt.port);
  rte_eal_cleanup();
  return 0;
}
