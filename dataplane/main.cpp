// linetime-dataplane: the DPDK poll-mode NTP server.
//
//   linetime-dataplane [EAL options] -- [options]
//
// It owns one data port (any DPDK port), runs one poll loop per lcore with a
// queue pair each, answers NTP, ARP, ICMP and neighbour discovery itself, and
// hands everything else to the kernel through a TAP interface. The server
// state comes from linetime-control through shared memory.
//
// The addresses it answers on are the static --address ones and every address
// the kernel has on the TAP: operators configure it with ip addr, and the
// dataplane follows through netlink. The control's upstream requests leave
// from the main lcore, routed with the kernel's routes and neighbours of the
// TAP.
//
// NTP requests are checked against ntpd-style `restrict` rules and rate
// limited per client (--restrict-file until linetime-control publishes its
// table in the shared memory; then the control's table applies).
//
// Requests with a MAC are verified against the trusted keys of the same
// file's `keys` and `trustedkey` lines and answered with a MAC of the same
// key, or with a crypto-NAK; the keys are read once, at start.
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/acl_fib.h"
#include "dataplane/address_set.h"
#include "dataplane/epoch_publisher.h"
#include "dataplane/restrict_file.h"
#include <unistd.h>

#include "dataplane/counters.h"
#include "dataplane/kernel_tables.h"
#include "dataplane/netlink.h"
#include "dataplane/port.h"
#include "dataplane/upstream_tx.h"
#include "dataplane/worker.h"
#include "hwclock/timebase.h"

using namespace linetime;
using namespace linetime::dataplane;

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

void log(const std::string& msg) {
  std::fprintf(stderr, "linetime-dataplane: %s\n", msg.c_str());
  std::fflush(stderr);
}

[[noreturn]] void die(const std::string& msg) {
  log(msg);
  std::exit(1);
}

std::int64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct Options {
  std::uint16_t port = 0;
  std::string tap;              // exception interface name; empty: none
  std::string shm = shm::kDefaultName;
  LocalConfig local;
  double holdover_s = static_cast<double>(shm::kDefaultHoldoverNs) / 1e9;
  std::string ready_file;
  double stats_interval_s = 0;
  double duration_s = 0;        // 0: until SIGINT/SIGTERM
  unsigned mbufs = 8191;
  std::size_t clients = ClientTable::kDefaultCapacity;  // per lcore; 0: no interleaved mode, no rate limits
  std::string restrict_file;    // ntp.conf restrict/discard/ratelimit lines; empty: serve everyone
};

void usage() {
  std::puts(
      "usage: linetime-dataplane [EAL options] -- [options]\n"
      "  --port N              data port (default 0)\n"
      "  --address ADDR        a static IPv4 or IPv6 address to answer on (repeat for more)\n"
      "  --tap NAME            create the exception interface NAME for the kernel; the addresses\n"
      "                        given to it (ip addr add ADDR/LEN dev NAME) are answered on too\n"
      "  --vlan ID             also answer on 802.1Q VLAN ID (repeat for more)\n"
      "  --upstream-ports A-B  UDP ports linetime-control sends upstream requests from\n"
      "  --shm NAME            shared memory with linetime-control (default /linetime)\n"
      "  --holdover SECONDS    serve unsynchronized after the control is silent this long (default 300)\n"
      "  --ready-file PATH     written once the ports are up and answering\n"
      "  --stats SECONDS       print counters every SECONDS\n"
      "  --duration SECONDS    stop after SECONDS (default: run until SIGINT/SIGTERM)\n"
      "  --mbufs N             mbufs in the pool (default 8191)\n"
      "  --clients N           clients remembered per lcore for interleaved mode and rate limits,\n"
      "                        32 bytes each, rounded up to a power of two (default 1048576 =\n"
      "                        32 MiB; 0 answers every request in basic mode and cannot rate\n"
      "                        limit); give at least 1.5 times the clients an lcore serves, so\n"
      "                        that few are forgotten early\n"
      "  --restrict-file PATH  apply the restrict, discard (ntpd) and ratelimit (chrony) lines of\n"
      "                        PATH (an ntp.conf) to NTP requests, until linetime-control publishes\n"
      "                        its own table; its keys and trustedkey lines give the keys clients\n"
      "                        may authenticate requests with");
}

