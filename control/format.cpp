#include "control/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "dataplane/counters.h"
#include "dataplane/shm/counters.h"

namespace linetime::control {

namespace {

std::string printf_string(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// A cell right-aligned in `width` columns, its text cut to `keep` characters.
std::string cell_right(const std::string& text, std::size_t width, std::size_t keep) {
  std::string t = text.substr(0, keep);
  if (t.size() < width) t.insert(0, width - t.size(), ' ');
  return t;
}
std::string cell_left(const std::string& text, std::size_t width) {
  std::string t = text.substr(0, width);
  t.resize(width, ' ');
  return t;
}

std::string milliseconds(double ms) {
  if (!std::isfinite(ms)) return "-";
  return printf_string("%.3f", ms);
}

// Tally codes ntpq knows; anything else shows as a space (rejected).
char known_tally(char c) {
  switch (c) {
    case '*': case '+': case '-': case 'x': case '#': case 'o': case '.': return c;
    default: return ' ';
  }
}

bool synchronised(const SystemVars& v) {
  return v.leap != 3 && v.stratum > 0 && v.stratum < 16 && v.mode != "unsynchronized";
}

double root_distance_ms(const SystemVars& v) { return v.root_delay_ms / 2 + v.root_dispersion_ms; }

// Prometheus text format: a metric family (HELP, TYPE, samples).
class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(double value, std::initializer_list<std::pair<const char*, std::string>> labels = {}) {
    out_ += name_;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        out_ += (first ? "" : ",") + std::string(k) + "=\"" + escape(v) + "\"";
        first = false;
      }
      out_ += '}';
    }
    out_ += ' ' + number(value) + '\n';
  }
  const std::string& text() const { return out_; }

  static std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 9e18) return printf_string("%.0f", v);
    return printf_string("%.9g", v);
  }

 private:
  static std::string escape(const std::string& s) {
    std::string o;
    for (const char c : s) {
      if (c == '\\') o += "\\\\";
      else if (c == '"') o += "\\\"";
      else if (c == '\n') o += "\\n";
      else o += c;
    }
    return o;
  }
  std::string name_;
  std::string out_;
};

}  // namespace

std::string ntpq_interval(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return "-";
  auto diff = static_cast<long long>(*seconds);
  if (diff <= 0) return "-";
  if (diff <= 2048) return std::to_string(diff);
  diff = (diff + 29) / 60;
  if (diff <= 300) return std::to_string(diff) + "m";
  diff = (diff + 29) / 60;
  if (diff <= 96) return std::to_string(diff) + "h";
  diff = (diff + 11) / 24;
  return std::to_string(diff) + "d";
}

std::string ntpq_poll(int poll_log2) {
  if (poll_log2 < 0) return "1/" + std::to_string(1LL << std::min(-poll_log2, 62));
  return ntpq_interval(std::ldexp(1.0, std::min(poll_log2, 62)));
}

std::string format_peers(const Status& s) {
  std::string out =
      "     remote           refid      st t when poll reach   delay   offset  jitter\n"
      "==============================================================================\n";
  for (const SourceRow& r : s.sources) {
    out += known_tally(r.tally);
    out += cell_left(r.remote, 15) + ' ';
    out += cell_left(r.refid, 15) + ' ';
    out += printf_string("%2d %c ", r.stratum, r.type);
    out += cell_right(ntpq_interval(r.when_s), 4, 4) + ' ';
    out += cell_right(ntpq_poll(r.poll_log2), 4, 4) + "  ";
    out += printf_string("%3o", static_cast<unsigned>(r.reach)) + "  ";
    out += cell_right(milliseconds(r.delay_ms), 7, 7) + ' ';
    out += cell_right(milliseconds(r.offset_ms), 8, 7) + ' ';
    out += cell_right(milliseconds(r.jitter_ms), 7, 7) + '\n';
  }
  return out;
}

