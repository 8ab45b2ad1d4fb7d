// Configuration of linetime-control: reads the ntp.conf dialect operators already
// have (ntpd 4.2.8's directives, as in ntp.conf(5), ntp_acc(5), ntp_auth(5),
// ntp_clock(5), ntp_misc(5)) plus the appliance's own directives, and turns it
// into a Config value and a list of Diagnostics.
//
// Parsing is pure: the text comes in as a string, files named by `includefile`
// and `keys` are read through a FileLoader callback (tests give a map, the daemon
// gives the filesystem), and host names are checked for syntax, never resolved.
//
// Severity policy (one rule for every directive):
//  - error: the line cannot be applied with the meaning the operator wrote, or
//    dropping a word could open access (a misspelled `restrict` flag, an unknown
//    keyword that may be a misspelled `restrict`, a bad address or number,
//    minpoll > maxpoll, an include cycle, an unsupported reference clock). The
//    daemon refuses to start; --check-config exits 1.
//  - warning: the line is applied without the offending part and the result is
//    what ntpd would run (an unknown option on a server line, a missing include or
//    keys file, a repeated single-valued directive). The seeds contain such lines
//    (`server 210.72.145.44 perfer`) and must load unchanged, so they are warnings.
//  - note: the line is applied, but differently from how it reads (host bits set
//    under a restrict mask, directives accepted and ignored).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/auth/keys.h"
#include "dataplane/wire/address.h"

namespace linetime::control {

enum class Severity { kNote, kWarning, kError };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;  // as given to the parser (or as written in `includefile`)
  int line = 0;      // 1-based; 0 when the diagnostic is about the file as a whole
  std::string message;  // names the problem and the fix
  bool operator==(const Diagnostic&) const = default;
};

const char* to_string(Severity s);
// "file:line: severity: message", one per line.
std::string format_diagnostic(const Diagnostic& d);
std::string format_diagnostics(const std::vector<Diagnostic>& ds);

struct Location {
  std::string file;
  int line = 0;
  bool operator==(const Location&) const = default;
};

// An IPv4 or IPv6 address.
struct IpAddress {
  bool is_v6 = false;
  wire::Ipv4Address v4{};
  wire::Ipv6Address v6{};
  bool operator==(const IpAddress&) const = default;
};
std::string to_string(const IpAddress& a);

// An address and a prefix length: 192.168.21.0/24. Host bits are zero.
struct IpPrefix {
  IpAddress address;
  int length = 0;  // 0..32 or 0..128
  bool operator==(const IpPrefix&) const = default;
};
std::string to_string(const IpPrefix& p);

// `server`, `pool`, `peer` (upstream associations). The local reference clock
// 127.127.1.0 is not a Source: it is Config::local_clock.
enum class SourceKind { kServer, kPool, kPeer };
const char* to_string(SourceKind k);

enum class AddressFamily { kAny, kIpv4, kIpv6 };  // -4 / -6 prefixes

struct Source {
  SourceKind kind = SourceKind::kServer;
  std::string host;                  // as written: numeric address or host name
  std::optional<IpAddress> address;  // set when `host` is a numeric address
  AddressFamily family = AddressFamily::kAny;
  bool iburst = false;
  bool burst = false;
  bool prefer = false;
  bool noselect = false;
  bool true_chimer = false;  // `true`: never a falseticker
  bool xleave = false;       // interleaved mode
  bool preempt = false;
  int minpoll = 6;   // log2 seconds; ntpd's defaults 6 (64 s) and 10 (1024 s)
  int maxpoll = 10;
  std::optional<std::uint32_t> key;  // symmetric key id, 1..65535
  int version = 4;
  Location where;
  bool operator==(const Source&) const = default;
};

// `server 127.127.1.0` (+ `fudge 127.127.1.0 stratum N`): ntpd's LOCAL driver,
// served when no upstream source is usable.
struct LocalClock {
  int unit = 0;
  int stratum = 5;  // ntpd refclock_local.c default when no fudge sets it
  std::string refid = "LOCL";
  bool prefer = false;
  int minpoll = 6;
  int maxpoll = 10;
  Location where;
  bool operator==(const LocalClock&) const = default;
};

// ntp_acc(5) flags, in the order ntpd documents them.
enum RestrictFlag : std::uint32_t {
  kRestrictIgnore = 1u << 0,
  kRestrictKod = 1u << 1,
  kRestrictLimited = 1u << 2,
  kRestrictLowpriotrap = 1u << 3,
  kRestrictMssntp = 1u << 4,
  kRestrictNoepeer = 1u << 5,
  kRestrictNomodify = 1u << 6,
  kRestrictNomrulist = 1u << 7,
  kRestrictNopeer = 1u << 8,
  kRestrictNoquery = 1u << 9,
  kRestrictNoserve = 1u << 10,
  kRestrictNotrap = 1u << 11,
  kRestrictNotrust = 1u << 12,
  kRestrictNtpport = 1u << 13,
  kRestrictServerresponseFuzz = 1u << 14,
  kRestrictVersion = 1u << 15,
};
// "nomodify notrap" for the flags set, in documentation order.
std::string restrict_flags_to_string(std::uint32_t flags);

enum class RestrictTarget {
  kDefault,   // `restrict default`: every address of `family` (both when kAny)
  kPrefix,    // a numeric address with mask / prefix length (a host when full length)
  kHostName,  // resolved by the daemon at startup, as ntpd does; never here
  kSource,    // `restrict source`: template for the addresses of associations
};

