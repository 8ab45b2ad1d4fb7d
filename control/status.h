// What the daemon tells operators: the system variables and the per-source
// table, in the units ntpq and ntpstat print (milliseconds, log2 seconds,
// octal reach), serialized as one JSON object for the management socket and
// for `linetimectl --json`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace linetime::control {

struct SourceRow {
  char tally = ' ';        // ntpq's: '*' system peer, '+' candidate, '-' outlier, 'x' falseticker, ' ' rejected
  std::string remote;      // address as configured/resolved
  std::string refid;       // the source's reference id (IPv4 dotted quad or a 4-char code)
  int stratum = 16;
  char type = 'u';         // 'u' unicast server, 'l' local clock, 'p' pool
  std::optional<double> when_s;  // since the last reply
  int poll_log2 = 6;
  std::uint8_t reach = 0;
  double delay_ms = 0;
  double offset_ms = 0;
  double jitter_ms = 0;
  std::string state;       // the selection state in words ("sys.peer", "falsetick", "unreach", ...)
  std::uint64_t sent = 0, received = 0, bogus = 0;
  // Authentication (`key N`): "none" without a key, "pending" before the first
  // reply, "ok" or "bad" after the last one, "no-key" when the key is unusable;
  // replies dropped for no MAC or another key, a crypto-NAK, a MAC that does
  // not verify (all also counted in `bogus`).
  std::string auth = "none";
  std::uint64_t unauthenticated = 0, crypto_nak = 0, bad_mac = 0;
};

struct SystemVars {
  std::string mode;         // "unsynchronized", "synchronized", "holdover", "local reference"
  std::string clock_control;  // "system clock" or "none (simulated clock, -x)"
  int leap = 3;
  int stratum = 16;
  std::string refid;
  std::string system_peer;  // remote of the system peer, empty when none
  int precision_log2 = -20;
  double root_delay_ms = 0;
  double root_dispersion_ms = 0;
  double offset_ms = 0;
  double frequency_ppm = 0;
  double jitter_ms = 0;
  int poll_log2 = 6;
  double uptime_s = 0;
  std::string version;
};

struct Status {
  SystemVars system;
  std::vector<SourceRow> sources;
};

std::string to_json(const Status& s);

// JSON string escaping (control characters, quotes, backslashes).
std::string json_quote(const std::string& s);

}  // namespace linetime::control