double parse_seconds(const char* flag, const char* v) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || d < 0) die(std::string(flag) + " takes a number of seconds, got '" + v + "'");
  return d;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(a + " needs a value (see --help)");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--port") {
      o.port = static_cast<std::uint16_t>(std::atoi(value()));
    } else if (a == "--address") {
      const std::string v = value();
      if (auto v4 = wire::parse_ipv4_address(v)) {
        o.local.ipv4.push_back(*v4);
      } else if (auto v6 = wire::parse_ipv6_address(v)) {
        o.local.ipv6.push_back(*v6);
      } else {
        die("--address '" + v + "' is neither an IPv4 nor an IPv6 address");
      }
    } else if (a == "--tap") {
      o.tap = value();
    } else if (a == "--vlan") {
      const int id = std::atoi(value());
      if (id < 1 || id > 4094) die("--vlan takes an id from 1 to 4094");
      o.local.vlans.push_back(static_cast<std::uint16_t>(id));
    } else if (a == "--upstream-ports") {
      unsigned lo = 0, hi = 0;
      if (std::sscanf(value(), "%u-%u", &lo, &hi) != 2 || lo == 0 || hi < lo || hi > 65535) {
        die("--upstream-ports takes a range like 40000-40099");
      }
      o.local.upstream_port_min = static_cast<std::uint16_t>(lo);
      o.local.upstream_port_max = static_cast<std::uint16_t>(hi);
    } else if (a == "--shm") {
      o.shm = value();
    } else if (a == "--holdover") {
      o.holdover_s = parse_seconds("--holdover", value());
    } else if (a == "--ready-file") {
      o.ready_file = value();
    } else if (a == "--stats") {
      o.stats_interval_s = parse_seconds("--stats", value());
    } else if (a == "--duration") {
      o.duration_s = parse_seconds("--duration", value());
    } else if (a == "--mbufs") {
      o.mbufs = static_cast<unsigned>(std::atoi(value()));
    } else if (a == "--clients") {
      const char* v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v, &end, 10);
      if (end == v || *end != '\0' || v[0] == '-' || n > ClientTable::kMaxCapacity) {
        die("--clients takes a number of clients from 0 to " + std::to_string(ClientTable::kMaxCapacity) + ", got '" +
            v + "'");
      }
      o.clients = static_cast<std::size_t>(n);
    } else if (a == "--restrict-file") {
      o.restrict_file = value();
    } else {
      die("unknown option '" + a + "' (see --help)");
    }
  }
  if (o.local.ipv4.empty() && o.local.ipv6.empty() && o.tap.empty()) {
    die("no --address and no --tap given: name the addresses to answer NTP on with --address, or create the"
        " exception interface with --tap NAME and give it addresses with ip addr add ADDR/LEN dev NAME");
  }
  return o;
}

std::vector<std::unique_ptr<Worker>> g_lcores;

// The access list in DPDK tables, or the process stops with why.
std::unique_ptr<const AccessControl> build_acl(const CompiledAcl& acl, std::size_t clients, const std::string& from) {
  static unsigned built = 0;
  auto fib = FibAccessControl::build(acl, "lt_acl" + std::to_string(built++));
  if (!fib) die(fib.error() + " (" + from + ")");
  const FibAccessControl& f = **fib;
  std::string what = "access control from " + from + ": " + std::to_string(f.prefixes4()) + " IPv4 and " +
                     std::to_string(f.prefixes6()) + " IPv6 prefixes besides the defaults";
  if (f.limits()) {
    what += acl.rate.style == shm::RateStyle::kChrony
                ? "; rate limit: chrony ratelimit interval " + std::to_string(acl.rate.interval_log2) + " burst " +
                      std::to_string(acl.rate.burst) + " leak " + std::to_string(acl.rate.leak)
                : "; rate limit: ntpd discard average " + std::to_string(acl.rate.average_log2) + " minimum " +
                      std::to_string(acl.rate.minimum_s);
    if (clients == 0) {
      what += "; WARNING: --clients 0 leaves no table to remember clients in, so 'limited' clients are answered"
              " unlimited: give --clients N";
    }
  }
  log(what);
  return std::unique_ptr<const AccessControl>(fib->release());
}

int worker_main(void* arg) {
  Worker* w = static_cast<Worker*>(arg);
  while (!g_stop.load(std::memory_order_relaxed)) w->poll_once();
  return 0;
}

std::string with_prefix(const InterfaceAddress& a) {
  return to_string(a.address) + "/" + std::to_string(a.prefix_length);
}

