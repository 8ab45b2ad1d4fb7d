// `linetimectl query HOST...`: one-shot measurement of NTP servers, what
// `ntpdate -q` and `ntpdig` are used for. Every server is asked in parallel
// through a control::Association (so replies pass the same packet tests as the
// daemon's) over a kernel UDP socket with kernel timestamps, within one
// bounded timeout. It only measures: nothing here can step or slew a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/transport.h"

namespace linetime::control {

struct QueryOptions {
  std::uint16_t port = 123;                  // for hosts given without one
  std::chrono::milliseconds timeout{3000};   // for the whole run
  int samples = 1;                           // replies per server; the one with the least delay is reported
  int version = 4;                           // NTP version of the requests
  bool ipv4_only = false;                    // -4: resolve names to IPv4 only
  bool ipv6_only = false;                    // -6
};

struct QueryResult {
  std::string host;                 // as given on the command line
  std::optional<Endpoint> server;   // the address asked (unset: the name did not resolve)
  std::string error;                // why there is no measurement; empty when there is one
  int stratum = 16;
  int leap = 3;                     // 0 none, 1 insert, 2 delete, 3 unsynchronised
  std::string refid;                // dotted quad, or a 4-character code in dots for stratum 1 and kisses
  double offset_s = 0;              // server - local: positive means the local clock is behind
  double delay_s = 0;               // round trip
  double root_delay_s = 0;
  double root_dispersion_s = 0;
  int precision_log2 = 0;
  int samples = 0;                  // replies used
  int requests = 0;                 // requests sent
  bool ok() const { return error.empty(); }
};

// Resolves "HOST", "HOST:PORT", "ADDR:PORT" or "[V6ADDR]:PORT".
Expected<Endpoint, std::string> resolve_server(const std::string& text, const QueryOptions& o);

// Asks every host; one result per host, in the order given.
std::vector<QueryResult> query_servers(const std::vector<std::string>& hosts, const QueryOptions& o);

// ntpdate -q's lines ("server ADDR, stratum N, offset +S, delay S") with the
// leap indicator and reference id added, failures with their reason, then the
// best server (lowest stratum, then lowest root distance).
std::string format_query(const std::vector<QueryResult>& results);
std::string query_json(const std::vector<QueryResult>& results);

// Index of the best measured server, or -1 when none answered.
int best_server(const std::vector<QueryResult>& results);

}  // namespace linetime::control