SyncSummary format_ntpstat(const Status& s) {
  const SystemVars& v = s.system;
  const std::string poll = v.poll_log2 >= 0 ? std::to_string(1LL << std::min(v.poll_log2, 62))
                                            : printf_string("%g", std::ldexp(1.0, v.poll_log2));
  SyncSummary out;
  if (!synchronised(v)) {
    out.text = "unsynchronised\n";
    if (v.stratum >= 16 || v.stratum == 0) out.text += "  time server re-starting\n";
    out.text += "   polling server every " + poll + " s\n";
    out.exit_code = kUnsynchronised;
    return out;
  }
  std::string to;
  if (v.mode == "local-reference") {
    to = "local net";
  } else if (!v.system_peer.empty()) {
    to = "NTP server (" + v.system_peer + ")";
  } else {
    to = "unspecified";
  }
  const double within = root_distance_ms(v);
  out.text = "synchronised to " + to + " at stratum " + std::to_string(v.stratum) + "\n";
  out.text += "   time correct to within " +
              (std::isfinite(within) ? printf_string("%.0f", std::ceil(std::max(within, 0.0))) : std::string("?")) +
              " ms\n";
  out.text += "   polling server every " + poll + " s\n";
  out.exit_code = kSynchronised;
  return out;
}

std::uint64_t CounterRow::total() const {
  std::uint64_t t = 0;
  for (const auto v : per_lcore) t += v;
  return t;
}

CounterTable read_counters(const shm::CounterBlock* blocks, std::size_t lcores) {
  using dataplane::Counter;
  CounterTable t;
  t.lcores = lcores;
  for (std::size_t i = 0; i < dataplane::index(Counter::kCount); ++i) {
    CounterRow row;
    row.name = dataplane::counter_name(static_cast<Counter>(i));
    row.per_lcore.resize(lcores);
    for (std::size_t l = 0; l < lcores; ++l) row.per_lcore[l] = blocks[l].get(i);
    if (row.total() != 0) t.rows.push_back(std::move(row));
  }
  return t;
}

std::string format_counters(const CounterTable& now, const CounterTable* before, double interval_s) {
  const bool rates = before != nullptr && interval_s > 0;
  std::string out = printf_string("%-28s %14s", "counter", "total");
  if (rates) out += printf_string(" %12s", "per second");
  for (std::size_t l = 0; l < now.lcores; ++l) out += printf_string(" %12s", ("lcore " + std::to_string(l)).c_str());
  out += '\n';
  if (now.rows.empty()) return out + "(every counter is zero)\n";
  for (const CounterRow& r : now.rows) {
    out += printf_string("%-28s %14llu", r.name.c_str(), static_cast<unsigned long long>(r.total()));
    if (rates) {
      std::uint64_t earlier = 0;
      for (const CounterRow& b : before->rows) {
        if (b.name == r.name) earlier = b.total();
      }
      const double rate = r.total() >= earlier ? static_cast<double>(r.total() - earlier) / interval_s : 0.0;
      out += printf_string(" %12.1f", rate);
    }
    for (const auto v : r.per_lcore) out += printf_string(" %12llu", static_cast<unsigned long long>(v));
    out += '\n';
  }
  return out;
}