// Logs the addresses that appeared on or disappeared from the exception
// interface between `before` and `after`.
void log_address_changes(const std::vector<InterfaceAddress>& before, const std::vector<InterfaceAddress>& after,
                         const AddressSet& statics, const std::string& tap) {
  auto in = [](const std::vector<InterfaceAddress>& v, const InterfaceAddress& a) {
    return std::find(v.begin(), v.end(), a) != v.end();
  };
  auto is_static = [&](const shm::NetAddress& a) {
    return a.family == 4 ? statics.has(ipv4_of(a)) : statics.has(ipv6_of(a));
  };
  for (const InterfaceAddress& a : after) {
    if (!in(before, a)) log("address " + with_prefix(a) + " appeared on " + tap + ": answering");
  }
  for (const InterfaceAddress& a : before) {
    if (in(after, a)) continue;
    log("address " + with_prefix(a) + " disappeared from " + tap +
        (is_static(a.address) ? ": still answering, it is a static --address" : ": no longer answering"));
  }
}

void print_counters(const shm::Segment& seg, unsigned lcores, const char* heading) {
  std::string line = heading;
  for (std::size_t c = 0; c < index(Counter::kCount); ++c) {
    const std::uint64_t v = shm::sum(seg.counters(), lcores, c);
    if (v != 0) line += std::string(" ") + counter_name(static_cast<Counter>(c)) + "=" + std::to_string(v);
  }
  log(line);
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) {
    die(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
        " (run as root; without hugepages pass --no-huge -m 128; see the EAL messages above)");
  }
  Options opt = parse(argc - eal - 1 > 0 ? argc - eal - 1 : 0, argv + eal + 1);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const unsigned lcores = rte_lcore_count();
  if (lcores > shm::kMaxLcores) die("at most " + std::to_string(shm::kMaxLcores) + " lcores are supported");

  rte_mempool* pool = rte_pktmbuf_pool_create("lt_mbufs", opt.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    die("cannot allocate " + std::to_string(opt.mbufs) + " mbufs: " + rte_strerror(rte_errno) +
        " (raise the EAL memory with -m, or lower --mbufs)");
  }

  if (!rte_eth_dev_is_valid_port(opt.port)) {
    die(no_such_port(opt.port));
  }
  std::uint16_t tap_port = kNoPort;
  if (!opt.tap.empty()) {
    // The kernel side of the TAP takes the data port's MAC: the frames the
    // dataplane hands it are addressed to that MAC, and the kernel's own
    // frames must leave the port with it.
    rte_ether_addr data_mac{};
    rte_eth_macaddr_get(opt.port, &data_mac);
    char mac_text[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac_text, sizeof mac_text, &data_mac);
    const std::string args = "iface=" + opt.tap + ",mac=" + mac_text;
    if (rte_vdev_init("net_tap_lt", args.c_str()) != 0 || rte_eth_dev_get_port_by_name("net_tap_lt", &tap_port) != 0) {
      die("cannot create the exception interface " + opt.tap + " (net_tap needs root and /dev/net/tun)");
    }
  }
  if (opt.port == tap_port) die("--port " + std::to_string(opt.port) + " is the exception interface; choose the data port");

  auto data = start_port(PortRequest{opt.port, static_cast<std::uint16_t>(lcores), pool});
  if (!data) die(data.error());
  opt.local.mac = data->mac;
  log(port_label(opt.port) + " up, MAC " + wire::to_string(data->mac) + ", " + std::to_string(lcores) + " lcore(s)" +
      (lcores > 1 ? (data->rss ? ", RSS on" : ", no RSS: only queue 0 receives") : "") + "; " + data->timestamping);
  if (tap_port != kNoPort) {
    auto tap = start_port(PortRequest{tap_port, static_cast<std::uint16_t>(lcores), pool, 512, 512, false});
    if (!tap) die(tap.error());
    log("exception interface " + opt.tap + " is " + port_label(tap_port) + " with the data port's MAC: give it the"
        " server's addresses with ip addr, and keep the kernel off the data port's own interface");
  }

  // The kernel's view of the TAP: learned addresses, routes and neighbours.
  std::unique_ptr<Netlink> netlink;
  static const KernelTables no_kernel;
  if (!opt.tap.empty()) {
    auto nl = Netlink::open(opt.tap);
    if (!nl) die(nl.error());
    netlink = std::move(*nl);
  }
  const KernelTables& kernel = netlink ? netlink->tables() : no_kernel;
  AddressSet statics;
  for (const auto& a : opt.local.ipv4) statics.add(a);
  for (const auto& a : opt.local.ipv6) statics.add(a);
  AddressPublisher addresses(lcores, merge_addresses(statics, kernel.addresses));
  if (netlink) log_address_changes({}, kernel.addresses, statics, opt.tap);
  if (addresses.current().ipv4.empty() && addresses.current().ipv6.empty()) {
    log("no address to answer on yet: give " + opt.tap + " one with ip addr add ADDR/LEN dev " + opt.tap);
  }

  auto seg = shm::Segment::open(opt.shm, shm::Side::kDataplane);
  if (!seg) die(seg.error().message);
  if (const std::uint64_t stale = seg->drain_stale(); stale != 0) log("dropped " + std::to_string(stale) + " stale upstream requests");
  seg->self().lcores.store(lcores);

  // The TSC -> UTC mapping: refitted by the main lcore, read by every worker.
  static shm::Seqlock<hwclock::Timebase> timebase_lock;
  hwclock::TimebaseEstimator estimator(static_cast<double>(rte_get_tsc_hz()));
  auto timebase_round = [&] {
    if (sample_timebase(estimator)) timebase_lock.store(estimator.timebase());
  };
  for (int i = 0; i < 4; ++i) timebase_round();

  // Access control: the restrict file's rules until the control publishes.
  CompiledAcl initial_acl = compile_restrict({});
  // Symmetric keys: read-only once the lcores run, shared by all of them.
  static auth::KeyTable keys;
  if (!opt.restrict_file.empty()) {
    auto rf = load_restrict_file(opt.restrict_file);
    if (!rf) die(rf.error() + "(in --restrict-file " + opt.restrict_file + ")");
    for (const std::string& n : rf->notes) log(n);
    initial_acl = compile_restrict(rf->rules, rf->rate);
    keys = auth::KeyTable(rf->keys, rf->trusted_keys);
    if (!rf->keys_file.empty()) {
      std::string ids;
      for (std::uint32_t id : rf->trusted_keys) {
        if (keys.find(id) != nullptr) ids += (ids.empty() ? "" : " ") + std::to_string(id);
      }
      log("authentication: " + std::to_string(keys.size()) + " trusted key(s) from " + rf->keys_file +
          (ids.empty() ? " — requests with a MAC get a crypto-NAK until trustedkey names keys of the file"
                       : " (" + ids + "); other MACs get a crypto-NAK"));
    }
  }
  // Destroyed before the EAL: its tables live in DPDK memory.
  auto acl = std::make_unique<EpochPublisher<AccessControl>>(
      lcores, build_acl(initial_acl, opt.clients,
                        opt.restrict_file.empty() ? "no restrict file: everyone is served" : opt.restrict_file));
  shm::TableRegion tables(seg->tables());
  std::uint64_t acl_generation = 0;

  const hwclock::Duration holdover = hwclock::Duration::from_seconds(opt.holdover_s);
  unsigned q = 0;
  unsigned main_index = 0;
  unsigned lcore_id = 0;
  RTE_LCORE_FOREACH(lcore_id) {
    WorkerConfig wc;
    wc.port = opt.port;
    wc.queue = static_cast<std::uint16_t>(q);
    wc.exception_port = tap_port;
    wc.exception_queue = static_cast<std::uint16_t>(q);
    wc.io = lcore_id == rte_get_main_lcore();
    wc.counter_block = q;
    wc.rx_ts = data->rx_ts;
    if (wc.io) main_index = q;
    ClientTable clients;
    if (opt.clients > 0) {
      // A seed per process and lcore: which addresses share a bucket cannot
      // be known from outside.
      const std::uint64_t seed = rte_rdtsc() * 0x9E37'79B9'7F4A'7C15ULL ^ static_cast<std::uint64_t>(::getpid()) << 32 ^ q;
      auto made = ClientTable::create(opt.clients, seed, true);
      if (!made) die(made.error() + " (--clients " + std::to_string(opt.clients) + ")");
      clients = std::move(*made);
    }
    g_lcores.push_back(std::make_unique<Worker>(wc, opt.local, *seg, timebase_lock, holdover, std::move(clients)));
    g_lcores.back()->follow_addresses(addresses, q);
    g_lcores.back()->follow_acl(*acl, q);
    g_lcores.back()->processor().responder().set_keys(&keys);
    ++q;
  }
  q = 0;
  RTE_LCORE_FOREACH(lcore_id) {
    if (lcore_id != rte_get_main_lcore()) rte_eal_remote_launch(worker_main, g_lcores[q].get(), lcore_id);
    ++q;
  }

  seg->self().ready.store(1, std::memory_order_release);
  if (!opt.ready_file.empty()) std::ofstream(opt.ready_file) << ::getpid() << "\n";
  log("answering NTP; server state from shared memory " + opt.shm + "; " +
      (opt.clients > 0 ? "interleaved mode for " + std::to_string(g_lcores[0]->clients().capacity()) +
                             " clients per lcore (" + std::to_string(g_lcores[0]->clients().bytes() >> 20) + " MiB each)"
                       : std::string("interleaved mode off (--clients 0)")));

  Worker& main_worker = *g_lcores[main_index];
  // The control's upstream requests leave from this lcore, on its queue.
  UpstreamSenderConfig uc;
  uc.port = opt.port;
  uc.queue = static_cast<std::uint16_t>(main_index);
  uc.pool = pool;
  uc.mac = data->mac;
  uc.counter_block = main_index;
  std::string resolve_error;
  UpstreamSender upstream(uc, *seg, timebase_lock, kernel, addresses.current(), [&](const shm::NetAddress& hop) {
    if (!netlink) return;
    if (netlink->resolve(hop)) {
      resolve_error.clear();
    } else if (netlink->last_error() != resolve_error) {
      resolve_error = netlink->last_error();
      log("the kernel refused to resolve next hop " + to_string(hop) + " on " + opt.tap + ": " + resolve_error +
          " (upstream requests through it are dropped; check ip neigh and ip route on " + opt.tap + ")");
    }
  });

  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t start = rte_rdtsc();
  std::uint64_t next_housekeeping = start;
  std::uint64_t next_stats = start + static_cast<std::uint64_t>(opt.stats_interval_s * static_cast<double>(hz));
  const std::uint64_t end = opt.duration_s > 0 ? start + static_cast<std::uint64_t>(opt.duration_s * static_cast<double>(hz)) : 0;
  bool was_silent = true;
  while (!g_stop.load(std::memory_order_relaxed)) {
    main_worker.poll_once();
    if (upstream.has_work()) upstream.poll(hwclock::MonoTime(clock_ns(CLOCK_MONOTONIC)));
    const std::uint64_t now = rte_rdtsc();
    if (now < next_housekeeping) continue;
    next_housekeeping = now + hz / 10;  // every 100 ms
    timebase_round();
    if (netlink) {
      const std::vector<InterfaceAddress> before = kernel.addresses;
      if (netlink->poll() && before != kernel.addresses) {
        log_address_changes(before, kernel.addresses, statics, opt.tap);
        AddressSet next = merge_addresses(statics, kernel.addresses);
        if (!(next == addresses.current())) {
          addresses.publish(std::move(next));
          upstream.set_addresses(addresses.current());
        }
      }
      addresses.reclaim();
    }
    // The control's access table (reader slot 0 of the table region: this
    // lcore copies it into the DPDK tables the workers read).
    if (const shm::TableRegion::View v = tables.acquire(0); v.generation != acl_generation) {
      acl_generation = v.generation;
      if (auto table = shm::parse_acl(v.table)) {
        acl->publish(build_acl(from_table(*table), opt.clients,
                              "linetime-control (table generation " + std::to_string(v.generation) + ")"));
      } else {
        log("linetime-control published an access table this dataplane cannot read (generation " +
            std::to_string(v.generation) + "): keeping the current one; run a control and dataplane of one version");
      }
    }
    acl->reclaim();
    seg->heartbeat(hwclock::MonoTime(clock_ns(CLOCK_MONOTONIC)));
    const bool silent = main_worker.state().control_silent();
    if (silent != was_silent) {
      log(silent ? "no heartbeat from linetime-control within the holdover: answering unsynchronized (LI=3, stratum 16)"
                 : "linetime-control is publishing: answering at stratum " +
                       std::to_string(main_worker.state().served().stratum));
      was_silent = silent;
    }
    if (opt.stats_interval_s > 0 && now >= next_stats) {
      next_stats = now + static_cast<std::uint64_t>(opt.stats_interval_s * static_cast<double>(hz));
      print_counters(*seg, lcores, "counters:");
    }
    if (end != 0 && now >= end) g_stop.store(true);
  }

  rte_eal_mp_wait_lcore();
  seg->self().ready.store(0);
  if (!opt.ready_file.empty()) std::remove(opt.ready_file.c_str());
  print_counters(*seg, lcores, "final counters:");
  rte_eth_dev_stop(opt.port);
  if (tap_port != kNoPort) rte_eth_dev_stop(tap_port);
  g_lcores.clear();
  acl.reset();
  rte_eal_cleanup();
  return 0;
}
