#include "dataplane/restrict_file.h"

#include <charconv>
#include <cstring>
#include <sstream>

#include "dataplane/ratelimit.h"

namespace linetime::dataplane {

// The shared-memory table carries the control's flag bits unchanged.
constexpr bool same(std::uint32_t a, std::uint32_t b) { return a == b; }
static_assert(same(shm::kAclIgnore, control::kRestrictIgnore));
static_assert(same(shm::kAclKod, control::kRestrictKod));
static_assert(same(shm::kAclLimited, control::kRestrictLimited));
static_assert(same(shm::kAclLowpriotrap, control::kRestrictLowpriotrap));
static_assert(same(shm::kAclMssntp, control::kRestrictMssntp));
static_assert(same(shm::kAclNoepeer, control::kRestrictNoepeer));
static_assert(same(shm::kAclNomodify, control::kRestrictNomodify));
static_assert(same(shm::kAclNomrulist, control::kRestrictNomrulist));
static_assert(same(shm::kAclNopeer, control::kRestrictNopeer));
static_assert(same(shm::kAclNoquery, control::kRestrictNoquery));
static_assert(same(shm::kAclNoserve, control::kRestrictNoserve));
static_assert(same(shm::kAclNotrap, control::kRestrictNotrap));
static_assert(same(shm::kAclNotrust, control::kRestrictNotrust));
static_assert(same(shm::kAclNtpport, control::kRestrictNtpport));
static_assert(same(shm::kAclServerresponseFuzz, control::kRestrictServerresponseFuzz));
static_assert(same(shm::kAclVersion, control::kRestrictVersion));

namespace {

std::string where(const control::Location& l) { return l.file + ":" + std::to_string(l.line); }

std::vector<std::string> words_of(std::string_view line) {
  if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  std::vector<std::string> w;
  std::istringstream in{std::string(line)};
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

bool to_int(const std::string& s, int min, int max, int& out) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

}  // namespace

std::vector<AclRule> acl_rules_from(const std::vector<control::RestrictRule>& rules, std::vector<std::string>* skipped) {
  std::vector<AclRule> out;
  for (const control::RestrictRule& r : rules) {
    switch (r.target) {
      case control::RestrictTarget::kDefault:
        out.push_back(AclRule::default_rule(r.flags, r.family == control::AddressFamily::kIpv4   ? 4
                                                     : r.family == control::AddressFamily::kIpv6 ? 6
                                                                                                 : 0));
        break;
      case control::RestrictTarget::kPrefix: {
        const control::IpAddress& a = r.prefix.address;
        if (a.is_v6) {
          out.push_back(AclRule::ipv6(a.v6.bytes.data(), static_cast<std::uint8_t>(r.prefix.length), r.flags));
        } else {
          const std::uint32_t v = a.v4.value;
          out.push_back(AclRule::ipv4(static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                                      static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v),
                                      static_cast<std::uint8_t>(r.prefix.length), r.flags));
        }
        break;
      }
      case control::RestrictTarget::kHostName:
        if (skipped != nullptr) {
          skipped->push_back(where(r.where) + ": restrict " + r.host_name + " (" + control::restrict_flags_to_string(r.flags) +
                             ") is left to linetime-control, which resolves host names");
        }
        break;
      case control::RestrictTarget::kSource:
        if (skipped != nullptr) {
          skipped->push_back(where(r.where) + ": restrict source applies to the control's associations, not to clients");
        }
        break;
    }
  }
  return out;
}

Expected<RestrictConfig, std::string> parse_restrict_config(std::string_view text, const std::string& file_name,
                                                            const control::FileLoader& loader) {
  RestrictConfig cfg;
  std::string errors;
  // Only the restrict lines go to the control's parser (blank lines keep the
  // numbering); discard and ratelimit are read here.
  std::string restrict_only;
  bool have_discard = false, have_ratelimit = false;
  int number = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    const std::vector<std::string> w = words_of(line);
    const std::string at = file_name + ":" + std::to_string(number) + ": ";
    if (!w.empty() && (w[0] == "restrict" || w[0] == "keys" || w[0] == "trustedkey")) {
      restrict_only.append(line);
    } else if (!w.empty() && w[0] == "discard") {
      have_discard = true;
      for (std::size_t i = 1; i < w.size(); i += 2) {
        int v = 0;
        const bool has_value = i + 1 < w.size();
        if (w[i] == "average" && has_value && to_int(w[i + 1], kMinAverageLog2, kMaxAverageLog2, v)) {
          cfg.rate.average_log2 = static_cast<std::int8_t>(v);
        } else if (w[i] == "minimum" && has_value && to_int(w[i + 1], 0, 255, v)) {
          cfg.rate.minimum_s = static_cast<std::uint8_t>(v);
        } else if (w[i] == "monitor" && has_value) {
          cfg.notes.push_back(at + "discard monitor is ignored: the dataplane keeps no monitoring list");
        } else {
          errors += at + "cannot read 'discard " + w[i] + (has_value ? " " + w[i + 1] : "") +
                    "' — write 'discard average A minimum M' with A in log2 seconds (" + std::to_string(kMinAverageLog2) +
                    ".." + std::to_string(kMaxAverageLog2) + ") and M in seconds (0..255)\n";
        }
      }
    } else if (!w.empty() && w[0] == "ratelimit") {
      have_ratelimit = true;
      cfg.rate.style = shm::RateStyle::kChrony;
      cfg.rate.all_limited = 1;
      for (std::size_t i = 1; i < w.size(); i += 2) {
        int v = 0;
        const bool has_value = i + 1 < w.size();
        if (w[i] == "interval" && has_value && to_int(w[i + 1], kMinIntervalLog2, kMaxIntervalLog2, v)) {
          cfg.rate.interval_log2 = static_cast<std::int8_t>(v);
        } else if (w[i] == "burst" && has_value && to_int(w[i + 1], 1, kMaxBurst, v)) {
          cfg.rate.burst = static_cast<std::uint8_t>(v);
        } else if (w[i] == "leak" && has_value && to_int(w[i + 1], 0, kMaxLeak, v)) {
          cfg.rate.leak = static_cast<std::uint8_t>(v);
        } else {
          errors += at + "cannot read 'ratelimit " + w[i] + (has_value ? " " + w[i + 1] : "") +
                    "' — write 'ratelimit interval I burst B leak L' with I in log2 seconds (" +
                    std::to_string(kMinIntervalLog2) + ".." + std::to_string(kMaxIntervalLog2) + "), B 1.." +
                    std::to_string(kMaxBurst) + ", L 0.." + std::to_string(kMaxLeak) + "\n";
        }
      }
    }
    restrict_only.push_back('\n');
  }
  if (have_discard && have_ratelimit) {
    errors += file_name + ": both 'discard' (ntpd) and 'ratelimit' (chrony) are given — keep the one whose "
                          "semantics you want\n";
  }
  const control::ParseResult parsed = control::parse_config(restrict_only, file_name, loader);
  for (const control::Diagnostic& d : parsed.diagnostics) {
    if (d.severity == control::Severity::kError) {
      errors += control::format_diagnostic(d) + "\n";
    } else {
      cfg.notes.push_back(control::format_diagnostic(d));
    }
  }
  for (const control::RestrictRule& r : parsed.config.restrict_rules) {
    if (r.target != control::RestrictTarget::kHostName) continue;
    const std::uint8_t a = actions_of(r.flags, false);
    if ((a & (kActIgnore | kActNoserve | kActLimited | kActVersion)) != 0) {
      errors += where(r.where) + ": restrict " + r.host_name + " drops or limits requests, and the dataplane cannot "
                "resolve host names — write the server's address instead of its name\n";
    }
  }
  cfg.rules = acl_rules_from(parsed.config.restrict_rules, &cfg.notes);
  cfg.keys = parsed.config.keys;
  cfg.trusted_keys = parsed.config.trusted_keys;
  cfg.keys_file = parsed.config.keys_file;
  if (!errors.empty()) return unexpected(errors);
  return cfg;
}

Expected<RestrictConfig, std::string> load_restrict_file(const std::string& path) {
  const control::FileLoad f = control::load_file(path);
  if (!f.text) return unexpected(path + ": cannot read the restrict file: " + f.error + " (check --restrict-file)");
  return parse_restrict_config(*f.text, path, control::load_file);
}

}  // namespace linetime::dataplane
