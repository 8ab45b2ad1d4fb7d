// What linetimectl prints: the ntpq -p table, the ntpstat text and exit code
// and the Prometheus text, against golden files in golden/ (inputs are status
// objects as the daemon writes them). LINETIME_UPDATE_GOLDEN=1 rewrites the
// expected files from the current output instead of comparing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "control/format.h"
#include "control/json.h"
#include "dataplane/counters.h"
#include "dataplane/shm/counters.h"

using namespace linetime::control;

namespace {

std::string golden_path(const std::string& name) { return std::string(LINETIME_GOLDEN_DIR) + "/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status load_status(const std::string& name) {
  auto st = status_from_json(read_file(golden_path(name + ".json")));
  EXPECT_TRUE(st.has_value()) << name << ": " << st.error();
  return st ? *st : Status{};
}

void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = golden_path(name);
  const char* update = std::getenv("LINETIME_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(read_file(path), actual) << "golden file " << path
                                     << " differs (LINETIME_UPDATE_GOLDEN=1 rewrites it after a deliberate change)";
}

}  // namespace

TEST(NtpqFormat, WhenUsesNtpqUnits) {
  EXPECT_EQ(ntpq_interval(std::nullopt), "-");
  EXPECT_EQ(ntpq_interval(0.0), "-");
  EXPECT_EQ(ntpq_interval(0.9), "-");
  EXPECT_EQ(ntpq_interval(1.2), "1");
  EXPECT_EQ(ntpq_interval(2048.0), "2048");
  EXPECT_EQ(ntpq_interval(2049.0), "34m");       // (2049 + 29) / 60, rounded down
  EXPECT_EQ(ntpq_interval(300 * 60.0), "300m");
  EXPECT_EQ(ntpq_interval(300 * 60.0 + 31), "5h");
  EXPECT_EQ(ntpq_interval(96 * 3600.0), "96h");
  EXPECT_EQ(ntpq_interval(97 * 3600.0), "4d");
  EXPECT_EQ(ntpq_interval(400000.0), "5d");
  EXPECT_EQ(ntpq_interval(std::nan("")), "-");
}

TEST(NtpqFormat, PollInSeconds) {
  EXPECT_EQ(ntpq_poll(0), "1");
  EXPECT_EQ(ntpq_poll(6), "64");
  EXPECT_EQ(ntpq_poll(10), "1024");
  EXPECT_EQ(ntpq_poll(11), "2048");
  EXPECT_EQ(ntpq_poll(12), "68m");
  EXPECT_EQ(ntpq_poll(17), "36h");
  EXPECT_EQ(ntpq_poll(-1), "1/2");
  EXPECT_EQ(ntpq_poll(-6), "1/64");
}

TEST(NtpqFormat, EveryLineIs78Columns) {
  const std::string table = format_peers(load_status("synced"));
  std::istringstream in(table);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.size(), 78u) << "line " << lines << ": '" << line << "'";
    ++lines;
  }
  EXPECT_EQ(lines, 2 + 6);
}

TEST(NtpqFormat, RowColumns) {
  Status s;
  SourceRow r;
  r.tally = '*';
  r.remote = "198.18.1.1";
  r.refid = ".GPS.";
  r.stratum = 1;
  r.when_s = 35;
  r.poll_log2 = 6;
  r.reach = 0377;
  r.delay_ms = 0.2014;
  r.offset_ms = -0.0213;
  r.jitter_ms = 0.0081;
  s.sources.push_back(r);
  const std::string table = format_peers(s);
  const std::string row = table.substr(table.find('\n', 80) + 1);
  EXPECT_EQ(row, "*198.18.1.1      .GPS.            1 u   35   64  377    0.201   -0.021   0.008\n");
  // ntpq cuts numbers to the column: seven characters.
  s.sources[0].offset_ms = 500.123456;
  s.sources[0].delay_ms = 123456.789;
  s.sources[0].tally = '?';  // unknown tallies print as rejected
  const std::string t2 = format_peers(s);
  EXPECT_EQ(t2.substr(t2.find('\n', 80) + 1),
            " 198.18.1.1      .GPS.            1 u   35   64  377  123456.  500.123   0.008\n");
}

TEST(Golden, Peers) {
  for (const char* name : {"synced", "unsynced", "local"}) {
    expect_golden(std::string(name) + ".peers.txt", format_peers(load_status(name)));
  }
}

TEST(Golden, StatusTextAndExitCode) {
  const SyncSummary synced = format_ntpstat(load_status("synced"));
  expect_golden("synced.status.txt", synced.text);
  EXPECT_EQ(synced.exit_code, kSynchronised);
  const SyncSummary unsynced = format_ntpstat(load_status("unsynced"));
  expect_golden("unsynced.status.txt", unsynced.text);
  EXPECT_EQ(unsynced.exit_code, kUnsynchronised);
  const SyncSummary local = format_ntpstat(load_status("local"));
  expect_golden("local.status.txt", local.text);
  EXPECT_EQ(local.exit_code, kSynchronised);
}

