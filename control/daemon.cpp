#include "hwclock/clock_read.h"
#include "control/daemon.h"

#include <linux/ethtool.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "control/association.h"
#include "control/clock_driver.h"
#include "control/driftfile.h"
#include "control/format.h"
#include "control/kernel_transport.h"
#include "control/management.h"
#include "control/metrics_http.h"
#include "control/mode6.h"
#include "control/process.h"
#include "control/resolver.h"
#include "control/ring_transport.h"
#include "control/status.h"
#include "dataplane/responder.h"
#include "dataplane/restrict_file.h"
#include "dataplane/shm/tables.h"
#include "dataplane/shm/segment.h"
#include "hwclock/rtc_drift.h"

namespace linetime::control {

using hwclock::realtime_now;

namespace {

using discipline::SourceStatus;
using hwclock::Duration;
using hwclock::MonoTime;
using hwclock::UtcTime;

constexpr std::uint32_t kLocalRefid = 0x4C4F434C;  // "LOCL"
constexpr hwclock::Duration kRetryResolve = hwclock::Duration::from_s(60);  // names that failed, pool refreshes
constexpr std::size_t kPoolSize = 4;  // servers taken from one `pool` line

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reload = 0;

void on_stop_signal(int) { g_stop = 1; }
void on_hup(int) { g_reload = 1; }

// Time since the system booted, suspend included.
Duration since_boot() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return Duration(std::int64_t{ts.tv_sec} * hwclock::kNsPerSec + ts.tv_nsec);
}

// Sleeps until `clock` reads `t` (the disciplined clock runs within 0.1 % of
// the real one: a second sleep at most corrects the rest).
void sleep_until(ClockDriver& clock, UtcTime t) {
  for (int i = 0; i < 3; ++i) {
    const Duration left = std::min(t - clock.now(), Duration::from_s(2));
    if (left <= Duration{}) return;
    timespec ts{static_cast<time_t>(left.ns() / hwclock::kNsPerSec), static_cast<long>(left.ns() % hwclock::kNsPerSec)};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
}

// What the kernel says about hardware time stamping on `iface`
// (ETHTOOL_GET_TS_INFO), as a line for the log; `supported` when the NIC
// stamps received and sent packets with a PHC's time.
std::string hardware_stamping_of(const std::string& iface, bool& supported) {
  supported = false;
  const std::string what = "hwtimestamp " + iface + ": ";
  const std::string fallback = " — the kernel's software timestamps are used instead";
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return what + "cannot ask the kernel (socket: " + std::strerror(errno) + ")" + fallback;
  ethtool_ts_info info{};
  info.cmd = ETHTOOL_GET_TS_INFO;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface.c_str());
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  const int rc = ::ioctl(fd, SIOCETHTOOL, &ifr);
  const int e = errno;
  ::close(fd);
  if (rc < 0 && e == ENODEV) {
    return what + "no such interface — fix the hwtimestamp line (`ip link` lists the interfaces)" + fallback;
  }
  if (rc < 0) {
    return what + "not supported on this interface (ETHTOOL_GET_TS_INFO: " + std::strerror(e) + ")" + fallback +
           "; remove the line";
  }
  constexpr std::uint32_t kNeeded =
      SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE;
  if ((info.so_timestamping & kNeeded) != kNeeded || info.phc_index < 0) {
    return what + "not supported on this interface (its driver reports no hardware time stamping, `ethtool -T " +
           iface + "` shows the same)" + fallback + "; remove the line, or name an interface whose NIC stamps in hardware";
  }
  supported = true;
  return what + "the NIC stamps in hardware with /dev/ptp" + std::to_string(info.phc_index) +
         "; node mode still takes the kernel's software timestamps (hardware ones are not mapped to the system clock "
         "yet)";
}

Expected<std::unique_ptr<hwclock::RtcDevice>, hwclock::RtcStatus> open_linux_rtc(const std::string& path,
                                                                                bool writable) {
  auto rtc = hwclock::LinuxRtc::open(path, writable);
  if (!rtc) return unexpected(rtc.error());
  return std::unique_ptr<hwclock::RtcDevice>(std::move(*rtc));
}

// The daemon's log: a file (`logfile`, -l), standard error in the foreground,
// syslog otherwise. One line per event, UTC time first in files.
class Log {
 public:
  void open(const std::string& file, bool foreground) {
    if (!file.empty()) {
      file_ = std::fopen(file.c_str(), "a");
      if (file_ == nullptr) {
        std::fprintf(stderr, "linetime-control: cannot open log file %s: %s; logging to %s\n", file.c_str(),
                     std::strerror(errno), foreground ? "standard error" : "syslog");
      }
    }
    syslog_ = file_ == nullptr && !foreground;
    if (syslog_) openlog("linetime-control", LOG_PID, LOG_DAEMON);
  }
  ~Log() {
    if (file_ != nullptr) std::fclose(file_);
  }
  void operator()(int priority, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (syslog_) {
      ::syslog(priority, "%s", msg);
      return;
    }
    std::FILE* to = file_ != nullptr ? file_ : stderr;
    const std::int64_t ns = realtime_now().ticks();
    const time_t secs = static_cast<time_t>(ns / hwclock::kNsPerSec);
    tm t{};
    gmtime_r(&secs, &t);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
    std::fprintf(to, "%s.%03dZ linetime-control: %s\n", stamp, static_cast<int>((ns / 1'000'000) % 1000), msg);
    std::fflush(to);
  }

 private:
  std::FILE* file_ = nullptr;
  bool syslog_ = false;
};

// The reference ID we publish when a source is the system peer: its IPv4
// address, or the first four bytes of a hash of its IPv6 address (RFC 5905
// uses MD5; any stable digest serves, clients only compare it for loops).
std::uint32_t reference_id_of(const IpAddress& a) {
  if (!a.is_v6) return a.v4.value;
  std::uint32_t h = 2166136261u;
  for (const auto b : a.v6.bytes) h = (h ^ b) * 16777619u;
  return h;
}

std::string refid_text(std::uint32_t id, int stratum) {
  // Stratum 0-1 carry a kiss code or a reference clock's name in ASCII; our
  // own local reference publishes "LOCL" at its stratum. Anything else, or
  // a name with bytes that do not print (chronyd's local reference is
  // 127.127.1.1), is an address.
  std::string text;
  bool printable = true;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((id >> shift) & 0xff);
    if (c == 0 && shift < 24) break;
    printable = printable && c >= 0x20 && c < 0x7f;
    text += c;
  }
  if (printable && (stratum <= 1 || id == kLocalRefid)) return "." + text + ".";
  char buf[20];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
  return buf;
}

