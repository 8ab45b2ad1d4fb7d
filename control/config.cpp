// The ntp.conf parser: one pass over the lines of each file (includefile
// recursing), one handler per directive, then a final pass that joins the local
// clock's `server` and `fudge` lines and checks cross-line rules (keys). See
// config.h for the severity policy.
#include "control/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace linetime::control {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::kNote: return "note";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "?";
}

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) out += ":" + std::to_string(d.line);
  out += ": ";
  out += to_string(d.severity);
  out += ": " + d.message;
  return out;
}

std::string format_diagnostics(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += format_diagnostic(d) + "\n";
  return out;
}

std::string to_string(const IpAddress& a) { return a.is_v6 ? wire::to_string(a.v6) : wire::to_string(a.v4); }

std::string to_string(const IpPrefix& p) { return to_string(p.address) + "/" + std::to_string(p.length); }

const char* to_string(SourceKind k) {
  switch (k) {
    case SourceKind::kServer: return "server";
    case SourceKind::kPool: return "pool";
    case SourceKind::kPeer: return "peer";
  }
  return "?";
}

namespace {

struct FlagName {
  std::string_view name;
  std::uint32_t bit;
};
// ntp_acc(5), in documentation order. `serverresponse fuzz` is two words.
constexpr FlagName kRestrictFlags[] = {
    {"ignore", kRestrictIgnore},         {"kod", kRestrictKod},
    {"limited", kRestrictLimited},       {"lowpriotrap", kRestrictLowpriotrap},
    {"mssntp", kRestrictMssntp},         {"noepeer", kRestrictNoepeer},
    {"nomodify", kRestrictNomodify},     {"nomrulist", kRestrictNomrulist},
    {"nopeer", kRestrictNopeer},         {"noquery", kRestrictNoquery},
    {"noserve", kRestrictNoserve},       {"notrap", kRestrictNotrap},
    {"notrust", kRestrictNotrust},       {"ntpport", kRestrictNtpport},
    {"serverresponse fuzz", kRestrictServerresponseFuzz},
    {"version", kRestrictVersion},
};

}  // namespace

std::string restrict_flags_to_string(std::uint32_t flags) {
  std::string out;
  for (const auto& f : kRestrictFlags) {
    if ((flags & f.bit) == 0) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
  return out;
}

std::string restrict_target_to_string(const RestrictRule& r) {
  std::string fam = r.family == AddressFamily::kIpv4 ? "-4 " : r.family == AddressFamily::kIpv6 ? "-6 " : "";
  switch (r.target) {
    case RestrictTarget::kDefault: return fam + "default";
    case RestrictTarget::kPrefix: return to_string(r.prefix);
    case RestrictTarget::kHostName: return fam + r.host_name;
    case RestrictTarget::kSource: return fam + "source";
  }
  return "?";
}

bool ParseResult::has_errors() const { return count(Severity::kError) > 0; }

std::size_t ParseResult::count(Severity s) const {
  return static_cast<std::size_t>(
      std::count_if(diagnostics.begin(), diagnostics.end(), [s](const Diagnostic& d) { return d.severity == s; }));
}

int edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  // A third of the word's length (at least 1, at most 3) still reads as a typo;
  // beyond that the "suggestion" is a different word.
  const int limit = std::clamp(static_cast<int>(word.size()) / 3, 1, 3);
  int best = limit + 1;
  std::string_view choice;
  for (auto c : candidates) {
    const int dist = edit_distance(word, c);
    if (dist < best) {
      best = dist;
      choice = c;
    }
  }
  return std::string(choice);
}

FileLoad load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileLoad{std::nullopt, std::strerror(errno), ""};
  std::ostringstream ss;
  ss << in.rdbuf();
  FileLoad f{ss.str(), "", ""};
  if (auto why = auth::keys_file_exposure(path)) f.exposure = *why;
  return f;
}

namespace {

// --- small syntax helpers --------------------------------------------------

std::optional<long long> to_integer(std::string_view s) {
  long long v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> to_real(std::string_view s) {
  double v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<IpAddress> parse_ip(std::string_view s) {
  if (auto v4 = wire::parse_ipv4_address(s)) return IpAddress{false, *v4, {}};
  if (auto v6 = wire::parse_ipv6_address(s)) return IpAddress{true, {}, *v6};
  return std::nullopt;
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-', not
// starting or ending with '-'; a trailing dot is allowed. A name made only of
// digits and dots is a mistyped address, not a name.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.back() == '.') s.remove_suffix(1);
  bool any_alpha = false;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    auto label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (alpha || c == '-') any_alpha = true;
      if (!alpha && !(c >= '0' && c <= '9') && c != '-') return false;
    }
    start = end + 1;
  }
  return any_alpha;
}

// Linux interface names: 1..15 characters (IFNAMSIZ - 1), no '/' or spaces.
bool is_interface_name(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == ':' || c == '@';
  });
}

// Leading one bits of a mask, or -1 when the mask is not contiguous.
int mask_length(const IpAddress& m) {
  int len = 0;
  bool zero_seen = false;
  auto bit_at = [&](int i) {
    if (m.is_v6) return ((m.v6.bytes[static_cast<std::size_t>(i / 8)] >> (7 - i % 8)) & 1) != 0;
    return ((m.v4.value >> (31 - i)) & 1u) != 0;
  };
  const int bits = m.is_v6 ? 128 : 32;
  for (int i = 0; i < bits; ++i) {
    if (bit_at(i)) {
      if (zero_seen) return -1;
      ++len;
    } else {
      zero_seen = true;
    }
  }
  return len;
}

IpAddress apply_mask(const IpAddress& a, int length) {
  IpAddress out = a;
  if (!a.is_v6) {
    out.v4.value = length == 0 ? 0 : a.v4.value & (0xffffffffu << (32 - length));
  } else {
    for (int i = 0; i < 16; ++i) {
      const int keep = std::clamp(length - 8 * i, 0, 8);
      const auto mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
      out.v6.bytes[static_cast<std::size_t>(i)] &= mask;
    }
  }
  return out;
}

// Splits one line into words; '#' starts a comment outside double quotes.
std::vector<std::string> split_words(std::string_view line, bool& open_quote) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, quoted = false;
  open_quote = false;
  for (char c : line) {
    if (quoted) {
      if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '#') break;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"') {
      quoted = true;
    } else {
      cur += c;
    }
  }
  if (quoted) open_quote = true;
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::string join(const std::vector<std::string_view>& words, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) out += sep;
    out += words[i];
  }
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string s = suggest(word, candidates);
  return s.empty() ? std::string() : " — did you mean '" + s + "'?";
}

// --- vocabularies ------------------------------------------------------------