TEST(Golden, Metrics) {
  CounterTable counters;
  counters.lcores = 2;
  counters.rows.push_back({"rx-frames", {1000, 2000}});
  counters.rows.push_back({"answered", {990, 1999}});
  counters.rows.push_back({"rate-limited", {10, 0}});
  expect_golden("synced.metrics.txt", format_metrics(load_status("synced"), &counters));
  expect_golden("unsynced.metrics.txt", format_metrics(load_status("unsynced")));
}

TEST(Ntpstat, Wording) {
  Status s;
  s.system.mode = "synchronized";
  s.system.leap = 0;
  s.system.stratum = 3;
  s.system.system_peer = "198.18.0.7";
  s.system.root_delay_ms = 20;
  s.system.root_dispersion_ms = 31.2;  // distance 41.2 ms: "within 42 ms"
  s.system.poll_log2 = 10;
  SyncSummary r = format_ntpstat(s);
  EXPECT_EQ(r.text,
            "synchronised to NTP server (198.18.0.7) at stratum 3\n"
            "   time correct to within 42 ms\n"
            "   polling server every 1024 s\n");
  EXPECT_EQ(r.exit_code, 0);
  // Holdover keeps serving a stratum: still synchronised, the peer unknown.
  s.system.mode = "holdover";
  s.system.system_peer.clear();
  EXPECT_EQ(format_ntpstat(s).text.substr(0, 42), "synchronised to unspecified at stratum 3\n ");
  // The leap indicator alone makes it unsynchronised.
  s.system.leap = 3;
  r = format_ntpstat(s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.text, "unsynchronised\n   polling server every 1024 s\n");
  s.system.poll_log2 = -1;
  EXPECT_EQ(format_ntpstat(s).text, "unsynchronised\n   polling server every 0.5 s\n");
}

TEST(Counters, ReadSkipsZerosAndSumsLcores) {
  using linetime::dataplane::Counter;
  using linetime::dataplane::index;
  static linetime::shm::CounterBlock blocks[3];
  blocks[0].add(index(Counter::kRxFrames), 5);
  blocks[2].add(index(Counter::kRxFrames), 7);
  blocks[1].add(index(Counter::kDropVlan), 1);
  const CounterTable t = read_counters(blocks, 3);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.lcores, 3u);
  EXPECT_EQ(t.rows[0].name, "rx-frames");
  EXPECT_EQ(t.rows[0].per_lcore, (std::vector<std::uint64_t>{5, 0, 7}));
  EXPECT_EQ(t.rows[0].total(), 12u);
  EXPECT_EQ(t.rows[1].name, "drop-vlan");
  EXPECT_EQ(t.rows[1].total(), 1u);
}

TEST(Counters, TableWithRates) {
  CounterTable before;
  before.lcores = 2;
  before.rows.push_back({"rx-frames", {100, 50}});
  CounterTable after = before;
  after.rows[0].per_lcore = {300, 250};
  after.rows.push_back({"answered", {10, 0}});
  EXPECT_EQ(format_counters(after, &before, 2.0),
            "counter                               total   per second      lcore 0      lcore 1\n"
            "rx-frames                               550        200.0          300          250\n"
            "answered                                 10          5.0           10            0\n");
  EXPECT_EQ(format_counters(CounterTable{1, {}}),
            "counter                               total      lcore 0\n"
            "(every counter is zero)\n");
}

TEST(Metrics, LabelsEscapedAndValuesInSeconds) {
  Status s;
  s.system.offset_ms = 1.5;
  s.system.version = "v\"1\"\\x\n";
  SourceRow r;
  r.remote = "198.18.0.1";
  r.state = "survivor";
  r.tally = '+';
  r.reach = 0377;
  s.sources.push_back(r);
  const std::string m = format_metrics(s);
  EXPECT_NE(m.find("linetime_info{version=\"v\\\"1\\\"\\\\x\\n\",mode=\"\",clock_control=\"\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nlinetime_offset_seconds 0.0015\n"), std::string::npos);
  EXPECT_NE(m.find("\nlinetime_source_reach{remote=\"198.18.0.1\"} 255\n"), std::string::npos);
  EXPECT_NE(m.find("\nlinetime_source_state{remote=\"198.18.0.1\",state=\"survivor\",tally=\"+\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("\nlinetime_source_last_reply_seconds{remote=\"198.18.0.1\"} NaN\n"), std::string::npos);
  EXPECT_EQ(m.find("dataplane"), std::string::npos);
  // Every family is announced once, before its samples.
  std::istringstream in(m);
  std::string line, family;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) family = line.substr(7, line.find(' ', 7) - 7);
    if (line[0] != '#') {
      EXPECT_EQ(line.rfind(family, 0), 0u) << line;
    }
  }
}
