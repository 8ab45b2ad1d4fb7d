// What linetimectl prints, as pure functions of the daemon's Status (and of the
// dataplane's counters): the source table in the shape of `ntpq -p`, the
// `ntpstat` summary with its exit code, the dataplane counters by reason and
// lcore, and the Prometheus text exposition the daemon also serves over HTTP.
// No IO here, so the golden tests pin every byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/status.h"

namespace linetime::shm {
struct CounterBlock;
}

namespace linetime::control {

// ntpq's `when` and `poll` cells: seconds up to 2048, then minutes ("35m") up
// to 300 minutes, hours ("5h") up to 96 hours, then days ("12d"); "-" for no
// reply yet and for zero. Sub-second polls (negative exponents) print as
// "1/N" (N = 2..64), which ntpq cannot show.
std::string ntpq_interval(std::optional<double> seconds);
std::string ntpq_poll(int poll_log2);

// The `ntpq -p` table: header, rule and one line per source, 78 columns:
// tally, remote (15), refid (15), st, t, when, poll, reach (octal), then
// delay, offset and jitter in milliseconds with three decimals, cut to the
// column width as ntpq does.
std::string format_peers(const Status& s);

// ntpstat's exit codes.
inline constexpr int kSynchronised = 0;
inline constexpr int kUnsynchronised = 1;
inline constexpr int kSyncUnknown = 2;  // the daemon could not be asked

struct SyncSummary {
  std::string text;
  int exit_code = kSyncUnknown;
};
// "synchronised to NTP server (ADDR) at stratum N / time correct to within X ms
// / polling server every N s", or "unsynchronised" with the poll interval.
// X is the root distance (root delay / 2 + root dispersion), rounded up.
SyncSummary format_ntpstat(const Status& s);

// The dataplane's counters as read from the shared memory: the non-zero
// counters by name, with one value per lcore.
struct CounterRow {
  std::string name;
  std::vector<std::uint64_t> per_lcore;
  std::uint64_t total() const;
};
struct CounterTable {
  std::size_t lcores = 0;
  std::vector<CounterRow> rows;  // in counter order, rows all zero left out
};
CounterTable read_counters(const shm::CounterBlock* blocks, std::size_t lcores);

// One line per counter: name, total and each lcore's count; with `before`
// (read `interval_s` seconds earlier) also the total's rate per second.
std::string format_counters(const CounterTable& now, const CounterTable* before = nullptr, double interval_s = 0);

// Prometheus text exposition (format 0.0.4): system offset, frequency,
// jitter, root delay/dispersion/distance, stratum, leap, synchronisation;
// per source its state, reach, stratum, poll, offset, delay, jitter and
// packet counts; the dataplane counters by name and lcore when given. Values
// in base units (seconds), as Prometheus names ask.
std::string format_metrics(const Status& s, const CounterTable* counters = nullptr);

}  // namespace linetime::control