const std::vector<std::string_view> kKeywords = {
    "server", "pool", "peer", "restrict", "driftfile", "includefile", "keys", "trustedkey", "fudge", "tos",
    "tinker", "leapfile", "logfile", "statsdir", "statistics", "filegen", "interface", "nic", "disable",
    "enable", "broadcastdelay", "authenticate", "dataplane", "shm", "control", "holdover", "rtcfile", "rtcsync",
    "rtcdevice", "hwtimestamp"};

// ntpd directives linetime reads and ignores, with the reason given to the operator.
const std::map<std::string_view, std::string_view> kUnsupported = {
    {"broadcast", "linetime does not send broadcast NTP"},
    {"broadcastclient", "linetime does not take time from broadcast NTP"},
    {"multicastclient", "linetime does not take time from multicast NTP"},
    {"manycastclient", "manycast is not supported"},
    {"manycastserver", "manycast is not supported"},
    {"crypto", "Autokey public-key authentication is not supported; use symmetric keys (keys/trustedkey)"},
    {"automax", "Autokey is not supported"},
    {"revoke", "Autokey is not supported"},
    {"controlkey", "ntpq control messages are not supported; use linetimectl"},
    {"requestkey", "ntpdc mode-7 requests are not supported; use linetimectl"},
    {"discard", "rate limits are set by the dataplane"},
    {"mru", "the monitoring list is not kept"},
    {"rlimit", "resource limits are set by the service manager"},
    {"setvar", "ntpq variables are not supported"},
    {"trap", "ntpq traps are not supported"},
    {"phone", "modem reference clocks are not supported"},
    {"ttl", "manycast is not supported"},
    {"saveconfigdir", "saving the running configuration is not supported"},
    {"pidfile", "the pid file is given on the command line (-p)"},
    {"leapsmearinterval", "leap smearing is not supported"},
    {"tick", "the kernel tick is not changed"},
    {"qos", "set DSCP with the service manager"},
    {"dscp", "set DSCP with the service manager"},
    {"calldelay", "modem reference clocks are not supported"},
    {"mdnstries", "mDNS registration is not supported"},
    {"unpeer", "runtime configuration is not supported"},
    {"unconfig", "runtime configuration is not supported"},
    {"delrestrict", "runtime configuration is not supported"},
    {"reset", "runtime configuration is not supported"},
    {"nonvolatile", "the drift file is written hourly"},
};

const std::vector<std::string_view> kServerOptions = {
    "iburst", "burst", "prefer", "minpoll", "maxpoll", "key", "version", "noselect", "true", "xleave", "preempt",
    "autokey", "mode", "ttl"};

const std::vector<std::string_view> kRestrictWords = {
    "ignore", "kod", "limited", "lowpriotrap", "mssntp", "noepeer", "nomodify", "nomrulist", "nopeer", "noquery",
    "noserve", "notrap", "notrust", "ntpport", "serverresponse", "version", "ippeerlimit", "mask"};

const std::vector<std::string_view> kTosOptions = {"orphan",  "orphanwait", "minsane", "minclock", "maxclock", "floor",
                                                   "ceiling", "cohort",     "beacon",  "mindist",  "maxdist"};

const std::vector<std::string_view> kTinkerOptions = {"step",  "panic",      "stepout",   "stepback", "stepfwd",
                                                      "allan", "dispersion", "freq",      "huffpuff"};

const std::vector<std::string_view> kSystemFlags = {"auth",   "bclient", "calibrate", "kernel",
                                                    "mode7",  "monitor", "ntp",       "stats"};

const std::vector<std::string_view> kFudgeOptions = {"stratum", "refid", "time1", "time2",
                                                     "flag1",   "flag2", "flag3", "flag4"};

const std::vector<std::string_view> kDataplaneSettings = {"port", "lcores", "address", "tap"};

// ntpd's poll limits (NTP_MINPOLL, NTP_MAXPOLL); it clamps values outside them.
constexpr int kMinPoll = 0;  // ntpsec accepts 1 s polling (NTP_MINPOLL 0); ntpd classic stopped at 3
constexpr int kMaxPoll = 17;
constexpr long long kMaxKeyId = 65535;  // NTP_MAXKEY
constexpr int kMaxLcore = 1023;         // RTE_MAX_LCORE upper bound in DPDK builds
constexpr int kMaxPort = 1023;          // RTE_MAX_ETHPORTS upper bound
constexpr std::size_t kSunPathMax = 107;  // sizeof(sockaddr_un::sun_path) - 1

// --- the parser -------------------------------------------------------------

struct Fudge {
  int type = 0;
  int unit = 0;
  std::optional<int> stratum;
  std::optional<std::string> refid;
  Location where;
};

struct Line {
  std::vector<std::string> words;
  Location where;

  std::size_t size() const { return words.size(); }
  const std::string& operator[](std::size_t i) const { return words[i]; }
};

class Parser {
 public:
  Parser(const FileLoader& loader, ParseResult& out) : loader_(loader), out_(out), cfg_(out.config) {}