char tally_of(SourceStatus s) {
  switch (s) {
    case SourceStatus::kSystemPeer: return '*';
    case SourceStatus::kSurvivor: return '+';
    case SourceStatus::kExcess: return '-';
    case SourceStatus::kFalseticker: return 'x';
    default: return ' ';
  }
}

wire::Bytes as_wire(std::span<const std::byte> b) {
  return wire::Bytes(reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
}

bool same_source(const Source& a, const Source& b) {
  Source x = a;
  x.where = b.where;
  return x == b;
}

// The keys file's entry for the source's `key N`, or nullptr.
const auth::Key* key_of(const Config& config, const Source& s) {
  if (!s.key) return nullptr;
  const auto it = std::find_if(config.keys.begin(), config.keys.end(), [&](const auth::Key& k) { return k.id == *s.key; });
  return it != config.keys.end() ? &*it : nullptr;
}

// Whether the source's key reads the same in both configurations (type and
// secret): a source whose key changed is a new association.
bool same_key(const Config& a, const Config& b, const Source& s) {
  const auth::Key* x = key_of(a, s);
  const auth::Key* y = key_of(b, s);
  return x == y || (x != nullptr && y != nullptr && *x == *y);
}

class Daemon {
 public:
  Daemon(const DaemonOptions& opts, Config config, Log& log)
      : opts_(opts), config_(std::move(config)), log_(log) {}

  int run();

 private:
  struct Peer {
    Source source;
    Endpoint endpoint;
    std::unique_ptr<Association> assoc;
    discipline::SourceId id = 0;
    std::optional<std::uint64_t> pending_token;
    bool retired = false;  // removed from the configuration by a reload
    std::uint16_t assoc_id = 0;  // mode 6 association id, never reused
    std::optional<discipline::SourceHeader> header;  // from the last sample
    std::vector<mode6::FilterStage> recent;          // the last samples, newest first
  };

  bool setup();
  void setup_rtc();
  // Logs every source whose `key N` cannot be used; false when there is one.
  bool synchronized() const { return discipline_->state().mode == discipline::SyncMode::kSynchronized; }
  void add_peers(const Source& s);
  void add_resolved(const Source& s, const std::vector<IpAddress>& addresses);
  void on_resolved(const AsyncResolver::Result& r);
  void lookup(const Source& s);
  void maintain_sources(MonoTime now);
  void reload();
  void run_timers(UtcTime now);
  void on_datagram(const Datagram& d);
  void on_tx(const TxReport& r);
  void handle_actions(Peer& p, const Actions& actions, UtcTime now);
  bool execute(const discipline::ClockCommand& cmd, UtcTime now);
  void after_update(UtcTime now);
  void publish(UtcTime now);
  void prepare_acl();
  void publish_acl();
  void serve(const Datagram& d);
  UtcTime to_local(UtcTime real) { return real + (clock_->now() - realtime_now()); }
  Status status();
  void answer_control(const Datagram& d, KernelTransport& via);
  mode6::Snapshot control_snapshot();
  std::string answer(std::string_view command);
  std::string drift_path() const { return opts_.drift_path.empty() ? config_.driftfile : opts_.drift_path; }

  const DaemonOptions& opts_;
  Config config_;
  Log& log_;
  std::unique_ptr<ClockDriver> clock_;
  std::unique_ptr<discipline::Discipline> discipline_;
  std::vector<Peer> peers_;
  // Host names being looked up (by lookup id), and those to try again.
  AsyncResolver resolver_;
  std::unordered_map<std::uint64_t, Source> lookups_;
  std::vector<std::pair<Source, MonoTime>> retry_;
  std::unordered_map<std::string, MonoTime> pool_refresh_;  // pool host -> earliest next re-resolution
  std::unordered_map<std::uint64_t, std::size_t> tokens_;  // transport token -> peer
  std::unique_ptr<Transport> upstream_;  // kernel sockets (node mode) or the dataplane rings
  bool upstream_rings_ = false;
  std::unique_ptr<KernelTransport> server_;
  std::unique_ptr<KernelTransport> control_socket_;  // appliance mode: ntpq's mode 6 through the TAP
  mode6::Server mode6_;
  std::uint16_t next_assoc_id_ = 1;
  std::uint16_t local_assoc_id_ = 0;
  std::string processor_, system_;  // uname, for mode 6's system variables
  std::unique_ptr<ManagementServer> management_;
  std::unique_ptr<MetricsServer> metrics_;
  std::optional<shm::Segment> segment_;
  std::vector<std::uint8_t> acl_table_;  // appliance mode: the access table waiting to be published
  dataplane::Responder responder_;
  std::shared_ptr<const auth::KeyTable> keys_;  // trusted keys: associations share it, responder_ reads it
  std::unique_ptr<DriftFile> drift_;
  std::unique_ptr<hwclock::RtcDevice> rtc_device_;
  std::unique_ptr<hwclock::RtcSteering> rtc_;
  std::optional<PidFile> pidfile_;
  MonoTime started_{};
  std::uint64_t served_ = 0;
  int exit_status_ = 0;
  bool done_ = false;
  discipline::SyncMode last_mode_ = discipline::SyncMode::kUnsynchronized;
  std::optional<discipline::SourceId> last_peer_;
  std::uint64_t seed_ = 0x6c696e6574696d65;  // per-association seeds derive from it
};

bool Daemon::setup() {
  started_ = hwclock::monotonic_now();
  std::optional<double> drift_ppm;
  if (!drift_path().empty()) {
    const DriftRead read = read_drift_file(drift_path());
    if (!read.message.empty()) log_(read.drift ? LOG_INFO : LOG_WARNING, "%s", read.message.c_str());
    if (read.drift) {
      drift_ppm = read.drift->frequency_ppm;
      log_(LOG_INFO, "frequency %.3f ppm from %s", *drift_ppm, drift_path().c_str());
    }
    drift_ = std::make_unique<DriftFile>(drift_path());
  }

  if (opts_.no_clock_control) {
    clock_ = std::make_unique<SimulatedClockDriver>(realtime_now);
    log_(LOG_INFO, "no clock control (-x): disciplining a simulated clock that follows the system clock");
  } else {
    auto sys = std::make_unique<SystemClockDriver>();
    if (const ClockStatus st = sys->start(); !st.ok()) {
      log_(LOG_ERR, "%s", st.message().c_str());
      return false;
    }
    clock_ = std::move(sys);
  }
  discipline::DisciplineConfig dc = discipline_config(config_, opts_, drift_ppm);
  if (!config_.leapfile.empty()) {
    const FileLoad leap = load_file(config_.leapfile);
    auto table = leap.text ? discipline::LeapTable::parse(*leap.text)
                           : Expected<discipline::LeapTable, discipline::LeapFileError>(
                                 unexpected(discipline::LeapFileError::kEmpty));
    if (!leap.text) {
      log_(LOG_WARNING, "leapfile %s: %s; leap seconds come from the servers' announcements only",
           config_.leapfile.c_str(), leap.error.c_str());
    } else if (!table) {
      log_(LOG_WARNING, "leapfile %s: %s (expected the leap-seconds.list format); leap seconds come from the "
           "servers' announcements only", config_.leapfile.c_str(), discipline::to_string(table.error()));
    } else {
      log_(LOG_INFO, "leapfile %s: %zu entries, expires %s", config_.leapfile.c_str(), table->entries().size(),
           table->valid_at(clock_->now()) ? "in the future" : "already (update it: servers' announcements are used)");
      dc.leap_table = std::move(*table);
    }
  }
  discipline_ = std::make_unique<discipline::Discipline>(dc);
  if (const ClockStatus st = clock_->set_frequency(discipline_->initial_frequency_ppm()); !st.ok()) {
    log_(LOG_ERR, "%s", st.message().c_str());
    return false;
  }
  setup_rtc();

  keys_ = key_table(config_);
  responder_.set_keys(keys_.get());
  if (!config_.keys_file.empty()) {
    log_(LOG_INFO, "keys %s: %zu keys, %zu of them trusted (trustedkey)", config_.keys_file.c_str(),
         config_.keys.size(), keys_->size());
  }
  for (const Source& s : config_.sources) add_peers(s);
  if (config_.local_clock) local_assoc_id_ = next_assoc_id_++;
  mode6_.set_restrictions(config_.restrict_rules);
  if (utsname u{}; ::uname(&u) == 0) {
    processor_ = u.machine;
    system_ = std::string(u.sysname) + "/" + u.release;
  }
  if (peers_.empty() && lookups_.empty() && !config_.local_clock) {
    log_(LOG_WARNING, "no usable upstream server and no local clock: serving stratum 16 until the configuration has one");
  }

  if (opts_.serve) {
    server_ = std::make_unique<KernelTransport>(KernelTransportOptions{opts_.serve, true});
    if (auto r = server_->open(opts_.serve->address.is_v6); !r) {
      log_(LOG_ERR, "cannot serve NTP: %s", r.error().c_str());
      return false;
    }
    log_(LOG_INFO, "serving NTP on %s (%s)", to_string(*opts_.serve).c_str(), server_->describe().c_str());
  }

  const std::string shm_name = !opts_.shm_name.empty() ? opts_.shm_name : config_.appliance.shm_name;
  if (!shm_name.empty()) {
    auto seg = shm::Segment::open(shm_name, shm::Side::kControl);
    if (!seg) {
      log_(LOG_ERR, "appliance mode: %s", seg.error().message.c_str());
      return false;
    }
    segment_.emplace(std::move(*seg));
    segment_->drain_stale();
    upstream_ = std::make_unique<RingTransport>(*segment_, opts_.upstream_port);
    upstream_rings_ = true;
    prepare_acl();
    log_(LOG_INFO, "appliance mode: publishing the server state to the dataplane through %s", shm_name.c_str());
    // The dataplane passes mode 6 to its TAP, where the kernel owns the
    // appliance's addresses; ntpq on the appliance itself comes over loopback.
    const Endpoint any{IpAddress{}, 123};
    control_socket_ = std::make_unique<KernelTransport>(KernelTransportOptions{any, false});
    if (auto r = control_socket_->open(false); !r) {
      log_(LOG_WARNING,
           "ntpq (mode 6) will not be answered: %s; free UDP port 123 in this namespace (another NTP daemon?) "
           "and restart",
           r.error().c_str());
      control_socket_.reset();
    } else {
      log_(LOG_INFO, "answering ntpq (mode 6, read-only) on %s", to_string(any).c_str());
    }
  }

  if (!upstream_) upstream_ = std::make_unique<KernelTransport>();
  log_(LOG_INFO, "upstream transport: %s", upstream_->describe().c_str());
  for (const std::string& iface : config_.hwtimestamp) {
    if (upstream_rings_) {
      log_(LOG_INFO, "hwtimestamp %s: ignored in appliance mode (the dataplane stamps the appliance's packets)",
           iface.c_str());
      continue;
    }
    bool supported = false;
    const std::string line = hardware_stamping_of(iface, supported);
    log_(supported ? LOG_INFO : LOG_WARNING, "%s", line.c_str());
  }

  const std::string sock = !opts_.socket_path.empty()              ? opts_.socket_path
                           : !config_.appliance.control_socket.empty() ? config_.appliance.control_socket
                                                                       : kDefaultControlSocket;
  auto mgmt = ManagementServer::open(sock, [this](std::string_view c) { return answer(c); });
  if (!mgmt) {
    log_(LOG_WARNING, "%s; status will not be available to linetimectl", mgmt.error().c_str());
  } else {
    management_ = std::move(*mgmt);
  }
  if (!opts_.no_metrics) {
    auto m = MetricsServer::open(opts_.metrics.value_or(default_metrics_endpoint()),
                                 [this] { return answer("metrics"); });
    if (!m) {
      log_(LOG_WARNING, "%s; metrics are still available through `linetimectl metrics`", m.error().c_str());
    } else {
      metrics_ = std::move(*m);
      log_(LOG_INFO, "metrics on http://%s/metrics", to_string(metrics_->endpoint()).c_str());
    }
  }

  if (!opts_.user.empty()) {
    auto who = parse_user_spec(opts_.user);
    if (!who) {
      log_(LOG_ERR, "-u %s: %s", opts_.user.c_str(), who.error().c_str());
      return false;
    }
    std::optional<int> port;
    if (opts_.serve) port = opts_.serve->port;
    if (const std::string err = drop_privileges(*who, capabilities_needed(!opts_.no_clock_control, port)); !err.empty()) {
      log_(LOG_ERR, "%s", err.c_str());
      return false;
    }
    log_(LOG_INFO, "running as %s", opts_.user.c_str());
  }
  if (!opts_.foreground) {
    if (const std::string err = daemonize(); !err.empty()) {
      log_(LOG_ERR, "%s", err.c_str());
      return false;
    }
  }
  if (!opts_.pidfile.empty()) {
    auto pf = PidFile::create(opts_.pidfile);
    if (!pf) {
      log_(LOG_ERR, "%s", pf.error().c_str());
      return false;
    }
    pidfile_.emplace(std::move(*pf));
  }
  publish(clock_->now());
  return true;
}

// Opens the RTC and sets the clock from it, before any source is polled. An
// RTC that cannot be used is logged and done without: it is never a reason not
// to run.
void Daemon::setup_rtc() {
  const RtcSettings& rs = config_.rtc;
  if (!rs.enabled()) return;
  // The RTC is a host clock too: without clock control it is only read.
  const bool write = rs.sync && !opts_.no_clock_control;
  if (rs.sync && !write) {
    log_(LOG_INFO, "no clock control (-x): rtcsync ignored, %s is read and never written", rs.device.c_str());
  }
  auto opened = opts_.open_rtc ? opts_.open_rtc(rs.device, write) : open_linux_rtc(rs.device, write);
  if (!opened) {
    log_(LOG_ERR, "%s; running without the RTC", opened.error().message().c_str());
    return;
  }
  rtc_device_ = std::move(*opened);
  hwclock::RtcSteeringConfig sc;
  sc.rtcfile = rs.file;
  sc.rtcsync = write;
  sc.rtc.timescale = rs.local_time ? hwclock::RtcTimescale::kLocal : hwclock::RtcTimescale::kUtc;
  sc.rtc.set_delay = Duration::from_ms(rs.set_delay_ms);
  sc.booted_at = clock_->now() - since_boot();
  hwclock::RtcSystemClock sys;
  sys.now = [this] { return clock_->now(); };
  sys.sleep_until = [this](UtcTime t) { sleep_until(*clock_, t); };
  rtc_ = std::make_unique<hwclock::RtcSteering>(*rtc_device_, std::move(sys), sc);
  log_(LOG_INFO, "RTC %s (%s time%s%s)", rtc_device_->name().c_str(), rs.local_time ? "local" : "UTC",
       write ? ", written while synchronized" : "", rs.file.empty() ? "" : (", drift in " + rs.file).c_str());
  const hwclock::RtcSteering::Boot b = rtc_->boot();
  if (!b.message.empty()) log_(b.step ? LOG_NOTICE : LOG_INFO, "%s", b.message.c_str());
  if (!b.step) return;
  if (const ClockStatus st = clock_->step(*b.step); !st.ok()) {
    log_(LOG_ERR, "%s", st.message().c_str());
    return;
  }
  log_(LOG_NOTICE, "%s clock stepped by %+.6f s from the RTC", clock_->name(), b.step->seconds());
}

// Sources with a numeric address start at once; host names are looked up in
// the background (AsyncResolver) and start when the answer comes.
void Daemon::add_peers(const Source& s) {
  if (s.address) {
    add_resolved(s, {*s.address});
  } else {
    lookup(s);
  }
}

void Daemon::lookup(const Source& s) {
  auto id = resolver_.start(s.host, s.family);
  if (!id) {
    log_(LOG_WARNING, "%s:%d: %s; trying '%s' again in %lld s", s.where.file.c_str(), s.where.line, id.error().c_str(),
         s.host.c_str(), static_cast<long long>(kRetryResolve.seconds()));
    retry_.emplace_back(s, hwclock::monotonic_now() + kRetryResolve);
    return;
  }
  lookups_[*id] = s;
}

void Daemon::on_resolved(const AsyncResolver::Result& r) {
  const auto it = lookups_.find(r.id);
  if (it == lookups_.end()) return;
  const Source s = it->second;
  lookups_.erase(it);
  if (r.addresses.empty()) {
    log_(LOG_WARNING, "%s:%d: cannot resolve '%s' (%s); trying again in %lld s", s.where.file.c_str(), s.where.line,
         s.host.c_str(), r.error.c_str(), static_cast<long long>(kRetryResolve.seconds()));
    retry_.emplace_back(s, hwclock::monotonic_now() + kRetryResolve);
    return;
  }
  add_resolved(s, r.addresses);
}

// A server line takes the first address; a pool up to kPoolSize members,
// skipping addresses it already polls.
void Daemon::add_resolved(const Source& s, const std::vector<IpAddress>& addresses) {
  std::size_t members = 0;
  for (const Peer& p : peers_) {
    if (!p.retired && same_source(p.source, s)) ++members;
  }
  const std::size_t want = s.kind == SourceKind::kPool ? kPoolSize : 1;
  for (const IpAddress& a : addresses) {
    if (members >= want) break;
    const bool known = std::any_of(peers_.begin(), peers_.end(), [&](const Peer& p) {
      return !p.retired && p.endpoint.address == a;
    });
    if (known) continue;
    Peer p;
    p.source = s;
    p.endpoint = Endpoint{a, 123};
    AssociationConfig ac = association_config(s, keys_);
    ac.remote = to_string(a);
    p.assoc = std::make_unique<Association>(ac, seed_ + peers_.size() * 0x9e3779b97f4a7c15ull);
    p.assoc->set_system_poll(discipline_->poll_log2());
    discipline::SourceConfig sc;
    sc.prefer = s.prefer;
    sc.noselect = s.noselect;
    sc.reference_id = reference_id_of(a);
    p.id = discipline_->add_source(sc);
    p.assoc_id = next_assoc_id_++;
    log_(LOG_INFO, "source %s%s%s%s", ac.remote.c_str(), s.address ? "" : (" (" + s.host + ")").c_str(),
         s.iburst ? " iburst" : "", s.key ? (" key " + std::to_string(*s.key)).c_str() : "");
    peers_.push_back(std::move(p));
    ++members;
  }
}

// Names that failed are looked up again; a pool member that stopped answering
// is dropped and the pool's name looked up again for a replacement.
void Daemon::maintain_sources(MonoTime now) {
  for (std::size_t i = 0; i < retry_.size();) {
    if (now < retry_[i].second) {
      ++i;
      continue;
    }
    const Source s = retry_[i].first;
    retry_.erase(retry_.begin() + static_cast<std::ptrdiff_t>(i));
    lookup(s);
  }
  for (Peer& p : peers_) {
    if (p.retired || p.source.kind != SourceKind::kPool) continue;
    if (p.assoc->reach() != 0 || p.assoc->counters().sent < 8) continue;
    auto& next = pool_refresh_[p.source.host];
    if (now < next) continue;
    next = now + kRetryResolve;
    p.retired = true;
    log_(LOG_NOTICE, "pool %s: member %s does not answer; looking for a replacement", p.source.host.c_str(),
         to_string(p.endpoint.address).c_str());
    lookup(p.source);
  }
}

void Daemon::reload() {
  auto loaded = load_file(opts_.config_path);
  if (!loaded.text) {
    log_(LOG_ERR, "reload: cannot read %s: %s; keeping the running configuration", opts_.config_path.c_str(),
         loaded.error.c_str());
    return;
  }
  ParseResult parsed = parse_config(*loaded.text, opts_.config_path, load_file);
  for (const Diagnostic& d : parsed.diagnostics) log_(LOG_WARNING, "%s", format_diagnostic(d).c_str());
  if (parsed.has_errors()) {
    log_(LOG_ERR, "reload: %s has errors; keeping the running configuration", opts_.config_path.c_str());
    return;
  }
  int kept = 0, retired = 0, added = 0;
  for (Peer& p : peers_) {
    if (p.retired) continue;
    const bool still = std::any_of(parsed.config.sources.begin(), parsed.config.sources.end(), [&](const Source& s) {
      return same_source(s, p.source) && same_key(config_, parsed.config, s);
    });
    if (still) {
      ++kept;
    } else {
      p.retired = true;
      ++retired;
      log_(LOG_INFO, "reload: source %s %s", to_string(p.endpoint.address).c_str(),
           std::any_of(parsed.config.sources.begin(), parsed.config.sources.end(),
                       [&](const Source& s) { return same_source(s, p.source); })
               ? "restarted (its key changed)"
               : "removed");
    }
  }
  // New associations sign with the new keys; kept ones hold theirs (the same
  // secrets) through the shared table they were made from.
  config_.keys = std::move(parsed.config.keys);
  config_.trusted_keys = parsed.config.trusted_keys;
  config_.keys_file = parsed.config.keys_file;
  keys_ = key_table(config_);
  responder_.set_keys(keys_.get());
  for (const Source& s : parsed.config.sources) {
    const bool known = std::any_of(peers_.begin(), peers_.end(),
                                   [&](const Peer& p) { return !p.retired && same_source(s, p.source); });
    if (!known) {
      add_peers(s);
      ++added;
    }
  }
  config_.sources = parsed.config.sources;
  config_.restrict_rules = parsed.config.restrict_rules;
  if (segment_) prepare_acl();
  mode6_.set_restrictions(config_.restrict_rules);
  log_(LOG_INFO, "reloaded %s: %d sources kept with their state, %d added, %d removed", opts_.config_path.c_str(),
       kept, added, retired);
}

void Daemon::handle_actions(Peer& p, const Actions& actions, UtcTime now) {
  for (const Action& a : actions) {
    if (const auto* send = std::get_if<Send>(&a)) {
      discipline_->on_poll_sent(p.id, now);
      auto sent = upstream_->send(p.endpoint, std::as_bytes(std::span(send->packet.data(), send->length)));
      if (!sent) {
        log_(LOG_WARNING, "%s", sent.error().c_str());
        continue;
      }
      if (p.pending_token) tokens_.erase(*p.pending_token);
      p.pending_token = sent->token;
      tokens_[sent->token] = static_cast<std::size_t>(&p - peers_.data());
    } else if (const auto* sample = std::get_if<SampleReady>(&a)) {
      p.header = sample->header;
      p.recent.insert(p.recent.begin(), mode6::FilterStage{sample->sample.delay.seconds() * 1e3,
                                                           sample->sample.offset.seconds() * 1e3,
                                                           sample->sample.dispersion.seconds() * 1e3});
      if (p.recent.size() > mode6::kFilterStages) p.recent.resize(mode6::kFilterStages);
      const discipline::ClockCommand cmd = discipline_->on_sample(p.id, sample->header, sample->sample, now);
      if (!execute(cmd, now)) return;
    } else if (const auto* kod = std::get_if<KissOfDeath>(&a)) {
      log_(LOG_WARNING, "source %s sent kiss-o'-death %s", to_string(p.endpoint.address).c_str(),
           refid_text(kod->code, 0).c_str());
    } else if (const auto* demob = std::get_if<Demobilize>(&a)) {
      log_(LOG_WARNING, "source %s refuses service (%s): no longer polled", to_string(p.endpoint.address).c_str(),
           to_string(demob->reason));
    } else if (std::holds_alternative<Unreachable>(a)) {
      log_(LOG_WARNING, "source %s unreachable: no reply to the last 8 requests", to_string(p.endpoint.address).c_str());
    }
  }
}

bool Daemon::execute(const discipline::ClockCommand& cmd, UtcTime now) {
  using discipline::ClockAction;
  if (cmd.action == ClockAction::kPanic) {
    log_(LOG_ERR,
         "the clock is %.3f s off, beyond the panic threshold (tinker panic, default 1000 s): set it by hand, "
         "or start with -g to allow one large step",
         cmd.offset.seconds());
    exit_status_ = 1;
    done_ = true;
    return false;
  }
  const double old_ppm = clock_->frequency_ppm();
  const CommandResult r = control::execute(*clock_, cmd);
  if (const double dppm = clock_->frequency_ppm() - old_ppm; dppm != 0) {
    for (Peer& p : peers_) p.assoc->on_frequency_change(now, dppm * 1e-6);
  }
  if (!r.status.ok()) log_(LOG_ERR, "%s", r.status.message().c_str());
  if (r.stepped) {
    log_(LOG_NOTICE, "clock stepped by %+.6f s", cmd.step.seconds());
    for (Peer& p : peers_) p.assoc->on_clock_step(cmd.step);
    if (rtc_) rtc_->on_clock_step(cmd.step);
  }
  if (cmd.action == ClockAction::kExit || r.stop) {
    log_(LOG_NOTICE, "one-shot: clock %s by %+.6f s; exiting", cmd.step != Duration{} ? "stepped" : "slewed",
         (cmd.step != Duration{} ? cmd.step : cmd.slew).seconds());
    done_ = true;
    return false;
  }
  after_update(now);
  return true;
}

void Daemon::after_update(UtcTime now) {
  for (Peer& p : peers_) p.assoc->set_system_poll(discipline_->poll_log2());
  const discipline::SystemState& st = discipline_->state();
  if (st.mode != last_mode_ || st.system_peer != last_peer_) {
    std::string peer = "none";
    for (const Peer& p : peers_) {
      if (st.system_peer && p.id == *st.system_peer) peer = to_string(p.endpoint.address);
    }
    log_(LOG_NOTICE, "%s, stratum %d, system peer %s", discipline::to_string(st.mode), st.stratum, peer.c_str());
    last_mode_ = st.mode;
    last_peer_ = st.system_peer;
  }
  if (const ClockStatus s = apply_sync_status(*clock_, sync_status_of(st, now)); !s.ok()) {
    log_(LOG_WARNING, "%s", s.message().c_str());
  }
  if (clock_->poll_leap_applied()) discipline_->on_leap_applied(now);
  publish(now);
}

// Appliance mode: the restrict, discard and ratelimit lines become the
// dataplane's access table, enforced at line rate (dataplane/acl.h).
void Daemon::prepare_acl() {
  const FileLoad text = load_file(opts_.config_path);
  if (!text.text) return;
  auto parsed = dataplane::parse_restrict_config(*text.text, opts_.config_path);
  if (!parsed) {
    log_(LOG_ERR, "access table not published: %s", parsed.error().c_str());
    return;
  }
  for (const std::string& n : parsed->notes) log_(LOG_NOTICE, "%s", n.c_str());
  acl_table_ = dataplane::serialize(dataplane::compile_restrict(parsed->rules, parsed->rate));
  log_(LOG_INFO, "access table: %zu restrict rules for the dataplane", parsed->rules.size());
  publish_acl();
}

void Daemon::publish_acl() {
  if (acl_table_.empty() || !segment_) return;
  shm::TableRegion region(segment_->tables());
  switch (region.publish(acl_table_, 1)) {  // reader slot 0: the dataplane's main lcore
    case shm::TableRegion::Publish::kDone: acl_table_.clear(); break;
    case shm::TableRegion::Publish::kBusy: break;  // the dataplane still reads the other buffer: next loop
    case shm::TableRegion::Publish::kTooLarge:
      log_(LOG_ERR, "access table of %zu bytes does not fit the shared memory's table region: fewer restrict lines, "
           "or a larger region", acl_table_.size());
      acl_table_.clear();
      break;
  }
}

void Daemon::publish(UtcTime now) {
  const discipline::SystemState& st = discipline_->state();
  shm::ServerState s;
  const bool synced = st.mode != discipline::SyncMode::kUnsynchronized && st.leap != discipline::Leap::kUnsync &&
                      st.stratum < discipline::kMaxStratum;
  s.synchronized = synced ? 1 : 0;
  s.leap = static_cast<std::uint8_t>(st.leap);
  s.stratum = synced ? st.stratum : 16;
  s.precision = -20;
  s.leap_pending = st.leap == discipline::Leap::kInsert || st.leap == discipline::Leap::kDelete;
  s.reference_id = st.reference_id;
  s.reference_time_ns = st.reference_time.ticks();
  s.root_delay_ns = st.root_delay.ns();
  s.root_dispersion_ns = st.root_dispersion.ns();
  s.dispersion_rate = st.dispersion_rate;
  (void)now;
  responder_.update(s);
  if (segment_) segment_->server_state().store(s);
}

void Daemon::serve(const Datagram& d) {
  if (mode6::is_control(as_wire(d.payload))) {
    answer_control(d, *server_);
    return;
  }
  std::array<std::uint8_t, 1024> out{};
  dataplane::NtpRequest req{as_wire(d.payload), d.from.port, to_local(d.rx)};
  const dataplane::NtpResponse r =
      responder_.handle(req, wire::MutableBytes(out.data(), out.size()), [this] { return clock_->now(); });
  if (r.length == 0) return;
  if (server_->send(d.from, std::as_bytes(std::span(out.data(), r.length)))) ++served_;
}

void Daemon::on_datagram(const Datagram& d) {
  for (Peer& p : peers_) {
    if (p.retired || p.endpoint != d.from) continue;
    const UtcTime now = clock_->now();
    handle_actions(p, p.assoc->on_reply(as_wire(d.payload), to_local(d.rx), now), now);
    return;
  }
}

void Daemon::on_tx(const TxReport& r) {
  const auto it = tokens_.find(r.token);
  if (it == tokens_.end()) return;
  Peer& p = peers_[it->second];
  if (p.pending_token == r.token) p.assoc->on_transmitted(to_local(r.tx));
  tokens_.erase(it);
}

void Daemon::run_timers(UtcTime now) {
  for (Peer& p : peers_) {
    if (!p.retired && now >= p.assoc->next_timer()) handle_actions(p, p.assoc->on_timer(now), now);
    if (done_) return;
  }
  if (now >= discipline_->next_timer()) {
    const discipline::ClockCommand cmd = discipline_->on_timer(now);
    execute(cmd, now);
  }
}

Status Daemon::status() {
  Status s;
  const UtcTime now = clock_->now();
  const discipline::SystemState& st = discipline_->state();
  SystemVars& v = s.system;
  v.mode = discipline::to_string(st.mode);
  v.clock_control = opts_.no_clock_control ? "none (simulated clock, -x)" : "system clock";
  v.leap = static_cast<int>(st.leap);
  v.stratum = st.stratum;
  v.refid = refid_text(st.reference_id, st.stratum);
  v.precision_log2 = -20;
  v.root_delay_ms = st.root_delay.seconds() * 1e3;
  v.root_dispersion_ms = st.root_dispersion_at(now).seconds() * 1e3;
  v.offset_ms = st.offset_s * 1e3;
  v.frequency_ppm = clock_->frequency_ppm();
  v.jitter_ms = st.jitter_s * 1e3;
  v.poll_log2 = st.poll_log2;
  v.uptime_s = (hwclock::monotonic_now() - started_).seconds();
  v.version = "linetime 0.1.0";
  for (const Peer& p : peers_) {
    if (p.retired) continue;
    SourceRow r;
    const SourceStatus ss = discipline_->source_status(p.id);
    r.tally = tally_of(ss);
    r.remote = to_string(p.endpoint.address);
    r.refid = refid_text(p.assoc->reference_id(), p.assoc->stratum());
    r.stratum = p.assoc->stratum();
    r.type = p.source.kind == SourceKind::kPool ? 'p' : 'u';
    if (auto last = p.assoc->last_reply_time()) r.when_s = (now - *last).seconds();
    r.poll_log2 = p.assoc->poll_log2();
    r.reach = p.assoc->reach();
    if (const auto& e = discipline_->source_estimate(p.id)) {
      r.delay_ms = e->delay_s * 1e3;
      r.offset_ms = e->offset_s * 1e3;
      r.jitter_ms = e->jitter_s * 1e3;
    }
    r.state = discipline::to_string(ss);
    if (st.system_peer && *st.system_peer == p.id) {
      v.system_peer = r.remote;
      v.refid = r.remote;
      v.poll_log2 = r.poll_log2;  // what ntpstat reports: how often the server is polled
    }
    const AssociationCounters& c = p.assoc->counters();
    r.sent = c.sent;
    r.received = c.received;
    for (const auto n : c.dropped) r.bogus += n;
    r.auth = to_string(p.assoc->auth());
    r.unauthenticated = c.drops(ReplyDrop::kUnauthenticated);
    r.crypto_nak = c.drops(ReplyDrop::kCryptoNak);
    r.bad_mac = c.drops(ReplyDrop::kBadMac);
    s.sources.push_back(std::move(r));
  }
  if (config_.local_clock) {
    SourceRow r;
    const bool active = st.mode == discipline::SyncMode::kLocalReference;
    r.tally = active ? '*' : ' ';
    r.remote = "LOCAL(" + std::to_string(config_.local_clock->unit) + ")";
    r.refid = "." + config_.local_clock->refid + ".";
    r.stratum = config_.local_clock->stratum;
    r.type = 'l';
    r.poll_log2 = config_.local_clock->minpoll;
    r.reach = active ? 0377 : 0;
    r.state = active ? "sys.peer" : "standby";
    s.sources.push_back(std::move(r));
  }
  return s;
}

// ntpq answers: the mode 6 module decides (restrict, rate, opcode) and builds
// the fragments; only mode 6 is answered here, on either socket.
void Daemon::answer_control(const Datagram& d, KernelTransport& via) {
  if (!mode6::is_control(as_wire(d.payload))) return;
  std::vector<mode6::Fragment> out;
  mode6_.handle(as_wire(d.payload), d.from.address, hwclock::monotonic_now().ticks(), [this] { return control_snapshot(); }, out);
  for (const mode6::Fragment& f : out) (void)via.send(d.from, std::as_bytes(std::span(f.data(), f.size())));
}

mode6::Snapshot Daemon::control_snapshot() {
  // ntpd sends reference ids that are names without the dots ntpq adds.
  const auto bare = [](std::string refid) {
    if (refid.size() >= 2 && refid.front() == '.' && refid.back() == '.') refid = refid.substr(1, refid.size() - 2);
    return refid;
  };
  const UtcTime now = clock_->now();
  const discipline::SystemState& st = discipline_->state();
  std::string local = "0.0.0.0";
  if (opts_.serve) {
    local = to_string(opts_.serve->address);
  } else if (!config_.appliance.dataplane_addresses.empty()) {
    local = to_string(config_.appliance.dataplane_addresses.front());
  }

  mode6::Snapshot snap;
  mode6::SystemInfo& y = snap.system;
  y.version = "linetime 0.1.0";
  y.processor = processor_;
  y.system = system_;
  y.leap = static_cast<int>(st.leap);
  y.stratum = st.stratum;
  y.precision_log2 = -20;
  y.root_delay_ms = st.root_delay.seconds() * 1e3;
  y.root_dispersion_ms = st.root_dispersion_at(now).seconds() * 1e3;
  y.refid = bare(refid_text(st.reference_id, st.stratum));
  if (st.reference_time != UtcTime{}) y.reftime = hwclock::NtpTimestamp::from_utc(st.reference_time).raw();
  y.clock = hwclock::NtpTimestamp::from_utc(now).raw();
  y.tc = st.poll_log2;
  y.mintc = kMaxPollLog2;
  for (const Peer& p : peers_) y.mintc = std::min(y.mintc, p.source.minpoll);
  if (y.mintc == kMaxPollLog2) y.mintc = config_.local_clock ? config_.local_clock->minpoll : 6;
  y.offset_ms = st.offset_s * 1e3;
  y.frequency_ppm = clock_->frequency_ppm();
  y.sys_jitter_ms = st.jitter_s * 1e3;
  y.clk_jitter_ms = st.offset_sd_s * 1e3;
  y.clk_wander_ppm = st.wander_ppm_per_sqrt_s;
  if (st.mode == discipline::SyncMode::kLocalReference) {
    y.clock_source = mode6::kSourceLocal;
    y.peer = local_assoc_id_;
  }

  for (const Peer& p : peers_) {
    if (p.retired) continue;
    mode6::PeerInfo r;
    const SourceStatus ss = discipline_->source_status(p.id);
    r.assoc_id = p.assoc_id;
    r.srcadr = to_string(p.endpoint.address);
    r.srcport = p.endpoint.port;
    r.dstadr = local;
    r.select = mode6::select_of(ss);
    r.stratum = p.assoc->stratum();
    if (p.header) {
      r.leap = static_cast<int>(p.header->leap);
      r.precision_log2 = p.header->precision_log2;
      r.root_delay_ms = p.header->root_delay.seconds() * 1e3;
      r.root_dispersion_ms = p.header->root_dispersion.seconds() * 1e3;
    }
    r.refid = bare(refid_text(p.assoc->reference_id(), p.assoc->stratum()));
    if (auto last = p.assoc->last_reply_time()) r.rec = hwclock::NtpTimestamp::from_utc(*last).raw();
    r.reach = p.assoc->reach();
    r.unreach = r.reach == 0 ? 8 : std::countr_zero(r.reach);  // polls since the last reply
    r.hpoll = r.ppoll = p.assoc->poll_log2();
    r.flash = mode6::flash_of(ss, r.reach);
    if (const auto& e = discipline_->source_estimate(p.id)) {
      r.offset_ms = e->offset_s * 1e3;
      r.delay_ms = e->delay_s * 1e3;
      r.dispersion_ms = e->dispersion_s * 1e3;
      r.jitter_ms = e->jitter_s * 1e3;
    }
    r.xleave = p.assoc->interleaved();
    r.filter = p.recent;
    if (st.system_peer && *st.system_peer == p.id) {
      y.peer = p.assoc_id;
      y.clock_source = mode6::kSourceNtp;
      y.refid = r.srcadr;
    }
    snap.peers.push_back(std::move(r));
  }
  if (config_.local_clock) {
    const bool active = st.mode == discipline::SyncMode::kLocalReference;
    mode6::PeerInfo r;
    r.assoc_id = local_assoc_id_;
    r.srcadr = "127.127.1." + std::to_string(config_.local_clock->unit);
    r.srchost = "LOCAL(" + std::to_string(config_.local_clock->unit) + ")";
    r.dstadr = "127.0.0.1";
    r.select = active ? mode6::Select::kSysPeer : mode6::Select::kReject;
    r.leap = 0;
    r.stratum = config_.local_clock->stratum;
    r.refid = config_.local_clock->refid;
    r.reach = active ? 0xff : 0;
    r.hpoll = r.ppoll = config_.local_clock->minpoll;
    snap.peers.push_back(std::move(r));
  }
  return snap;
}

std::string Daemon::answer(std::string_view command) {
  if (command == "status" || command == "peers" || command == "json") return to_json(status()) + "\n";
  if (command == "metrics") {  // with the dataplane's counters in appliance mode
    const std::uint32_t lcores =
        segment_ ? std::min(segment_->peer().lcores.load(std::memory_order_acquire), segment_->header().max_lcores) : 0;
    if (lcores == 0) return format_metrics(status());
    const CounterTable counters = read_counters(segment_->counters(), lcores);
    return format_metrics(status(), &counters);
  }
  if (command == "reload") {
    g_reload = 1;
    return "reload scheduled\n";
  }
  return "error: unknown request '" + std::string(command) + "' (known: status, peers, metrics, reload, ping)\n";
}

int Daemon::run() {
  if (!setup()) return 1;
  const MonoTime deadline =
      opts_.duration_s ? started_ + Duration::from_seconds(*opts_.duration_s) : MonoTime(INT64_MAX);
  std::vector<pollfd> fds;
  while (!g_stop && !done_ && hwclock::monotonic_now() < deadline) {
    if (g_reload) {
      g_reload = 0;
      reload();
    }
    const UtcTime now = clock_->now();
    run_timers(now);
    if (done_) break;
    if (drift_ && discipline_->state().mode == discipline::SyncMode::kSynchronized) {
      if (const std::string err = drift_->update(hwclock::monotonic_now(), discipline_->state().frequency_ppm); !err.empty()) {
        log_(LOG_WARNING, "%s", err.c_str());
      }
    }
    if (rtc_) {
      if (const std::string m = rtc_->poll(hwclock::monotonic_now(), synchronized()); !m.empty()) log_(LOG_WARNING, "%s", m.c_str());
    }

    UtcTime next = discipline_->next_timer();
    for (const Peer& p : peers_) {
      if (!p.retired) next = std::min(next, p.assoc->next_timer());
    }
    if (rtc_) {
      if (const auto d = rtc_->next_deadline()) next = std::min(next, *d);
    }
    std::int64_t wait_ms = (next - clock_->now()).ns() / 1'000'000 + 1;
    wait_ms = std::clamp<std::int64_t>(wait_ms, 0, upstream_rings_ ? kRingPollInterval.count() : 1000);
    fds.clear();
    upstream_->pollfds(fds);
    if (server_) server_->pollfds(fds);
    if (control_socket_) control_socket_->pollfds(fds);
    if (management_) management_->pollfds(fds);
    resolver_.pollfds(fds);
    if (metrics_) metrics_->pollfds(fds);
    ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));

    upstream_->drain([this](const Datagram& d) { on_datagram(d); }, [this](const TxReport& r) { on_tx(r); });
    if (server_) server_->drain([this](const Datagram& d) { serve(d); }, [](const TxReport&) {});
    if (control_socket_) {
      control_socket_->drain([this](const Datagram& d) { answer_control(d, *control_socket_); }, [](const TxReport&) {});
    }
    if (management_) management_->service(hwclock::monotonic_now().ticks() / 1'000'000);
    resolver_.service(hwclock::monotonic_ms(), [this](const AsyncResolver::Result& r) { on_resolved(r); });
    maintain_sources(hwclock::monotonic_now());
    if (metrics_) metrics_->service(hwclock::monotonic_now().ticks() / 1'000'000);
    if (segment_) segment_->heartbeat(hwclock::monotonic_now());
    publish_acl();
  }
  if (rtc_) {
    // A last measurement (and write): up to a few seconds, waiting for rollovers.
    if (const std::string m = rtc_->shutdown(synchronized()); !m.empty()) log_(LOG_WARNING, "%s", m.c_str());
  }
  if (drift_ && discipline_->state().mode != discipline::SyncMode::kUnsynchronized) {
    if (const std::string err = drift_->flush(discipline_->state().frequency_ppm); !err.empty()) {
      log_(LOG_WARNING, "%s", err.c_str());
    }
  }
  const discipline::SystemState& st = discipline_->state();
  log_(LOG_INFO, "stopping: %s, stratum %d, offset %+.6f ms, frequency %+.3f ppm, %llu requests served",
       discipline::to_string(st.mode), st.stratum, st.offset_s * 1e3, clock_->frequency_ppm(),
       static_cast<unsigned long long>(served_));
  const auto n = [this](mode6::Outcome o) { return static_cast<unsigned long long>(mode6_.count(o)); };
  log_(LOG_INFO, "mode 6: %llu answered, %llu errors, %llu refused (noquery), %llu rate-limited, %llu malformed",
       n(mode6::Outcome::kAnswered), n(mode6::Outcome::kError), n(mode6::Outcome::kRefused),
       n(mode6::Outcome::kRateLimited), n(mode6::Outcome::kMalformed));
  if (segment_) {
    shm::ServerState unsync;
    segment_->server_state().store(unsync);
  }
  return exit_status_;
}

}  // namespace

