#include "hwclock/clock_read.h"
#include "control/query.h"

#include <netdb.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <unordered_map>

#include "control/association.h"
#include "control/kernel_transport.h"
#include "control/metrics_http.h"
#include "control/status.h"

namespace linetime::control {

using hwclock::realtime_now;

namespace {

// Stratum 0/1 reference ids are ASCII codes (".GPS.", kisses ".RATE."); a
// server that puts an address there anyway (chronyd's `local` sends
// 127.127.1.1) is shown as an address rather than as unprintable bytes.
std::string refid_text(std::uint32_t id, int stratum) {
  if (stratum <= 1) {
    std::string s;
    bool ascii = true;
    for (int shift = 24; shift >= 0; shift -= 8) {
      const char c = static_cast<char>((id >> shift) & 0xff);
      if (c == 0) break;
      ascii = ascii && c >= 0x20 && c < 0x7f;
      s += c;
    }
    if (ascii) return "." + s + ".";
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
  return buf;
}

const char* leap_text(int leap) {
  switch (leap) {
    case 0: return "no-leap";
    case 1: return "add-leap";
    case 2: return "del-leap";
    default: return "unsync";
  }
}

// Requests for one server; a second apart when more samples are wanted or
// the first request went unanswered (the association's poll interval).
constexpr int kQueryPollLog2 = 0;

struct Target {
  QueryResult* result = nullptr;
  std::unique_ptr<Association> assoc;
  std::optional<std::uint64_t> token;
  bool done = false;
  double best_delay = INFINITY;
  std::uint32_t kiss = 0;
};

void take_sample(Target& t, const SampleReady& s, int wanted) {
  QueryResult& r = *t.result;
  ++r.samples;
  const double delay = s.sample.delay.seconds();
  if (delay < t.best_delay) {
    t.best_delay = delay;
    r.offset_s = s.sample.offset.seconds();
    r.delay_s = delay;
    r.stratum = s.header.stratum;
    r.leap = static_cast<int>(s.header.leap);
    r.refid = refid_text(s.header.reference_id, s.header.stratum);
    r.root_delay_s = s.header.root_delay.seconds();
    r.root_dispersion_s = s.header.root_dispersion.seconds();
    r.precision_log2 = s.header.precision_log2;
  }
  if (r.samples >= wanted) t.done = true;
}

std::string no_answer(const Target& t, double timeout_s) {
  const AssociationCounters& c = t.assoc->counters();
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", timeout_s);
  if (t.kiss != 0) return "the server sent kiss-o'-death " + refid_text(t.kiss, 0) + " (it refuses or rate-limits us)";
  if (c.received == 0) {
    return "no reply within " + std::string(secs) + " s to " + std::to_string(c.sent) +
           " request(s) (is an NTP server running there, and is its UDP port reachable?)";
  }
  std::string why;
  for (std::size_t i = 0; i < c.dropped.size(); ++i) {
    if (c.dropped[i] == 0) continue;
    why += (why.empty() ? "" : ", ") + std::to_string(c.dropped[i]) + " " + to_string(static_cast<ReplyDrop>(i));
  }
  return std::to_string(c.received) + " repl" + (c.received == 1 ? "y" : "ies") + " rejected (" + why + ")";
}

}  // namespace

Expected<Endpoint, std::string> resolve_server(const std::string& text, const QueryOptions& o) {
  if (auto e = parse_host_port(text)) return *e;
  std::string host = text;
  std::string port = std::to_string(o.port);
  // "name:port" (a single colon); IPv6 literals without brackets have several.
  if (const auto colon = text.rfind(':'); colon != std::string::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else if (!text.empty() && text.front() == '[' && text.back() == ']') {
    host = text.substr(1, text.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = o.ipv4_only ? AF_INET : o.ipv6_only ? AF_INET6 : AF_UNSPEC;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return unexpected("cannot resolve '" + text + "': " + gai_strerror(rc) + " (check the name, or give an address)");
  std::optional<Endpoint> out;
  for (addrinfo* p = res; p != nullptr && !out; p = p->ai_next) out = from_sockaddr(p->ai_addr, p->ai_addrlen);
  ::freeaddrinfo(res);
  if (!out) return unexpected("cannot resolve '" + text + "': no IPv4 or IPv6 address");
  return *out;
}

std::vector<QueryResult> query_servers(const std::vector<std::string>& hosts, const QueryOptions& o) {
  std::vector<QueryResult> results(hosts.size());
  std::vector<Target> targets;
  const int wanted = std::max(1, o.samples);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    results[i].host = hosts[i];
    auto e = resolve_server(hosts[i], o);
    if (!e) {
      results[i].error = e.error();
      continue;
    }
    results[i].server = *e;
    AssociationConfig cfg;
    cfg.remote = hosts[i];
    cfg.minpoll = cfg.maxpoll = kQueryPollLog2;
    cfg.version = o.version;
    Target t;
    t.result = &results[i];
    t.assoc = std::make_unique<Association>(cfg, 0x71756572790000ull + i);
    targets.push_back(std::move(t));
  }
  if (targets.empty()) return results;

  KernelTransport transport(KernelTransportOptions{std::nullopt, true});
  std::unordered_map<std::uint64_t, std::size_t> tokens;
  const std::int64_t deadline = hwclock::monotonic_ms() + o.timeout.count();
  std::vector<pollfd> fds;
  auto pending = [&] { return std::any_of(targets.begin(), targets.end(), [](const Target& t) { return !t.done; }); };

  while (pending()) {
    const std::int64_t left = deadline - hwclock::monotonic_ms();
    if (left <= 0) break;
    const hwclock::UtcTime now = realtime_now();
    hwclock::UtcTime next = now + hwclock::Duration::from_s(3600);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      Target& t = targets[i];
      if (t.done) continue;
      if (now >= t.assoc->next_timer()) {
        for (const Action& a : t.assoc->on_timer(now)) {
          const auto* send = std::get_if<Send>(&a);
          if (send == nullptr) continue;
          auto sent = transport.send(*t.result->server, std::as_bytes(std::span(send->packet.data(), send->length)));
          if (!sent) {
            t.result->error = sent.error();
            t.done = true;
            break;
          }
          ++t.result->requests;
          if (t.token) tokens.erase(*t.token);
          t.token = sent->token;
          tokens[sent->token] = i;
        }
      }
      if (!t.done) next = std::min(next, t.assoc->next_timer());
    }
    const std::int64_t until_next = (next - realtime_now()).ns() / 1'000'000 + 1;
    fds.clear();
    transport.pollfds(fds);
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<std::int64_t>(std::min(until_next, left), 0, 1000)));
    transport.drain(
        [&](const Datagram& d) {
          for (Target& t : targets) {
            if (t.done || *t.result->server != d.from) continue;
            const wire::Bytes payload(reinterpret_cast<const std::uint8_t*>(d.payload.data()), d.payload.size());
            for (const Action& a : t.assoc->on_reply(payload, d.rx, realtime_now())) {
              if (const auto* s = std::get_if<SampleReady>(&a)) take_sample(t, *s, wanted);
              if (const auto* k = std::get_if<KissOfDeath>(&a)) t.kiss = k->code;
              if (std::holds_alternative<Demobilize>(a)) t.done = true;
            }
            return;
          }
        },
        [&](const TxReport& r) {
          const auto it = tokens.find(r.token);
          if (it == tokens.end()) return;
          Target& t = targets[it->second];
          if (t.token == r.token) t.assoc->on_transmitted(r.tx);
          tokens.erase(it);
        });
  }
  for (Target& t : targets) {
    if (t.result->samples == 0 && t.result->error.empty()) {
      t.result->error = no_answer(t, static_cast<double>(o.timeout.count()) / 1e3);
    }
  }
  return results;
}

int best_server(const std::vector<QueryResult>& results) {
  int best = -1;
  auto distance = [](const QueryResult& r) { return r.root_delay_s / 2 + r.root_dispersion_s + r.delay_s / 2; };
  for (std::size_t i = 0; i < results.size(); ++i) {
    const QueryResult& r = results[i];
    if (!r.ok() || r.leap == 3 || r.stratum >= 16) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const QueryResult& b = results[static_cast<std::size_t>(best)];
    if (r.stratum < b.stratum || (r.stratum == b.stratum && distance(r) < distance(b))) best = static_cast<int>(i);
  }
  return best;
}

std::string format_query(const std::vector<QueryResult>& results) {
  std::string out;
  char buf[512];
  for (const QueryResult& r : results) {
    const std::string addr = r.server ? to_string(r.server->address) : r.host;
    if (!r.ok()) {
      std::snprintf(buf, sizeof buf, "server %s, no measurement: %s\n", addr.c_str(), r.error.c_str());
    } else {
      std::snprintf(buf, sizeof buf, "server %s, stratum %d, offset %+.6f, delay %.5f, refid %s, %s\n", addr.c_str(),
                    r.stratum, r.offset_s, r.delay_s, r.refid.c_str(), leap_text(r.leap));
    }
    out += buf;
  }
  const int best = best_server(results);
  if (best < 0) {
    out += "no server suitable for synchronization found\n";
  } else {
    const QueryResult& r = results[static_cast<std::size_t>(best)];
    std::snprintf(buf, sizeof buf, "best: server %s offset %+.6f sec (measured only; the clock was not adjusted)\n",
                  to_string(r.server->address).c_str(), r.offset_s);
    out += buf;
  }
  return out;
}

std::string query_json(const std::vector<QueryResult>& results) {
  std::string out = "{\"servers\":[";
  char buf[64];
  auto num = [&](double v) {
    if (!std::isfinite(v)) return std::string("null");
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return std::string(buf);
  };
  for (std::size_t i = 0; i < results.size(); ++i) {
    const QueryResult& r = results[i];
    out += i == 0 ? "{" : ",{";
    out += "\"host\":" + json_quote(r.host);
    out += ",\"address\":" + (r.server ? json_quote(to_string(r.server->address)) : std::string("null"));
    out += ",\"port\":" + (r.server ? std::to_string(r.server->port) : std::string("null"));
    if (!r.ok()) {
      out += ",\"error\":" + json_quote(r.error) + "}";
      continue;
    }
    out += ",\"stratum\":" + std::to_string(r.stratum) + ",\"leap\":" + json_quote(leap_text(r.leap)) +
           ",\"refid\":" + json_quote(r.refid) + ",\"offset_s\":" + num(r.offset_s) + ",\"delay_s\":" + num(r.delay_s) +
           ",\"root_delay_s\":" + num(r.root_delay_s) + ",\"root_dispersion_s\":" + num(r.root_dispersion_s) +
           ",\"precision\":" + std::to_string(r.precision_log2) + ",\"samples\":" + std::to_string(r.samples) +
           ",\"requests\":" + std::to_string(r.requests) + "}";
  }
  const int best = best_server(results);
  out += "],\"best\":" + (best < 0 ? std::string("null") : std::to_string(best)) + "}\n";
  return out;
}

}  // namespace linetime::control