struct RestrictRule {
  RestrictTarget target = RestrictTarget::kDefault;
  AddressFamily family = AddressFamily::kAny;
  IpPrefix prefix;        // kPrefix
  std::string host_name;  // kHostName
  std::uint32_t flags = 0;
  std::optional<int> ippeerlimit;
  Location where;
  bool operator==(const RestrictRule&) const = default;
};
// "192.168.21.0/24", "default", "-6 default", "1.cn.pool.ntp.org", "source".
std::string restrict_target_to_string(const RestrictRule& r);

struct Tos {
  std::optional<int> orphan;  // stratum served in orphan mode
  std::optional<int> orphanwait;
  std::optional<int> minsane;
  std::optional<int> minclock;
  std::optional<int> maxclock;
  std::optional<int> floor;
  std::optional<int> ceiling;
  std::optional<int> cohort;
  std::optional<int> beacon;
  std::optional<double> mindist;  // seconds
  std::optional<double> maxdist;  // seconds
  bool operator==(const Tos&) const = default;
};

struct Tinker {  // seconds
  std::optional<double> step;
  std::optional<double> panic;  // 0 disables the panic check
  std::optional<double> stepout;
  std::optional<double> stepback;
  std::optional<double> stepfwd;
  bool operator==(const Tinker&) const = default;
};

enum class InterfaceAction { kListen, kIgnore, kDrop };
enum class InterfaceTarget { kAll, kWildcard, kIpv4, kIpv6, kPrefix, kName };
struct InterfaceRule {
  InterfaceAction action = InterfaceAction::kListen;
  InterfaceTarget target = InterfaceTarget::kAll;
  IpPrefix prefix;   // kPrefix
  std::string name;  // kName
  Location where;
  bool operator==(const InterfaceRule&) const = default;
};

// `enable` / `disable`; unset means the daemon's default.
struct SystemFlags {
  std::optional<bool> auth, bclient, calibrate, kernel, mode7, monitor, ntp, stats;
  bool operator==(const SystemFlags&) const = default;
};

// linetime's own directives (see configs/appliance.conf).
struct ApplianceSettings {
  std::vector<int> dataplane_ports;        // `dataplane port N` (DPDK port ids)
  std::vector<int> dataplane_lcores;       // `dataplane lcores 1-3,5`, sorted
  std::vector<IpAddress> dataplane_addresses;  // `dataplane address ADDR`
  std::string dataplane_tap;               // `dataplane tap NAME`
  std::string shm_name;                    // `shm /linetime`
  std::string control_socket;              // `control socket PATH`
  std::optional<double> holdover_s;        // `holdover SECONDS`
  bool operator==(const ApplianceSettings&) const = default;
};

// The RTC (hwclock/rtc_drift.h): `rtcfile PATH` tracks its offset and drift and
// sets the system clock from it at the first start after a boot; `rtcsync`
// writes it every 11 minutes while synchronized (with an rtcfile, only when it
// is more than 5 ms off); `rtcdevice DEV [utc|local] [setdelay MS]` names it.
// The seeds' SYNC_HWCLOCK=yes (/etc/sysconfig/ntpd) is `rtcsync` plus
// `rtcfile /var/lib/linetime/rtc`.
struct RtcSettings {
  std::string file;                  // `rtcfile` (empty: no drift tracking)
  bool sync = false;                 // `rtcsync`
  std::string device = "/dev/rtc0";  // `rtcdevice DEV`
  bool local_time = false;           // `rtcdevice DEV local`: the RTC keeps local time
  int set_delay_ms = 500;            // `rtcdevice DEV setdelay MS`: write to first rollover (MC146818: 500)
  bool enabled() const { return sync || !file.empty(); }
  bool operator==(const RtcSettings&) const = default;
};

struct Config {
  std::vector<Source> sources;
  std::optional<LocalClock> local_clock;
  std::vector<RestrictRule> restrict_rules;  // in file order
  std::string driftfile;
  std::string keys_file;
  std::vector<auth::Key> keys;              // of keys_file, sorted by id (secrets: keep this Config private)
  std::vector<std::uint32_t> trusted_keys;  // sorted, unique
  std::optional<bool> authenticate;
  std::optional<double> broadcastdelay_s;
  Tos tos;
  Tinker tinker;
  std::string leapfile;
  std::string logfile;
  std::vector<InterfaceRule> interface_rules;  // in file order
  SystemFlags enabled;
  ApplianceSettings appliance;
  RtcSettings rtc;
  // `hwtimestamp IFACE` (node mode): interfaces whose NIC should stamp NTP
  // packets in hardware; the daemon checks each with ETHTOOL_GET_TS_INFO.
  std::vector<std::string> hwtimestamp;
};

// What a FileLoader gives back: the text, or why it could not be read.
struct FileLoad {
  std::optional<std::string> text;
  std::string error;  // e.g. "No such file or directory"
  // Set when others than the owner may read the file (load_file): a keys
  // file's secrets must not be.
  std::string exposure;
};
using FileLoader = std::function<FileLoad(const std::string& path)>;

struct ParseResult {
  Config config;
  std::vector<Diagnostic> diagnostics;
  bool has_errors() const;
  std::size_t count(Severity s) const;
};

// ntpd's MAXINCLUDELEVEL: a file and four levels of includefile below it.
inline constexpr int kMaxIncludeDepth = 5;

// Parses `text` as the file `file_name`. Never throws on bad input; every problem
// is a Diagnostic. `loader` may be empty: include and keys files are then reported
// as unreadable.
ParseResult parse_config(std::string_view text, const std::string& file_name, const FileLoader& loader);

// Reads `path` from the filesystem (the daemon's and --check-config's loader).
FileLoad load_file(const std::string& path);

// Optimal string alignment distance (Levenshtein plus adjacent transpositions):
// "perfer" -> "prefer" is 1.
int edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a distance that still looks like a typo, or "".
std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace linetime::control
