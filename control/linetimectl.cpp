// linetimectl: the operator's tool for linetime. It asks linetime-control over
// its management socket and prints what operators know from ntpq -p and
// ntpstat, measures servers once like ntpdate -q / ntpdig (never adjusting a
// clock), reads the dataplane's counters from its shared memory, prints the
// Prometheus metrics, and checks configuration files.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "control/check_config.h"
#include "control/daemon.h"
#include "control/format.h"
#include "control/json.h"
#include "control/management.h"
#include "control/query.h"
#include "dataplane/shm/segment.h"

using namespace linetime::control;

namespace {

void usage(std::FILE* to) {
  std::fputs(
      "usage: linetimectl [-s SOCKET] [--timeout SECONDS] COMMAND [OPTIONS]\n"
      "\n"
      "commands:\n"
      "  peers [--json]            the sources in the shape of `ntpq -p`\n"
      "  status [--json]           the synchronisation summary of `ntpstat`; exit 0 synchronised,\n"
      "                            1 not synchronised, 2 daemon unreachable or status unknown\n"
      "  metrics                   the Prometheus text the daemon serves on --metrics (default\n"
      "                            http://127.0.0.1:9123/metrics)\n"
      "  counters --shm NAME [--interval SECONDS]\n"
      "                            the dataplane's packet counters by reason and lcore, with rates\n"
      "                            per second over the interval\n"
      "  query [-4|-6] [-p PORT] [-t SECONDS] [-c SAMPLES] [--json] HOST...\n"
      "                            measure servers once like `ntpdate -q`; never adjusts a clock;\n"
      "                            exit 0 when one server gave a usable answer\n"
      "  check-config FILE         validate a configuration without network access\n"
      "\n"
      "  -s SOCKET                 linetime-control's management socket (default /run/linetime/control.sock)\n"
      "  --timeout SECONDS         how long to wait for the daemon (default 2)\n",
      to);
}

[[noreturn]] void bad(const std::string& msg) {
  std::fprintf(stderr, "linetimectl: %s (see linetimectl --help)\n", msg.c_str());
  std::exit(2);
}

double positive_seconds(const std::string& option, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d > 0) || d > 86400) {
    bad(option + " " + v + ": expected a number of seconds above 0, e.g. " + option + " 2");
  }
  return d;
}

struct Common {
  std::string socket = kDefaultControlSocket;
  std::chrono::milliseconds timeout{2000};
};

// Asks the daemon for its status; prints why not on failure.
std::optional<Status> fetch_status(const Common& c) {
  auto answer = ask_management(c.socket, "status", c.timeout);
  if (!answer) {
    std::fprintf(stderr, "linetimectl: %s; linetimectl asks the socket given with -s SOCKET\n", answer.error().c_str());
    return std::nullopt;
  }
  if (answer->rfind("error:", 0) == 0) {
    std::fprintf(stderr, "linetimectl: linetime-control answered: %s", answer->c_str());
    return std::nullopt;
  }
  auto st = status_from_json(*answer);
  if (!st) {
    std::fprintf(stderr, "linetimectl: %s (is linetimectl from the same release as the daemon?)\n", st.error().c_str());
    return std::nullopt;
  }
  return std::move(*st);
}

int cmd_peers(const Common& c, const std::vector<std::string>& args) {
  bool json = false;
  for (const auto& a : args) {
    if (a == "--json") json = true;
    else bad("peers: unknown option '" + a + "'");
  }
  const auto st = fetch_status(c);
  if (!st) return 1;
  std::fputs(json ? (to_json(*st) + "\n").c_str() : format_peers(*st).c_str(), stdout);
  return 0;
}

int cmd_status(const Common& c, const std::vector<std::string>& args) {
  bool json = false;
  for (const auto& a : args) {
    if (a == "--json") json = true;
    else bad("status: unknown option '" + a + "'");
  }
  const auto st = fetch_status(c);
  if (!st) return kSyncUnknown;
  const SyncSummary sum = format_ntpstat(*st);
  std::fputs(json ? (to_json(*st) + "\n").c_str() : sum.text.c_str(), stdout);
  return sum.exit_code;
}