  void parse_file(std::string_view text, const std::string& file) {
    stack_.push_back(normalize(file));
    int number = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view raw = text.substr(pos, end - pos);
      ++number;
      pos = end + 1;
      if (raw.empty() && end == text.size()) break;
      bool open_quote = false;
      Line line{split_words(raw, open_quote), Location{file, number}};
      if (open_quote) {
        error(line.where, "unterminated quote — close the \" before the end of the line");
        continue;
      }
      if (line.words.empty()) continue;
      directive(line);
    }
    stack_.pop_back();
  }

  void finish() {
    for (const auto& f : fudges_) {
      if (!cfg_.local_clock || cfg_.local_clock->unit != f.unit) {
        warning(f.where, "fudge for 127.127.1." + std::to_string(f.unit) +
                             " but no 'server 127.127.1." + std::to_string(f.unit) +
                             "' line — add the server line, or remove the fudge (it has no effect)");
        continue;
      }
      if (f.stratum) cfg_.local_clock->stratum = *f.stratum;
      if (f.refid) cfg_.local_clock->refid = *f.refid;
    }
    // A server line whose key cannot sign would poll unauthenticated: the
    // line cannot be applied as written.
    for (const auto& s : cfg_.sources) {
      if (!s.key) continue;
      const std::string n = std::to_string(*s.key);
      const std::string what = "'" + s.host + " key " + n + "': requests would go unauthenticated — ";
      if (cfg_.keys_file.empty()) {
        error(s.where, what + "there is no 'keys FILE' line; add one naming an ntp.keys file with key " + n +
                           " and 'trustedkey " + n + "', or remove 'key " + n + "'");
      } else if (!keys_loaded_ || !key_ids_.count(*s.key)) {
        error(s.where, what + "key " + n + " is not in the keys file '" + cfg_.keys_file +
                           "' (or it cannot be read); add '" + n + " TYPE SECRET' there, or remove 'key " + n + "'");
      } else if (!std::binary_search(cfg_.trusted_keys.begin(), cfg_.trusted_keys.end(), *s.key)) {
        error(s.where, what + "key " + n + " is not trusted; add 'trustedkey " + n + "'");
      }
    }
    if (keys_loaded_) {
      for (auto k : cfg_.trusted_keys) {
        if (!key_ids_.count(k))
          warning(trustedkey_where_, "trusted key " + std::to_string(k) + " is not in the keys file '" +
                                         cfg_.keys_file + "' — add it there or remove it from trustedkey");
      }
    }
    if (auto it = first_seen_.find("rtcdevice"); it != first_seen_.end() && !cfg_.rtc.enabled()) {
      note(it->second, "'rtcdevice' has no effect without 'rtcsync' (write the RTC while synchronized) or 'rtcfile "
                       "PATH' (track its drift) — add one of them, or remove the line");
    }
  }

 private:
  // --- diagnostics
  void add(Severity s, const Location& at, std::string msg) {
    out_.diagnostics.push_back(Diagnostic{s, at.file, at.line, std::move(msg)});
  }
  void error(const Location& at, std::string msg) { add(Severity::kError, at, std::move(msg)); }
  void warning(const Location& at, std::string msg) { add(Severity::kWarning, at, std::move(msg)); }
  void note(const Location& at, std::string msg) { add(Severity::kNote, at, std::move(msg)); }

  static std::string normalize(const std::string& path) {
    return std::filesystem::path(path).lexically_normal().generic_string();
  }

  // --- argument helpers
  bool need(const Line& l, std::size_t count, std::string_view example) {
    if (l.size() > count) return true;
    error(l.where, "missing argument for '" + l[0] + "' — write e.g. '" + std::string(example) + "'");
    return false;
  }

  void extra(const Line& l, std::size_t used) {
    if (l.size() <= used) return;
    std::vector<std::string_view> rest(l.words.begin() + static_cast<std::ptrdiff_t>(used), l.words.end());
    warning(l.where, "unexpected '" + join(rest, " ") + "' after '" + l[0] + "' — remove it (it is ignored)");
  }

  std::optional<long long> integer(const Location& at, std::string_view what, std::string_view text, long long lo,
                                   long long hi) {
    auto v = to_integer(text);
    if (!v || *v < lo || *v > hi) {
      error(at, "bad number '" + std::string(text) + "' for " + std::string(what) + " — expected an integer from " +
                    std::to_string(lo) + " to " + std::to_string(hi));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> real(const Location& at, std::string_view what, std::string_view text, double lo) {
    auto v = to_real(text);
    if (!v || !(*v >= lo)) {
      std::ostringstream lo_text;
      lo_text << lo;
      error(at, "bad number '" + std::string(text) + "' for " + std::string(what) + " — expected a number of seconds >= " +
                    lo_text.str());
      return std::nullopt;
    }
    return v;
  }

  // After an unknown option: a number that follows is that option's value, not
  // another unknown option ("tos minsan 2", "server x minpol 6").
  static void skip_value(const Line& l, std::size_t& i) {
    if (i + 1 < l.size() && to_real(l[i + 1])) ++i;
  }

  // Single-valued directive given again: the last one wins, as in ntpd.
  void once(const Line& l, const std::string& key) {
    auto [it, inserted] = first_seen_.emplace(key, l.where);
    if (!inserted) {
      warning(l.where, "'" + key + "' given again (first on line " + std::to_string(it->second.line) +
                           (it->second.file == l.where.file ? "" : " of " + it->second.file) +
                           ") — the last one is used; remove the other");
      it->second = l.where;
    }
  }

  // --- dispatch
  void directive(const Line& l) {
    const std::string& k = l[0];
    if (k == "server" || k == "pool" || k == "peer") return source(l);
    if (k == "restrict") return restrict_rule(l);
    if (k == "driftfile") return path_directive(l, cfg_.driftfile, "driftfile /var/lib/linetime/drift");
    if (k == "leapfile") return path_directive(l, cfg_.leapfile, "leapfile /usr/share/zoneinfo/leap-seconds.list");
    if (k == "logfile") return path_directive(l, cfg_.logfile, "logfile /var/log/linetime.log");
    if (k == "includefile") return includefile(l);
    if (k == "keys") return keys(l);
    if (k == "trustedkey") return trustedkey(l);
    if (k == "fudge") return fudge(l);
    if (k == "tos") return tos(l);
    if (k == "tinker") return tinker(l);
    if (k == "statsdir" || k == "statistics" || k == "filegen") {
      note(l.where, "'" + k + "' is accepted and ignored — linetime reports statistics through its management "
                    "socket (linetimectl), not ntpd's statistics files");
      return;
    }
    if (k == "interface" || k == "nic") return interface(l);
    if (k == "enable" || k == "disable") return system_flags(l);
    if (k == "broadcastdelay") return broadcastdelay(l);
    if (k == "authenticate") return authenticate(l);
    if (k == "dataplane") return dataplane(l);
    if (k == "shm") return shm(l);
    if (k == "control") return control(l);
    if (k == "holdover") return holdover(l);
    if (k == "rtcfile") return path_directive(l, cfg_.rtc.file, "rtcfile /var/lib/linetime/rtc");
    if (k == "rtcsync") return rtcsync(l);
    if (k == "rtcdevice") return rtcdevice(l);
    if (k == "hwtimestamp") return hwtimestamp(l);
    if (auto it = kUnsupported.find(k); it != kUnsupported.end()) {
      warning(l.where, "'" + k + "' is an ntpd directive linetime does not support (" + std::string(it->second) +
                           ") — the line is ignored; remove it");
      return;
    }
    std::vector<std::string_view> all = kKeywords;
    for (const auto& [name, why] : kUnsupported) all.push_back(name);
    std::string hint = did_you_mean(k, all);
    error(l.where, "unknown keyword '" + k + "'" +
                       (hint.empty() ? " — see ntp.conf(5) and configs/appliance.conf for the directives linetime reads"
                                     : hint));
  }

  // 127.127.t.u: ntpd's reference clock pseudo-addresses.
  static bool is_refclock(const IpAddress& a) { return !a.is_v6 && (a.v4.value >> 16) == 0x7f7fu; }

  bool supported_refclock(const Location& at, const IpAddress& a) {
    const int type = a.v4.octet(2);
    if (type == 1) return true;
    error(at, "reference clock type " + std::to_string(type) + " (" + to_string(a) +
                  ") is not supported — linetime has only the local clock, 127.127.1.0; remove the line or use it");
    return false;
  }

  std::optional<AddressFamily> family_prefix(const Line& l, std::size_t& i) {
    if (i < l.size() && (l[i] == "-4" || l[i] == "-6")) {
      return l[i++] == "-4" ? AddressFamily::kIpv4 : AddressFamily::kIpv6;
    }
    return AddressFamily::kAny;
  }

  void source(const Line& l) {
    const std::string& k = l[0];
    std::size_t i = 1;
    Source s;
    s.kind = k == "server" ? SourceKind::kServer : k == "pool" ? SourceKind::kPool : SourceKind::kPeer;
    s.family = *family_prefix(l, i);
    s.where = l.where;
    if (i >= l.size()) {
      error(l.where, "missing address for '" + k + "' — write e.g. '" + k + " ntp.example.org iburst'");
      return;
    }
    s.host = l[i++];
    if (auto a = parse_ip(s.host)) {
      if ((a->is_v6 && s.family == AddressFamily::kIpv4) || (!a->is_v6 && s.family == AddressFamily::kIpv6)) {
        error(l.where, "address " + s.host + " does not match '" + l[1] + "' — remove the -4/-6 or fix the address");
        return;
      }
      if (is_refclock(*a)) return local_clock(l, *a, i);
      const bool unusable = a->is_v6 ? (a->v6.is_unspecified() || a->v6.is_multicast())
                                     : (a->v4.is_unspecified() || a->v4.is_multicast() || a->v4.is_broadcast());
      if (unusable) {
        error(l.where, "address " + s.host + " cannot be an upstream " + k +
                           " (unspecified, broadcast or multicast; broadcast and manycast modes are not supported) — "
                           "give the unicast address of an NTP server");
        return;
      }
      s.address = *a;
      if (s.kind == SourceKind::kPool)
        note(l.where, "pool " + s.host + " is a numeric address, so it is one server — use 'server' or a pool name");
    } else if (!is_host_name(s.host)) {
      error(l.where, "bad address '" + s.host + "' — write an IPv4 address (192.0.2.1), an IPv6 address "
                                                "(2001:db8::1) or a host name (ntp.example.org)");
      return;
    }

    const char* noun = s.kind == SourceKind::kServer ? "server" : s.kind == SourceKind::kPool ? "pool" : "peer";
    bool minpoll_set = false, maxpoll_set = false;
    for (; i < l.size(); ++i) {
      const std::string& o = l[i];
      if (o == "iburst") { s.iburst = true; continue; }
      if (o == "burst") { s.burst = true; continue; }
      if (o == "prefer") { s.prefer = true; continue; }
      if (o == "noselect") { s.noselect = true; continue; }
      if (o == "true") { s.true_chimer = true; continue; }
      if (o == "xleave") { s.xleave = true; continue; }
      if (o == "preempt") { s.preempt = true; continue; }
      if (o == "autokey") {
        warning(l.where, std::string("'autokey' is not supported (the ") + noun +
                             " is used without it) — use symmetric keys: 'key N' with keys/trustedkey");
        continue;
      }
      if (o == "minpoll" || o == "maxpoll" || o == "key" || o == "version" || o == "mode" || o == "ttl") {
        if (i + 1 >= l.size()) {
          error(l.where, "missing argument for '" + o + "' — write e.g. '" + o + " " +
                             (o == "key" ? "1" : o == "version" ? "4" : o == "maxpoll" ? "10" : "6") + "'");
          continue;
        }
        const std::string& v = l[++i];
        if (o == "minpoll" || o == "maxpoll") {
          auto n = integer(l.where, o, v, 0, 31);
          if (!n) continue;
          int p = static_cast<int>(*n);
          if (p < kMinPoll || p > kMaxPoll) {
            const int clamped = std::clamp(p, kMinPoll, kMaxPoll);
            warning(l.where, o + " " + v + " is outside " + std::to_string(kMinPoll) + ".." + std::to_string(kMaxPoll) +
                                 " — using " + std::to_string(clamped) + " as ntpd does; write " + o + " " +
                                 std::to_string(clamped));
            p = clamped;
          }
          (o == "minpoll" ? s.minpoll : s.maxpoll) = p;
          (o == "minpoll" ? minpoll_set : maxpoll_set) = true;
        } else if (o == "key") {
          if (auto n = integer(l.where, "key", v, 1, kMaxKeyId)) s.key = static_cast<std::uint32_t>(*n);
        } else if (o == "version") {
          if (auto n = integer(l.where, "version", v, 1, 4)) s.version = static_cast<int>(*n);
        } else {
          note(l.where, "'" + o + " " + v + "' is accepted and ignored (it applies to broadcast and manycast modes)");
        }
        continue;
      }
      std::string hint = did_you_mean(o, kServerOptions);
      warning(l.where, "unknown option '" + o + "'" + hint + " (the " + noun + " is used without it)");
      skip_value(l, i);
    }
    if (s.minpoll > s.maxpoll) {
      if (minpoll_set && maxpoll_set) {
        error(l.where, "minpoll " + std::to_string(s.minpoll) + " is greater than maxpoll " + std::to_string(s.maxpoll) +
                           " — swap them");
      } else {
        error(l.where, std::string(minpoll_set ? "minpoll " : "maxpoll ") +
                           std::to_string(minpoll_set ? s.minpoll : s.maxpoll) + " conflicts with the default " +
                           (minpoll_set ? "maxpoll " + std::to_string(s.maxpoll) : "minpoll " + std::to_string(s.minpoll)) +
                           " — give both minpoll and maxpoll, minpoll <= maxpoll");
      }
    }
    for (const auto& other : cfg_.sources) {
      if (other.host == s.host) {
        warning(l.where, std::string(noun) + " " + s.host + " is already configured on line " +
                             std::to_string(other.where.line) +
                             (other.where.file == l.where.file ? "" : " of " + other.where.file) +
                             " — this line is ignored; remove it");
        return;
      }
    }
    cfg_.sources.push_back(std::move(s));
  }

  void local_clock(const Line& l, const IpAddress& a, std::size_t i) {
    if (!supported_refclock(l.where, a)) return;
    if (l[0] != "server") {
      error(l.where, "the local clock " + to_string(a) + " must be configured with 'server', not '" + l[0] +
                         "' — write 'server " + to_string(a) + "'");
      return;
    }
    LocalClock c;
    c.unit = a.v4.octet(3);
    c.where = l.where;
    if (cfg_.local_clock) {
      warning(l.where, "the local clock is already configured on line " + std::to_string(cfg_.local_clock->where.line) +
                           " — only one is used; remove this line");
      return;
    }
    for (; i < l.size(); ++i) {
      const std::string& o = l[i];
      if (o == "prefer") { c.prefer = true; continue; }
      if (o == "minpoll" || o == "maxpoll") {
        if (i + 1 >= l.size()) {
          error(l.where, "missing argument for '" + o + "' — write e.g. '" + o + " 6'");
          continue;
        }
        if (auto n = integer(l.where, o, l[++i], kMinPoll, kMaxPoll)) (o == "minpoll" ? c.minpoll : c.maxpoll) = static_cast<int>(*n);
        continue;
      }
      if (std::find(kServerOptions.begin(), kServerOptions.end(), o) != kServerOptions.end()) {
        note(l.where, "'" + o + "' has no effect on the local clock — remove it");
        if (o == "key" || o == "version" || o == "mode" || o == "ttl") skip_value(l, i);
        continue;
      }
      std::string hint = did_you_mean(o, {"prefer", "minpoll", "maxpoll"});
      warning(l.where, "unknown option '" + o + "'" + hint + " (the local clock is used without it)");
      skip_value(l, i);
    }
    if (c.minpoll > c.maxpoll)
      error(l.where, "minpoll " + std::to_string(c.minpoll) + " is greater than maxpoll " + std::to_string(c.maxpoll) +
                         " — swap them");
    cfg_.local_clock = c;
  }

  void fudge(const Line& l) {
    if (!need(l, 1, "fudge 127.127.1.0 stratum 10")) return;
    auto a = parse_ip(l[1]);
    if (!a || !is_refclock(*a)) {
      error(l.where, "fudge applies to reference clock addresses 127.127.t.u, not '" + l[1] +
                         "' — write e.g. 'fudge 127.127.1.0 stratum 10'");
      return;
    }
    if (!supported_refclock(l.where, *a)) return;
    Fudge f;
    f.type = a->v4.octet(2);
    f.unit = a->v4.octet(3);
    f.where = l.where;
    for (std::size_t i = 2; i < l.size(); ++i) {
      const std::string& o = l[i];
      const bool known = std::find(kFudgeOptions.begin(), kFudgeOptions.end(), o) != kFudgeOptions.end();
      if (!known) {
        warning(l.where, "unknown fudge option '" + o + "'" + did_you_mean(o, kFudgeOptions) + " (ignored)");
        skip_value(l, i);
        continue;
      }
      if (i + 1 >= l.size()) {
        error(l.where, "missing argument for '" + o + "' — write e.g. '" + (o == "refid" ? "refid LOCL" : o + " 10") + "'");
        continue;
      }
      const std::string& v = l[++i];
      if (o == "stratum") {
        if (auto n = integer(l.where, "stratum", v, 0, 15)) f.stratum = static_cast<int>(*n);
      } else if (o == "refid") {
        if (v.empty() || v.size() > 4)
          error(l.where, "bad refid '" + v + "' — write one to four characters, e.g. 'refid LOCL'");
        else
          f.refid = v;
      } else {
        note(l.where, "fudge '" + o + "' has no effect on the local clock — remove it");
      }
    }
    fudges_.push_back(f);
  }

  void restrict_rule(const Line& l) {
    std::size_t i = 1;
    RestrictRule r;
    r.where = l.where;
    r.family = *family_prefix(l, i);
    if (i >= l.size()) {
      error(l.where, "missing address for 'restrict' — write e.g. 'restrict default nomodify notrap nopeer noquery'");
      return;
    }
    const std::string target = l[i++];
    std::optional<IpAddress> addr;
    if (target == "default") {
      r.target = RestrictTarget::kDefault;
    } else if (target == "source") {
      r.target = RestrictTarget::kSource;
    } else {
      std::string_view text = target;
      std::optional<int> cidr;
      if (auto slash = text.find('/'); slash != std::string_view::npos) {
        auto n = to_integer(text.substr(slash + 1));
        text = text.substr(0, slash);
        addr = parse_ip(text);
        const int max = addr && addr->is_v6 ? 128 : 32;
        if (!addr || !n || *n < 0 || *n > max) {
          error(l.where, "bad address '" + target + "' — write an address with a prefix length, e.g. 192.168.1.0/24, "
                         "or an address and 'mask 255.255.255.0'");
          return;
        }
        cidr = static_cast<int>(*n);
      } else {
        addr = parse_ip(text);
      }
      if (addr) {
        if ((addr->is_v6 && r.family == AddressFamily::kIpv4) || (!addr->is_v6 && r.family == AddressFamily::kIpv6)) {
          error(l.where, "address " + target + " does not match '" + l[1] + "' — remove the -4/-6 or fix the address");
          return;
        }
        r.target = RestrictTarget::kPrefix;
        r.prefix.address = *addr;
        r.prefix.length = cidr ? *cidr : (addr->is_v6 ? 128 : 32);
        r.family = addr->is_v6 ? AddressFamily::kIpv6 : AddressFamily::kIpv4;
        if (i < l.size() && l[i] == "mask") {
          if (cidr) {
            error(l.where, "both a prefix length and 'mask' given for " + target + " — use one of them");
            return;
          }
          if (i + 1 >= l.size()) {
            error(l.where, "missing argument for 'mask' — write e.g. 'mask 255.255.255.0'");
            return;
          }
          const std::string& mtext = l[i + 1];
          auto m = parse_ip(mtext);
          if (!m || m->is_v6 != addr->is_v6) {
            error(l.where, "bad mask '" + mtext + "' — write a mask of the address's family, e.g. " +
                               (addr->is_v6 ? "'mask ffff:ffff:ffff:ffff::'" : "'mask 255.255.255.0'"));
            return;
          }
          const int len = mask_length(*m);
          if (len < 0) {
            error(l.where, "mask " + mtext + " is not contiguous — linetime matches address prefixes; write a mask of "
                           "leading ones, e.g. 255.255.255.0");
            return;
          }
          r.prefix.length = len;
          i += 2;
        }
        const IpAddress masked = apply_mask(*addr, r.prefix.length);
        if (!(masked == *addr)) {
          r.prefix.address = masked;
          const std::string how = cidr ? "/" + std::to_string(r.prefix.length) : "mask " + l[i - 1];
          note(l.where, "address " + to_string(*addr) + " has host bits set under " + how + "; the rule covers " +
                            to_string(r.prefix) + ", as ntpd applies it — write 'restrict " + to_string(masked) +
                            (cidr ? "/" + std::to_string(r.prefix.length) : " " + how) + "' (or 'restrict " +
                            to_string(*addr) + "' for that one host)");
        }
      } else if (is_host_name(target)) {
        r.target = RestrictTarget::kHostName;
        r.host_name = target;
      } else {
        error(l.where, "bad address '" + target + "' — write 'default', an address (192.168.1.0 mask 255.255.255.0, "
                       "192.168.1.0/24, 2001:db8::/32) or a host name");
        return;
      }
    }
    for (; i < l.size(); ++i) {
      const std::string& f = l[i];
      if (f == "mask") {
        error(l.where, "'mask' applies to an address, not to '" + target + "' — remove it");
        if (i + 1 < l.size()) ++i;
        continue;
      }
      if (f == "serverresponse") {
        if (i + 1 < l.size() && l[i + 1] == "fuzz") {
          r.flags |= kRestrictServerresponseFuzz;
          ++i;
        } else {
          error(l.where, "'serverresponse' must be followed by 'fuzz' — write 'serverresponse fuzz'");
        }
        continue;
      }
      if (f == "ippeerlimit") {
        if (i + 1 >= l.size()) {
          error(l.where, "missing argument for 'ippeerlimit' — write e.g. 'ippeerlimit 1'");
          continue;
        }
        if (auto n = integer(l.where, "ippeerlimit", l[++i], -1, 65535)) r.ippeerlimit = static_cast<int>(*n);
        continue;
      }
      bool found = false;
      for (const auto& fl : kRestrictFlags) {
        if (fl.name == f) {
          r.flags |= fl.bit;
          found = true;
        }
      }
      if (!found) {
        std::string hint = did_you_mean(f, kRestrictWords);
        error(l.where, "unknown restrict flag '" + f + "'" +
                           (hint.empty() ? " — see ntp_acc(5): ignore, kod, limited, lowpriotrap, mssntp, noepeer, "
                                           "nomodify, nomrulist, nopeer, noquery, noserve, notrap, notrust, ntpport, "
                                           "serverresponse fuzz, version"
                                         : hint));
      }
    }
    cfg_.restrict_rules.push_back(std::move(r));
  }

  void path_directive(const Line& l, std::string& into, std::string_view example) {
    if (!need(l, 1, example)) return;
    once(l, l[0]);
    into = l[1];
    extra(l, 2);
  }

  void includefile(const Line& l) {
    if (!need(l, 1, "includefile /etc/linetime/servers.conf")) return;
    extra(l, 2);
    const std::string& path = l[1];
    const std::string norm = normalize(path);
    auto it = std::find(stack_.begin(), stack_.end(), norm);
    if (it != stack_.end()) {
      std::vector<std::string_view> chain(it, stack_.end());
      chain.push_back(norm);
      error(l.where, "includefile cycle: " + join(chain, " -> ") + " — remove the includefile line that closes the loop");
      return;
    }
    if (static_cast<int>(stack_.size()) >= kMaxIncludeDepth) {
      error(l.where, "includefile '" + path + "' is nested deeper than " + std::to_string(kMaxIncludeDepth) +
                         " files (ntpd's limit) — include it from a higher level");
      return;
    }
    FileLoad f = loader_ ? loader_(path) : FileLoad{std::nullopt, "no file loader", ""};
    if (!f.text) {
      warning(l.where, "cannot read includefile '" + path + "' (" + f.error +
                           ") — create it or remove the line; its directives are not applied");
      return;
    }
    parse_file(*f.text, path);
  }

  void keys(const Line& l) {
    if (!need(l, 1, "keys /etc/ntp/keys")) return;
    once(l, "keys");
    extra(l, 2);
    cfg_.keys_file = l[1];
    FileLoad f = loader_ ? loader_(l[1]) : FileLoad{std::nullopt, "no file loader", ""};
    if (!f.text) {
      keys_loaded_ = false;
      warning(l.where, "cannot read keys file '" + l[1] + "' (" + f.error +
                           ") — create it (ntp-keygen -M) or remove the 'keys' line; symmetric-key authentication "
                           "is unavailable until then");
      return;
    }
    if (!f.exposure.empty()) warning(l.where, f.exposure);
    // ntp.keys(5): "keyno type key" per line, '#' comments (dataplane/auth/keys.h).
    keys_loaded_ = true;
    auth::KeysFile parsed = auth::parse_keys(*f.text);
    for (const auto& p : parsed.problems) {
      const Location at{l[1], p.line};
      if (p.error) error(at, p.message);
      else warning(at, p.message);
    }
    cfg_.keys = std::move(parsed.keys);
    key_ids_.clear();
    for (const auto& k : cfg_.keys) key_ids_.insert(k.id);
  }

  void trustedkey(const Line& l) {
    if (!need(l, 1, "trustedkey 1 2 (10 ... 15)")) return;
    trustedkey_where_ = l.where;
    // Re-split so "(1", "...", "5)" and "(1 ... 5)" read the same.
    std::string text;
    for (std::size_t i = 1; i < l.size(); ++i) {
      for (char c : l[i]) {
        if (c == '(' || c == ')') {
          text += ' ';
          text += c;
          text += ' ';
        } else {
          text += c;
        }
      }
      text += ' ';
    }
    std::istringstream in(text);
    std::vector<std::string> t;
    for (std::string w; in >> w;) t.push_back(w);
    const std::string fix = " — write key ids from 1 to 65535, ranges as '(1 ... 5)'";
    std::set<std::uint32_t> keys(cfg_.trusted_keys.begin(), cfg_.trusted_keys.end());
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == "(") {
        if (i + 4 >= t.size() || t[i + 2] != "..." || t[i + 4] != ")") {
          error(l.where, "bad trustedkey range" + fix);
          return;
        }
        auto a = to_integer(t[i + 1]);
        auto b = to_integer(t[i + 3]);
        if (!a || !b || *a < 1 || *b > kMaxKeyId || *a > *b) {
          error(l.where, "bad trustedkey range (" + t[i + 1] + " ... " + t[i + 3] + ")" + fix);
          return;
        }
        for (long long k = *a; k <= *b; ++k) keys.insert(static_cast<std::uint32_t>(k));
        i += 4;
        continue;
      }
      auto k = to_integer(t[i]);
      if (!k || *k < 1 || *k > kMaxKeyId) {
        error(l.where, "bad trusted key '" + t[i] + "'" + fix);
        return;
      }
      keys.insert(static_cast<std::uint32_t>(*k));
    }
    cfg_.trusted_keys.assign(keys.begin(), keys.end());
  }

  void tos(const Line& l) {
    if (!need(l, 1, "tos orphan 10")) return;
    for (std::size_t i = 1; i < l.size(); ++i) {
      const std::string& o = l[i];
      if (std::find(kTosOptions.begin(), kTosOptions.end(), o) == kTosOptions.end()) {
        warning(l.where, "unknown tos option '" + o + "'" + did_you_mean(o, kTosOptions) + " (ignored)");
        skip_value(l, i);
        continue;
      }
      if (i + 1 >= l.size()) {
        error(l.where, "missing argument for 'tos " + o + "' — write e.g. 'tos " + o + " " +
                           (o == "maxdist" || o == "mindist" ? "1.5" : o == "orphan" ? "10" : "1") + "'");
        return;
      }
      const std::string& v = l[++i];
      auto& t = cfg_.tos;
      if (o == "mindist" || o == "maxdist") {
        if (auto x = real(l.where, "tos " + o, v, 0)) (o == "mindist" ? t.mindist : t.maxdist) = *x;
        continue;
      }
      long long lo = 0, hi = 16;
      if (o == "orphan") { lo = 1; hi = 15; }
      else if (o == "ceiling") { lo = 1; hi = 16; }
      else if (o == "floor") { hi = 15; }
      else if (o == "orphanwait" || o == "beacon") { hi = 86400; }
      else if (o == "minclock" || o == "maxclock" || o == "minsane") { hi = 64; }
      else if (o == "cohort") { hi = 1; }
      auto n = integer(l.where, "tos " + o, v, lo, hi);
      if (!n) continue;
      const int x = static_cast<int>(*n);
      if (o == "orphan") t.orphan = x;
      else if (o == "orphanwait") t.orphanwait = x;
      else if (o == "minsane") t.minsane = x;
      else if (o == "minclock") t.minclock = x;
      else if (o == "maxclock") t.maxclock = x;
      else if (o == "floor") t.floor = x;
      else if (o == "ceiling") t.ceiling = x;
      else if (o == "cohort") t.cohort = x;
      else t.beacon = x;
    }
    if (cfg_.tos.floor && cfg_.tos.ceiling && *cfg_.tos.floor >= *cfg_.tos.ceiling)
      error(l.where, "tos floor " + std::to_string(*cfg_.tos.floor) + " is not below ceiling " +
                         std::to_string(*cfg_.tos.ceiling) + " — lower floor or raise ceiling");
  }

  void tinker(const Line& l) {
    if (!need(l, 1, "tinker panic 0")) return;
    for (std::size_t i = 1; i < l.size(); ++i) {
      const std::string& o = l[i];
      if (std::find(kTinkerOptions.begin(), kTinkerOptions.end(), o) == kTinkerOptions.end()) {
        warning(l.where, "unknown tinker option '" + o + "'" + did_you_mean(o, kTinkerOptions) + " (ignored)");
        skip_value(l, i);
        continue;
      }
      if (i + 1 >= l.size()) {
        error(l.where, "missing argument for 'tinker " + o + "' — write e.g. 'tinker " + o + " 0.128'");
        return;
      }
      const std::string& v = l[++i];
      auto x = real(l.where, "tinker " + o, v, 0);
      if (!x) continue;
      auto& t = cfg_.tinker;
      if (o == "step") t.step = x;
      else if (o == "panic") t.panic = x;
      else if (o == "stepout") t.stepout = x;
      else if (o == "stepback") t.stepback = x;
      else if (o == "stepfwd") t.stepfwd = x;
      else note(l.where, "'tinker " + o + "' is accepted and ignored — linetime's discipline sets it itself");
    }
  }

  void interface(const Line& l) {
    if (l.size() < 3) {
      error(l.where, "missing argument for '" + l[0] + "' — write e.g. '" + l[0] + " listen eth0' or '" + l[0] +
                         " ignore wildcard'");
      return;
    }
    InterfaceRule r;
    r.where = l.where;
    const std::string& act = l[1];
    if (act == "listen") r.action = InterfaceAction::kListen;
    else if (act == "ignore") r.action = InterfaceAction::kIgnore;
    else if (act == "drop") r.action = InterfaceAction::kDrop;
    else {
      std::string hint = did_you_mean(act, {"listen", "ignore", "drop"});
      error(l.where, "unknown interface action '" + act + "'" + (hint.empty() ? " — use listen, ignore or drop" : hint));
      return;
    }
    const std::string& t = l[2];
    if (t == "all") r.target = InterfaceTarget::kAll;
    else if (t == "wildcard") r.target = InterfaceTarget::kWildcard;
    else if (t == "ipv4") r.target = InterfaceTarget::kIpv4;
    else if (t == "ipv6") r.target = InterfaceTarget::kIpv6;
    else {
      std::string_view text = t;
      std::optional<int> len;
      if (auto slash = text.find('/'); slash != std::string_view::npos) {
        auto n = to_integer(text.substr(slash + 1));
        text = text.substr(0, slash);
        if (!n || *n < 0) len = -1;
        else len = static_cast<int>(*n);
      }
      if (auto a = parse_ip(text)) {
        const int max = a->is_v6 ? 128 : 32;
        if (len && (*len < 0 || *len > max)) {
          error(l.where, "bad prefix length in '" + t + "' — write e.g. 192.168.1.0/24");
          return;
        }
        r.target = InterfaceTarget::kPrefix;
        r.prefix.length = len ? *len : max;
        r.prefix.address = apply_mask(*a, r.prefix.length);
      } else if (!len && is_interface_name(t)) {
        r.target = InterfaceTarget::kName;
        r.name = t;
      } else {
        error(l.where, "bad interface '" + t + "' — write all, wildcard, ipv4, ipv6, an address (prefix) or an "
                       "interface name");
        return;
      }
    }
    extra(l, 3);
    cfg_.interface_rules.push_back(std::move(r));
  }

  void system_flags(const Line& l) {
    if (!need(l, 1, l[0] + " monitor")) return;
    const bool on = l[0] == "enable";
    auto& f = cfg_.enabled;
    for (std::size_t i = 1; i < l.size(); ++i) {
      const std::string& w = l[i];
      std::optional<bool>* slot = w == "auth"        ? &f.auth
                                  : w == "bclient"   ? &f.bclient
                                  : w == "calibrate" ? &f.calibrate
                                  : w == "kernel"    ? &f.kernel
                                  : w == "mode7"     ? &f.mode7
                                  : w == "monitor"   ? &f.monitor
                                  : w == "ntp"       ? &f.ntp
                                  : w == "stats"     ? &f.stats
                                                     : nullptr;
      if (!slot) {
        warning(l.where, "unknown " + l[0] + " flag '" + w + "'" + did_you_mean(w, kSystemFlags) + " (ignored)");
        continue;
      }
      *slot = on;
    }
  }

  void broadcastdelay(const Line& l) {
    if (!need(l, 1, "broadcastdelay 0.008")) return;
    if (auto x = real(l.where, "broadcastdelay", l[1], 0)) cfg_.broadcastdelay_s = x;
    extra(l, 2);
  }

  void authenticate(const Line& l) {
    if (!need(l, 1, "authenticate yes")) return;
    if (l[1] == "yes") cfg_.authenticate = true;
    else if (l[1] == "no") cfg_.authenticate = false;
    else {
      error(l.where, "bad value '" + l[1] + "' for authenticate — write 'authenticate yes' or 'authenticate no'");
      return;
    }
    extra(l, 2);
  }

  // --- appliance directives
  void dataplane(const Line& l) {
    if (l.size() < 3) {
      error(l.where, "missing argument for 'dataplane' — write e.g. 'dataplane port 0', 'dataplane lcores 1-3', "
                     "'dataplane address 192.0.2.10' or 'dataplane tap lt0'");
      return;
    }
    const std::string& what = l[1];
    auto& a = cfg_.appliance;
    if (what == "port") {
      auto n = integer(l.where, "dataplane port", l[2], 0, kMaxPort);
      if (!n) return;
      const int p = static_cast<int>(*n);
      if (std::find(a.dataplane_ports.begin(), a.dataplane_ports.end(), p) != a.dataplane_ports.end())
        warning(l.where, "dataplane port " + l[2] + " is listed twice — remove this line");
      else
        a.dataplane_ports.push_back(p);
    } else if (what == "lcores") {
      std::string text;
      for (std::size_t i = 2; i < l.size(); ++i) text += l[i];
      std::set<int> cores;
      std::size_t pos = 0;
      while (pos <= text.size()) {
        std::size_t end = text.find(',', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view item = std::string_view(text).substr(pos, end - pos);
        auto dash = item.find('-');
        auto lo = to_integer(item.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : to_integer(item.substr(dash + 1));
        if (!lo || !hi || *lo < 0 || *hi > kMaxLcore || *lo > *hi) {
          error(l.where, "bad lcore list '" + text + "' — write core numbers and ranges, e.g. 'dataplane lcores 1-3,5'");
          return;
        }
        for (long long c = *lo; c <= *hi; ++c) cores.insert(static_cast<int>(c));
        pos = end + 1;
      }
      once(l, "dataplane lcores");
      a.dataplane_lcores.assign(cores.begin(), cores.end());
    } else if (what == "address") {
      auto addr = parse_ip(l[2]);
      if (!addr) {
        error(l.where, "bad address '" + l[2] + "' for dataplane address — write the IPv4 or IPv6 address the "
                       "appliance answers on, e.g. 192.0.2.10");
        return;
      }
      a.dataplane_addresses.push_back(*addr);
      extra(l, 3);
    } else if (what == "tap") {
      if (!is_interface_name(l[2])) {
        error(l.where, "bad interface name '" + l[2] + "' — 1 to 15 letters, digits, '-', '_' or '.', e.g. lt0");
        return;
      }
      once(l, "dataplane tap");
      a.dataplane_tap = l[2];
      extra(l, 3);
    } else {
      std::string hint = did_you_mean(what, kDataplaneSettings);
      error(l.where, "unknown dataplane setting '" + what + "'" +
                         (hint.empty() ? " — use port, lcores, address or tap" : hint));
    }
  }

  void shm(const Line& l) {
    if (!need(l, 1, "shm /linetime")) return;
    const std::string& n = l[1];
    if (n.size() < 2 || n.size() > 255 || n[0] != '/' || n.find('/', 1) != std::string::npos) {
      error(l.where, "bad shared memory name '" + n + "' — write one '/' followed by a name, e.g. 'shm /linetime'");
      return;
    }
    once(l, "shm");
    cfg_.appliance.shm_name = n;
    extra(l, 2);
  }

  void control(const Line& l) {
    if (l.size() < 2 || l[1] != "socket") {
      std::string hint = l.size() >= 2 ? did_you_mean(l[1], {"socket"}) : "";
      error(l.where, l.size() < 2 ? "missing argument for 'control' — write 'control socket /run/linetime/control.sock'"
                                  : "unknown control setting '" + l[1] + "'" +
                                        (hint.empty() ? " — write 'control socket PATH'" : hint));
      return;
    }
    if (l.size() < 3) {
      error(l.where, "missing argument for 'control socket' — write e.g. 'control socket /run/linetime/control.sock'");
      return;
    }
    const std::string& p = l[2];
    if (p[0] != '/' || p.size() > kSunPathMax) {
      error(l.where, "bad control socket path '" + p + "' — write an absolute path of at most " +
                         std::to_string(kSunPathMax) + " characters, e.g. /run/linetime/control.sock");
      return;
    }
    once(l, "control socket");
    cfg_.appliance.control_socket = p;
    extra(l, 3);
  }

  void holdover(const Line& l) {
    if (!need(l, 1, "holdover 3600")) return;
    if (auto x = real(l.where, "holdover", l[1], 0)) {
      once(l, "holdover");
      cfg_.appliance.holdover_s = x;
    }
    extra(l, 2);
  }

  void rtcsync(const Line& l) {
    cfg_.rtc.sync = true;
    extra(l, 1);
  }

  void rtcdevice(const Line& l) {
    if (!need(l, 1, "rtcdevice /dev/rtc0 utc")) return;
    const std::string& dev = l[1];
    if (dev[0] != '/') {
      error(l.where, "bad RTC device '" + dev + "' — write its path, e.g. 'rtcdevice /dev/rtc0' (`ls /dev/rtc*` "
                     "lists them)");
      return;
    }
    RtcSettings r = cfg_.rtc;
    r.device = dev;
    r.local_time = false;
    r.set_delay_ms = 500;
    std::optional<std::string> timescale;
    for (std::size_t i = 2; i < l.size(); ++i) {
      const std::string& o = l[i];
      if (o == "utc" || o == "local") {
        if (timescale && *timescale != o) {
          error(l.where, "'rtcdevice' says both utc and local — the RTC keeps one of them: write 'utc' (the default) "
                         "or 'local' (machines that also boot Windows)");
          return;
        }
        timescale = o;
        r.local_time = o == "local";
        continue;
      }
      if (o == "setdelay") {
        if (i + 1 >= l.size()) {
          error(l.where, "missing argument for 'rtcdevice setdelay' — write e.g. 'rtcdevice " + dev + " setdelay 500' "
                         "(milliseconds from a write to the RTC's first rollover)");
          return;
        }
        auto ms = integer(l.where, "rtcdevice setdelay (milliseconds)", l[++i], 0, 1000);
        if (!ms) return;
        r.set_delay_ms = static_cast<int>(*ms);
        continue;
      }
      // Applied without the word, a misspelled 'local' would read the RTC as UTC.
      std::string hint = did_you_mean(o, {"utc", "local", "setdelay"});
      error(l.where, "unknown rtcdevice option '" + o + "'" +
                         (hint.empty() ? " — write 'rtcdevice DEV [utc|local] [setdelay MS]'" : hint));
      return;
    }
    once(l, "rtcdevice");
    cfg_.rtc = r;
  }

  void hwtimestamp(const Line& l) {
    if (!need(l, 1, "hwtimestamp eth0")) return;
    const std::string& name = l[1];
    // IFNAMSIZ - 1 characters, no '/', as the kernel's dev_valid_name() accepts.
    if (name.size() > 15 || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find(':') != std::string::npos) {
      error(l.where, "bad interface name '" + name + "' — write the name of a network interface (1 to 15 characters, "
                     "as `ip link` lists them), e.g. 'hwtimestamp eth0'");
      return;
    }
    if (std::find(cfg_.hwtimestamp.begin(), cfg_.hwtimestamp.end(), name) == cfg_.hwtimestamp.end()) {
      cfg_.hwtimestamp.push_back(name);
    }
    extra(l, 2);
  }

  const FileLoader& loader_;
  ParseResult& out_;
  Config& cfg_;
  std::vector<std::string> stack_;  // files being read, outermost first
  std::vector<Fudge> fudges_;
  std::map<std::string, Location> first_seen_;
  bool keys_loaded_ = false;
  std::set<std::uint32_t> key_ids_;
  Location trustedkey_where_;
};

}  // namespace

ParseResult parse_config(std::string_view text, const std::string& file_name, const FileLoader& loader) {
  ParseResult result;
  Parser p(loader, result);
  p.parse_file(text, file_name);
  p.finish();
  return result;
}

}  // namespace linetime::control