discipline::DisciplineConfig discipline_config(const Config& c, const DaemonOptions& o, std::optional<double> drift_ppm) {
  discipline::DisciplineConfig d;
  if (c.tos.minsane) d.min_sane = *c.tos.minsane;
  if (c.tos.minclock) d.min_clock = *c.tos.minclock;
  if (c.tos.maxdist) d.max_distance_s = *c.tos.maxdist;
  if (c.tos.mindist) d.min_distance_s = *c.tos.mindist;
  if (c.tos.floor) d.stratum_floor = static_cast<std::uint8_t>(*c.tos.floor);
  if (c.tos.ceiling) d.stratum_ceiling = static_cast<std::uint8_t>(*c.tos.ceiling);
  if (c.tinker.step) d.step_threshold_s = *c.tinker.step;
  if (c.tinker.stepout) d.stepout_s = *c.tinker.stepout;
  if (c.tinker.panic) d.panic_threshold_s = *c.tinker.panic;
  d.allow_first_panic = o.allow_first_panic;
  d.one_shot = o.one_shot;
  d.drift_ppm = drift_ppm;
  // The local clock (server 127.127.1.0 + fudge stratum N) or orphan mode
  // (tos orphan N) takes over after the orphan wait (ntpd's default 300 s).
  if (c.local_clock) {
    d.local_reference = true;
    d.local_stratum = static_cast<std::uint8_t>(c.local_clock->stratum);
  } else if (c.tos.orphan) {
    d.local_reference = true;
    d.local_stratum = static_cast<std::uint8_t>(*c.tos.orphan);
  }
  if (c.tos.orphanwait) d.local_wait_s = *c.tos.orphanwait;
  return d;
}

std::shared_ptr<const auth::KeyTable> key_table(const Config& config) {
  return std::make_shared<const auth::KeyTable>(config.keys, config.trusted_keys);
}

int run_daemon(const DaemonOptions& options) {
  Log log;
  auto loaded = load_file(options.config_path);
  if (!loaded.text) {
    std::fprintf(stderr, "linetime-control: cannot read %s: %s (give the configuration with -c FILE)\n",
                 options.config_path.c_str(), loaded.error.c_str());
    return 1;
  }
  ParseResult parsed = parse_config(*loaded.text, options.config_path, load_file);
  for (const Diagnostic& d : parsed.diagnostics) std::fprintf(stderr, "%s\n", format_diagnostic(d).c_str());
  if (parsed.has_errors()) {
    std::fprintf(stderr, "linetime-control: %s has errors; not starting (check it with --check-config)\n",
                 options.config_path.c_str());
    return 1;
  }
  log.open(!options.logfile.empty() ? options.logfile : parsed.config.logfile, options.foreground);

  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Daemon daemon(options, std::move(parsed.config), log);
  return daemon.run();
}

}  // namespace linetime::control