int cmd_metrics(const Common& c, const std::vector<std::string>& args) {
  if (!args.empty()) bad("metrics takes no options");
  auto answer = ask_management(c.socket, "metrics", c.timeout);
  if (!answer) {
    std::fprintf(stderr, "linetimectl: %s; linetimectl asks the socket given with -s SOCKET\n", answer.error().c_str());
    return 1;
  }
  if (answer->rfind("error:", 0) == 0) {
    std::fprintf(stderr, "linetimectl: linetime-control answered: %s", answer->c_str());
    return 1;
  }
  std::fputs(answer->c_str(), stdout);
  return 0;
}

int cmd_counters(const std::vector<std::string>& args) {
  std::string shm_name;
  double interval_s = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) bad(a + " needs a value");
      return args[++i];
    };
    if (a == "--shm") shm_name = value();
    else if (a == "--interval") interval_s = positive_seconds(a, value());
    else bad("counters: unknown option '" + a + "'");
  }
  if (shm_name.empty()) bad("counters needs --shm NAME, the dataplane's shared memory (e.g. --shm /linetime)");
  linetime::shm::OpenOptions oo;
  oo.create = false;
  oo.replace_stale = false;
  auto seg = linetime::shm::Segment::open(shm_name, linetime::shm::Side::kObserver, oo);
  if (!seg) {
    std::fprintf(stderr, "linetimectl: %s\n", seg.error().message.c_str());
    return 1;
  }
  auto lcores = [&] {
    const std::uint32_t n = seg->header().dataplane.lcores.load(std::memory_order_acquire);
    return static_cast<std::size_t>(n == 0 || n > seg->header().max_lcores ? seg->header().max_lcores : n);
  };
  const CounterTable before = read_counters(seg->counters(), lcores());
  if (interval_s <= 0) {
    std::fputs(format_counters(before).c_str(), stdout);
    return 0;
  }
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double elapsed = static_cast<double>(t1.tv_sec - t0.tv_sec) + static_cast<double>(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  const CounterTable after = read_counters(seg->counters(), lcores());
  std::fputs(format_counters(after, &before, elapsed).c_str(), stdout);
  return 0;
}

int cmd_query(const std::vector<std::string>& args) {
  QueryOptions o;
  bool json = false;
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) bad(a + " needs a value");
      return args[++i];
    };
    if (a == "--json") {
      json = true;
    } else if (a == "-4") {
      o.ipv4_only = true;
    } else if (a == "-6") {
      o.ipv6_only = true;
    } else if (a == "-p") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 65535) bad("-p " + v + ": expected a UDP port from 1 to 65535");
      o.port = static_cast<std::uint16_t>(n);
    } else if (a == "-t") {
      o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(positive_seconds(a, value()) * 1000));
    } else if (a == "-c") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 8) bad("-c " + v + ": expected 1 to 8 samples per server");
      o.samples = static_cast<int>(n);
    } else if (!a.empty() && a[0] == '-') {
      bad("query: unknown option '" + a + "'");
    } else {
      hosts.push_back(a);
    }
  }
  if (hosts.empty()) bad("query needs at least one HOST, e.g. linetimectl query 198.18.1.1");
  if (o.ipv4_only && o.ipv6_only) bad("query: give -4 or -6, not both");
  const std::vector<QueryResult> results = query_servers(hosts, o);
  std::fputs(json ? query_json(results).c_str() : format_query(results).c_str(), stdout);
  return best_server(results) >= 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Common c;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "-s") {
      if (i + 1 >= argc) bad("-s needs the management socket's path");
      c.socket = argv[++i];
    } else if (a == "--timeout") {
      if (i + 1 >= argc) bad("--timeout needs a number of seconds");
      c.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(positive_seconds("--timeout", argv[++i]) * 1000));
    } else if (!a.empty() && a[0] == '-') {
      bad("unknown option '" + std::string(a) + "'");
    } else {
      break;
    }
  }
  if (i >= argc) bad("give a command: peers, status, metrics, counters, query or check-config");
  const std::string command = argv[i];
  const std::vector<std::string> args(argv + i + 1, argv + argc);
  if (command == "peers") return cmd_peers(c, args);
  if (command == "status") return cmd_status(c, args);
  if (command == "metrics") return cmd_metrics(c, args);
  if (command == "counters") return cmd_counters(args);
  if (command == "query") return cmd_query(args);
  if (command == "check-config") {
    if (args.size() != 1) bad("check-config needs exactly one FILE, e.g. linetimectl check-config /etc/ntp.conf");
    return check_config(args[0]);
  }
  bad("unknown command '" + command + "'");
}
