// linetime-control: the daemon that decides what time it is. The command line
// follows ntpd's (the seeds' OPTIONS="-u ntp:ntp -p /var/run/ntpd.pid -g"), plus
// chronyd's -x for running without touching the system clock.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/check_config.h"
#include "control/daemon.h"
#include "control/metrics_http.h"

using namespace linetime::control;

namespace {

void usage(std::FILE* to) {
  std::fputs(
      "usage: linetime-control [-c FILE] [-n] [-g] [-q] [-x] [-u USER[:GROUP]] [-p PIDFILE] [-l LOGFILE]\n"
      "                        [-s SOCKET] [-f DRIFTFILE] [--serve ADDR:PORT] [--shm NAME [--upstream-port N]]\n"
      "                        [--metrics ADDR:PORT|off] [--duration SECONDS]\n"
      "       linetime-control --check-config FILE\n"
      "\n"
      "  -c FILE            configuration in ntp.conf's dialect (default /etc/ntp.conf)\n"
      "  -n                 stay in the foreground, log to standard error (systemd units use it)\n"
      "  -g                 allow the first adjustment to exceed the panic threshold (tinker panic)\n"
      "  -q                 set the clock once and exit (what ntpdate was used for)\n"
      "  -x                 no clock control: discipline a simulated clock that follows the system\n"
      "                     clock, never adjusting it (tests, demos, benchmarks, watching a host)\n"
      "  -u USER[:GROUP]    drop root after start-up, keeping only CAP_SYS_TIME (and\n"
      "                     CAP_NET_BIND_SERVICE when serving a port below 1024)\n"
      "  -p PIDFILE         write the process id there while running\n"
      "  -l LOGFILE         log to this file (default: the configuration's logfile, else syslog)\n"
      "  -s SOCKET          management socket for linetimectl (default: `control socket`, else\n"
      "                     /run/linetime/control.sock)\n"
      "  -f DRIFTFILE       drift file (default: the configuration's driftfile)\n"
      "  --serve ADDR:PORT  node mode: also answer NTP clients on a kernel socket\n"
      "  --shm NAME         appliance mode: publish the server state to the dataplane's shared memory\n"
      "                     and send upstream requests through the dataplane\n"
      "  --upstream-port N  appliance mode: UDP source port of upstream requests (default 40000; must\n"
      "                     be inside the dataplane's --upstream-ports range)\n"
      "  --metrics ADDR:PORT Prometheus metrics over HTTP at /metrics (default 127.0.0.1:9123,\n"
      "                     loopback only); `--metrics off` serves none\n"
      "  --duration SECONDS stop after this long (bounded runs)\n"
      "  --check-config FILE validate a configuration without network access and exit\n"
      "\n"
      "Signals: SIGTERM/SIGINT stop (the drift file is written), SIGHUP reloads the configuration\n"
      "keeping the state of unchanged sources.\n",
      to);
}

[[noreturn]] void bad(const std::string& msg) {
  std::fprintf(stderr, "linetime-control: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  DaemonOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) bad(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--check-config") {
      if (i + 1 >= argc) bad("--check-config needs a FILE, e.g. --check-config /etc/ntp.conf");
      return check_config(argv[i + 1]);
    } else if (a == "-c") {
      o.config_path = value();
    } else if (a == "-n") {
      o.foreground = true;
    } else if (a == "-g") {
      o.allow_first_panic = true;
    } else if (a == "-q") {
      o.one_shot = true;
    } else if (a == "-x") {
      o.no_clock_control = true;
    } else if (a == "-u") {
      o.user = value();
    } else if (a == "-p") {
      o.pidfile = value();
    } else if (a == "-l") {
      o.logfile = value();
    } else if (a == "-s") {
      o.socket_path = value();
    } else if (a == "-f") {
      o.drift_path = value();
    } else if (a == "--serve") {
      const std::string v = value();
      o.serve = parse_host_port(v);
      if (o.serve && o.serve->port == 0) o.serve.reset();
      if (!o.serve) bad("--serve " + v + ": expected ADDR:PORT, e.g. 198.18.0.1:123 or [2001:db8::1]:123");
    } else if (a == "--metrics") {
      const std::string v = value();
      if (v == "off") {
        o.no_metrics = true;
      } else {
        o.metrics = parse_host_port(v);
        if (!o.metrics) bad("--metrics " + v + ": expected ADDR:PORT, e.g. 127.0.0.1:9123 or [::1]:9123, or off");
      }
    } else if (a == "--shm") {
      o.shm_name = value();
    } else if (a == "--upstream-port") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n < 1024 || n > 65535) bad("--upstream-port " + v + ": expected a port from 1024 to 65535");
      o.upstream_port = static_cast<std::uint16_t>(n);
    } else if (a == "--duration") {
      const std::string v = value();
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (*end != '\0' || !(d > 0)) bad("--duration " + v + ": expected a positive number of seconds");
      o.duration_s = d;
    } else {
      bad("unknown option '" + std::string(a) + "'");
    }
  }
  return run_daemon(o);
}