std::string format_metrics(const Status& s, const CounterTable* counters) {
  const SystemVars& v = s.system;
  Exposition e;
  e.family("linetime_info", "gauge", "Version, synchronisation mode and clock control of linetime-control (value 1).");
  e.sample(1, {{"version", v.version}, {"mode", v.mode}, {"clock_control", v.clock_control}});
  e.family("linetime_synchronized", "gauge", "1 when the clock is synchronised (ntpstat exit code 0), else 0.");
  e.sample(synchronised(v) ? 1 : 0);
  e.family("linetime_stratum", "gauge", "Stratum served to clients (16: unsynchronised).");
  e.sample(v.stratum);
  e.family("linetime_leap", "gauge", "Leap indicator: 0 none, 1 insert, 2 delete, 3 unsynchronised.");
  e.sample(v.leap);
  e.family("linetime_offset_seconds", "gauge", "Combined offset of the sources; positive: the local clock is behind.");
  e.sample(v.offset_ms / 1e3);
  e.family("linetime_frequency_ppm", "gauge", "Frequency correction applied to the clock, in parts per million.");
  e.sample(v.frequency_ppm);
  e.family("linetime_jitter_seconds", "gauge", "System jitter.");
  e.sample(v.jitter_ms / 1e3);
  e.family("linetime_root_delay_seconds", "gauge", "Round trip to the primary reference.");
  e.sample(v.root_delay_ms / 1e3);
  e.family("linetime_root_dispersion_seconds", "gauge", "Error bound accumulated to the primary reference.");
  e.sample(v.root_dispersion_ms / 1e3);
  e.family("linetime_root_distance_seconds", "gauge", "Root delay / 2 + root dispersion: the bound ntpstat reports.");
  e.sample(root_distance_ms(v) / 1e3);
  e.family("linetime_poll_seconds", "gauge", "System poll interval.");
  e.sample(std::ldexp(1.0, v.poll_log2));
  e.family("linetime_uptime_seconds", "counter", "Seconds since linetime-control started.");
  e.sample(v.uptime_s);

  auto per_source = [&](const char* name, const char* type, const char* help, auto value) {
    if (s.sources.empty()) return;
    e.family(name, type, help);
    for (const SourceRow& r : s.sources) e.sample(value(r), {{"remote", r.remote}});
  };
  if (!s.sources.empty()) {
    e.family("linetime_source_state", "gauge", "Selection state of each source (value 1), with its ntpq tally code.");
    for (const SourceRow& r : s.sources) {
      e.sample(1, {{"remote", r.remote}, {"state", r.state}, {"tally", std::string(1, known_tally(r.tally))}});
    }
  }
  per_source("linetime_source_system_peer", "gauge", "1 for the system peer, else 0.",
             [](const SourceRow& r) { return r.tally == '*' ? 1.0 : 0.0; });
  per_source("linetime_source_reach", "gauge", "Reach register of the last eight polls (377 octal = 255: all answered).",
             [](const SourceRow& r) { return static_cast<double>(r.reach); });
  per_source("linetime_source_stratum", "gauge", "Stratum the source announces.",
             [](const SourceRow& r) { return static_cast<double>(r.stratum); });
  per_source("linetime_source_poll_seconds", "gauge", "Poll interval of the source.",
             [](const SourceRow& r) { return std::ldexp(1.0, r.poll_log2); });
  per_source("linetime_source_offset_seconds", "gauge", "Offset of the source; positive: the local clock is behind it.",
             [](const SourceRow& r) { return r.offset_ms / 1e3; });
  per_source("linetime_source_delay_seconds", "gauge", "Round-trip delay to the source.",
             [](const SourceRow& r) { return r.delay_ms / 1e3; });
  per_source("linetime_source_jitter_seconds", "gauge", "Jitter of the source.",
             [](const SourceRow& r) { return r.jitter_ms / 1e3; });
  per_source("linetime_source_last_reply_seconds", "gauge", "Seconds since the last reply (NaN: none yet).",
             [](const SourceRow& r) { return r.when_s ? *r.when_s : std::nan(""); });
  per_source("linetime_source_requests_total", "counter", "Requests sent to the source.",
             [](const SourceRow& r) { return static_cast<double>(r.sent); });
  per_source("linetime_source_replies_total", "counter", "Packets received from the source.",
             [](const SourceRow& r) { return static_cast<double>(r.received); });
  per_source("linetime_source_replies_dropped_total", "counter", "Packets from the source that failed the packet tests.",
             [](const SourceRow& r) { return static_cast<double>(r.bogus); });

  if (counters != nullptr) {
    e.family("linetime_dataplane_lcores", "gauge", "Dataplane lcores counting packets.");
    e.sample(static_cast<double>(counters->lcores));
    if (!counters->rows.empty()) {
      e.family("linetime_dataplane_packets_total", "counter",
               "Dataplane packet outcomes by reason and lcore (reasons never seen are left out).");
      for (const CounterRow& r : counters->rows) {
        for (std::size_t l = 0; l < r.per_lcore.size(); ++l) {
          e.sample(static_cast<double>(r.per_lcore[l]), {{"reason", r.name}, {"lcore", std::to_string(l)}});
        }
      }
    }
  }
  return e.text();
}

}  // namespace linetime::control
