// linetime-control's daemon: configuration in, associations polling their
// servers through a transport, the discipline deciding, the clock driver
// steering, and the result published — to the dataplane through shared memory
// (appliance mode), to clients on a kernel socket (node mode with --serve), and
// to operators through the management socket.
//
// Node mode's loop is single-threaded and waits in poll() with a timeout taken
// from the next timer (associations, discipline, drift file, management, the
// RTC's next read or write), so the daemon also runs unchanged under
// LD_PRELOAD clock and network simulators.
//
// The RTC (`rtcfile`, `rtcsync`, `rtcdevice`): at start, before any source
// answers, the clock is set from the RTC corrected for its drift (with an
// rtcfile, at the first start after a boot); while synchronized the RTC is
// measured and written every 11 minutes without blocking the loop
// (hwclock::RtcSteering::poll); at exit a last measurement and write. With -x
// the simulated clock is set from it and the RTC is only read, never written.
// `hwtimestamp IFACE` is checked at start (ETHTOOL_GET_TS_INFO) and logged.
//
// Symmetric keys (`keys`, `trustedkey`, `key N` on server lines): the trusted
// keys become one auth::KeyTable that signs every association's requests and
// checks its replies, and authenticates clients of --serve. A source whose
// `key N` is not a trusted key of the keys file stops the start (and a reload
// with one keeps the running configuration): sending it unauthenticated
// requests would quietly give up what the line asks for, and the fix is one
// line of configuration. A reload re-reads the keys file; a source whose key
// changed is started afresh.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "control/config.h"
#include "control/transport.h"
#include "dataplane/auth/mac.h"
#include "discipline/discipline.h"
#include "hwclock/expected.h"
#include "hwclock/rtc.h"

namespace linetime::control {

// Opens the RTC named by `rtcdevice`, read-write only when it is to be written.
using RtcOpener = std::function<Expected<std::unique_ptr<hwclock::RtcDevice>, hwclock::RtcStatus>(
    const std::string& path, bool writable)>;

struct DaemonOptions {
  std::string config_path = "/etc/ntp.conf";
  bool no_clock_control = false;    // -x: discipline a simulated clock that follows the system clock
  bool allow_first_panic = false;   // -g
  bool one_shot = false;            // -q: set the clock once and exit
  bool foreground = false;          // -n
  std::string user;                 // -u user[:group]
  std::string pidfile;              // -p
  std::string logfile;              // -l, overrides the configuration's `logfile`
  std::string socket_path;          // -s, overrides `control socket`
  std::optional<Endpoint> serve;    // --serve ADDR:PORT: answer NTP clients on a kernel socket
  std::string shm_name;             // --shm NAME, overrides `shm`: appliance mode
  std::uint16_t upstream_port = 40000;  // --upstream-port: appliance mode's request source port
  std::optional<double> duration_s; // --duration: stop after this many seconds (tests, demos)
  std::string drift_path;           // overrides `driftfile`
  std::optional<Endpoint> metrics;  // --metrics ADDR:PORT: Prometheus endpoint (default 127.0.0.1:9123)
  bool no_metrics = false;          // --metrics off
  RtcOpener open_rtc;               // empty: the Linux driver (hwclock::LinuxRtc); tests give a FakeRtc
};

inline constexpr const char* kDefaultControlSocket = "/run/linetime/control.sock";

// The discipline's settings from the configuration and the command line.
discipline::DisciplineConfig discipline_config(const Config& config, const DaemonOptions& options,
                                               std::optional<double> drift_ppm);

// The trusted keys of `config` (its keys file's keys that `trustedkey` lists),
// prepared for signing and verifying.
std::shared_ptr<const auth::KeyTable> key_table(const Config& config);

// Runs the daemon until SIGTERM/SIGINT, --duration, or the one-shot exit.
// Returns the process exit status.
int run_daemon(const DaemonOptions& options);

}  // namespace linetime::control
