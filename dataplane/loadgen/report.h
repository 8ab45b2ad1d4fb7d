// What the load generator reports: one row per slice (CSV), one summary per
// step (the table on stdout and the JSON file), and the --find-max result.
// The CSV keeps its first four columns (t_s, sent, received, answered) for the
// scripts that read them; new columns only ever go at the end. With a key
// (requests signed), the table and the JSON also say what became of the
// answers' MACs; the CSV has those columns always (zero without a key).
// Pure: writes to the FILE it is given.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "dataplane/loadgen/stats.h"

namespace linetime::loadgen {

struct SliceRow {
  double t_s = 0;  // end of the slice, seconds since the run started
  unsigned step = 0;
  double target_rate = 0;
  std::uint64_t sent = 0, received = 0, answered = 0, interleaved = 0, unmatched = 0;
  std::int64_t delay_p50_ns = 0, delay_p99_ns = 0;
  std::int64_t residence_p50_ns = 0, residence_p99_ns = 0;
  std::int64_t offset_p1_ns = 0, offset_p50_ns = 0, offset_p99_ns = 0;
  std::uint64_t auth_verified = 0, auth_mac_failed = 0, auth_crypto_nak = 0, auth_unauthenticated = 0;
};

SliceRow slice_row(double t_s, unsigned step, double target_rate, const Tally& t);

struct StepResult {
  unsigned step = 0;
  double target_rate = 0;  // requests/s asked for; 0 = unpaced
  double send_s = 0;       // how long the step sent
  std::uint64_t slipped = 0;
  Tally tally;

  double offered_rate() const { return send_s > 0 ? static_cast<double>(tally.sent) / send_s : 0; }
  double answered_rate() const { return send_s > 0 ? static_cast<double>(tally.answered) / send_s : 0; }
  double interleaved_share() const {
    return tally.answered ? static_cast<double>(tally.interleaved) / static_cast<double>(tally.answered) : 0;
  }
};

struct RunInfo {
  std::string port;          // "port 0 (net_memif)"
  std::string timestamping;  // which receive timestamps the port gives
  std::string destination;
  std::uint64_t clients = 0;
  bool interleaved = false;
  double max_loss = 0.001;
  bool find_max = false;
  double max_rate = 0;             // the loss-free rate found (find-max)
  double lowest_failing_rate = 0;  // 0 when the upper bound passed
  std::uint32_t key_id = 0;        // the key requests are signed with; 0: none
  std::string key_type;            // its type as the keys file writes it ("AES")
};

void write_csv_header(std::FILE* f);
void write_csv_row(std::FILE* f, const SliceRow& r);

// `authenticated`: requests were signed; adds the shares of answers whose MAC
// verified, failed, and of crypto-NAKs (of the answers whose MAC was checked).
void write_table_header(std::FILE* f, bool authenticated = false);
void write_table_row(std::FILE* f, const StepResult& s, bool authenticated = false);

void write_json(std::FILE* f, const RunInfo& info, const std::vector<StepResult>& steps);

}  // namespace linetime::loadgen
