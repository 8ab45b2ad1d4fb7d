// `linetime-control --check-config FILE`: reads an ntp.conf (plus linetime's
// appliance directives), prints every diagnostic as "file:line: severity:
// message" and a one-screen summary of what the daemon would run. It never
// resolves names nor touches the network; include and keys files are read from
// the filesystem. Exit 1 on any error, 0 otherwise.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

#include "control/check_config.h"
#include "control/config.h"

using namespace linetime::control;

namespace {

std::string format_number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string source_options(const Source& s) {
  std::string o;
  auto add = [&](const std::string& w) { o += (o.empty() ? "" : " ") + w; };
  if (s.family == AddressFamily::kIpv4) add("-4");
  if (s.family == AddressFamily::kIpv6) add("-6");
  if (s.iburst) add("iburst");
  if (s.burst) add("burst");
  if (s.prefer) add("prefer");
  if (s.noselect) add("noselect");
  if (s.true_chimer) add("true");
  if (s.xleave) add("xleave");
  if (s.preempt) add("preempt");
  add("minpoll " + std::to_string(s.minpoll));
  add("maxpoll " + std::to_string(s.maxpoll));
  if (s.key) add("key " + std::to_string(*s.key));
  if (s.version != 4) add("version " + std::to_string(s.version));
  return o;
}

void summary(const Config& c) {
  std::printf("sources:\n");
  if (c.sources.empty()) std::printf("  (none)\n");
  for (const auto& s : c.sources) {
    std::printf("  %-6s %-24s %s%s  (line %d)\n", to_string(s.kind), s.host.c_str(), source_options(s).c_str(),
                s.address ? "" : ", name resolved at startup", s.where.line);
  }
  if (c.local_clock) {
    std::printf("local clock: 127.127.1.%d stratum %d refid %s%s  (line %d)\n", c.local_clock->unit,
                c.local_clock->stratum, c.local_clock->refid.c_str(), c.local_clock->prefer ? " prefer" : "",
                c.local_clock->where.line);
  } else {
    std::printf("local clock: none\n");
  }
  std::printf("restrict rules (in file order):\n");
  bool have_default = false;
  for (const auto& r : c.restrict_rules) {
    have_default = have_default || r.target == RestrictTarget::kDefault;
    std::string flags = restrict_flags_to_string(r.flags);
    if (r.ippeerlimit) flags += (flags.empty() ? "" : " ") + std::string("ippeerlimit ") + std::to_string(*r.ippeerlimit);
    std::printf("  %-24s %s  (line %d)\n", restrict_target_to_string(r).c_str(),
                flags.empty() ? "(no restrictions)" : flags.c_str(), r.where.line);
  }
  if (!have_default) std::printf("  (no 'restrict default' line: addresses no rule matches are unrestricted)\n");
  std::printf("driftfile: %s\n", c.driftfile.empty() ? "(none)" : c.driftfile.c_str());
  if (!c.keys_file.empty()) std::printf("keys: %s\n", c.keys_file.c_str());
  if (!c.trusted_keys.empty()) {
    std::printf("trustedkey:");
    for (auto k : c.trusted_keys) std::printf(" %u", k);
    std::printf("\n");
  }
  if (c.tos.orphan) std::printf("tos orphan: %d\n", *c.tos.orphan);
  if (c.tinker.step) std::printf("tinker step: %s s\n", format_number(*c.tinker.step).c_str());
  if (c.tinker.panic) std::printf("tinker panic: %s s\n", format_number(*c.tinker.panic).c_str());
  if (c.tinker.stepout) std::printf("tinker stepout: %s s\n", format_number(*c.tinker.stepout).c_str());
  if (!c.leapfile.empty()) std::printf("leapfile: %s\n", c.leapfile.c_str());
  if (!c.logfile.empty()) std::printf("logfile: %s\n", c.logfile.c_str());
  const auto& a = c.appliance;
  if (!a.dataplane_ports.empty() || !a.dataplane_addresses.empty() || !a.shm_name.empty() ||
      !a.control_socket.empty()) {
    std::printf("appliance:");
    if (!a.dataplane_ports.empty()) {
      std::printf(" ports");
      for (auto p : a.dataplane_ports) std::printf(" %d", p);
    }
    if (!a.dataplane_lcores.empty()) {
      std::printf("; lcores");
      for (auto l : a.dataplane_lcores) std::printf(" %d", l);
    }
    for (const auto& ad : a.dataplane_addresses) std::printf("; address %s", to_string(ad).c_str());
    if (!a.dataplane_tap.empty()) std::printf("; tap %s", a.dataplane_tap.c_str());
    if (!a.shm_name.empty()) std::printf("; shm %s", a.shm_name.c_str());
    if (!a.control_socket.empty()) std::printf("; control socket %s", a.control_socket.c_str());
    if (a.holdover_s) std::printf("; holdover %s s", format_number(*a.holdover_s).c_str());
    std::printf("\n");
  }
}

}  // namespace

namespace linetime::control {

int check_config(const std::string& path) {
  FileLoad f = load_file(path);
  if (!f.text) {
    std::fprintf(stderr, "linetime-control: cannot read %s: %s — check the path\n", path.c_str(), f.error.c_str());
    return 1;
  }
  ParseResult r = parse_config(*f.text, path, load_file);
  std::fputs(format_diagnostics(r.diagnostics).c_str(), stdout);
  if (!r.diagnostics.empty()) std::printf("\n");
  summary(r.config);
  std::printf("\n%s: %zu error(s), %zu warning(s), %zu note(s) — %s\n", path.c_str(), r.count(Severity::kError),
              r.count(Severity::kWarning), r.count(Severity::kNote),
              r.has_errors() ? "configuration rejected" : "configuration OK");
  return r.has_errors() ? 1 : 0;
}

}  // namespace linetime::control
