// The discipline's settings as the daemon derives them from ntp.conf and the
// command line: the seeds' files, tinker/tos, -g/-q, the drift file.
#include <gtest/gtest.h>

#include "control/association.h"
#include "control/daemon.h"

namespace linetime::control {
namespace {

Config parse(const std::string& text) {
  ParseResult r = parse_config(text, "t.conf", {});
  EXPECT_FALSE(r.has_errors()) << format_diagnostics(r.diagnostics);
  return r.config;
}

TEST(DaemonConfig, DefaultsAreNtpds) {
  const discipline::DisciplineConfig d = discipline_config(parse("server 198.18.0.1\n"), DaemonOptions{}, std::nullopt);
  EXPECT_DOUBLE_EQ(d.step_threshold_s, 0.128);
  EXPECT_DOUBLE_EQ(d.stepout_s, 300);
  EXPECT_DOUBLE_EQ(d.panic_threshold_s, 1000);
  EXPECT_FALSE(d.allow_first_panic);
  EXPECT_FALSE(d.one_shot);
  EXPECT_FALSE(d.local_reference);
  EXPECT_FALSE(d.drift_ppm.has_value());
}

TEST(DaemonConfig, SeedsLocalClockAtStratum10) {
  // Both seeds: server 127.127.1.0 + fudge 127.127.1.0 stratum 10.
  const Config c = parse("server 198.18.0.1\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n");
  const discipline::DisciplineConfig d = discipline_config(c, DaemonOptions{}, std::nullopt);
  EXPECT_TRUE(d.local_reference);
  EXPECT_EQ(d.local_stratum, 10);
  EXPECT_DOUBLE_EQ(d.local_wait_s, 300);  // ntpd's orphanwait default
}

TEST(DaemonConfig, TinkerTosOrphanAndFlags) {
  const Config c = parse(
      "server 198.18.0.1\n"
      "tinker step 0.5 stepout 60 panic 0\n"
      "tos minsane 2 minclock 4 maxdist 0.5 mindist 0.002 floor 2 ceiling 12 orphan 8 orphanwait 30\n");
  DaemonOptions o;
  o.allow_first_panic = true;
  o.one_shot = true;
  const discipline::DisciplineConfig d = discipline_config(c, o, 12.5);
  EXPECT_DOUBLE_EQ(d.step_threshold_s, 0.5);
  EXPECT_DOUBLE_EQ(d.stepout_s, 60);
  EXPECT_DOUBLE_EQ(d.panic_threshold_s, 0);
  EXPECT_EQ(d.min_sane, 2);
  EXPECT_EQ(d.min_clock, 4);
  EXPECT_DOUBLE_EQ(d.max_distance_s, 0.5);
  EXPECT_DOUBLE_EQ(d.min_distance_s, 0.002);
  EXPECT_EQ(d.stratum_floor, 2);
  EXPECT_EQ(d.stratum_ceiling, 12);
  EXPECT_TRUE(d.local_reference);  // orphan mode without a local clock line
  EXPECT_EQ(d.local_stratum, 8);
  EXPECT_DOUBLE_EQ(d.local_wait_s, 30);
  EXPECT_TRUE(d.allow_first_panic);
  EXPECT_TRUE(d.one_shot);
  ASSERT_TRUE(d.drift_ppm.has_value());
  EXPECT_DOUBLE_EQ(*d.drift_ppm, 12.5);
}

// `key N` on a server line: the daemon refuses a key it cannot sign with
// (naming the line and the fix) and gives the trusted one to the association.
Config parse_with_keys(const std::string& text) {
  const FileLoader files = [](const std::string& path) {
    if (path == "/etc/ntp/keys") return FileLoad{"1 MD5 linetime\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n", "", ""};
    return FileLoad{std::nullopt, "No such file or directory", ""};
  };
  ParseResult r = parse_config(text, "t.conf", files);
  EXPECT_FALSE(r.has_errors()) << format_diagnostics(r.diagnostics);
  return r.config;
}

TEST(DaemonConfig, KeyTableSignsForTheServerLine) {
  const Config c = parse_with_keys("keys /etc/ntp/keys\ntrustedkey 1 2\nserver 198.18.0.1 key 2\n");
  const auto table = key_table(c);
  EXPECT_EQ(table->size(), 2u);
  const AssociationConfig ac = association_config(c.sources[0], table);
  ASSERT_NE(ac.mac, nullptr);
  EXPECT_EQ(ac.mac->id(), 2u);
  EXPECT_EQ(ac.mac->algorithm(), auth::Algorithm::kSha1);
  Association a(ac, 1);
  const Actions acts = a.on_timer(hwclock::UtcTime(1'709'251'200LL * hwclock::kNsPerSec));
  const Send* s = acts.find<Send>();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->length, 72u);  // 48 + key id + 20-octet SHA-1 digest
  EXPECT_TRUE(table->find(2)->verify(s->packet.data(), 48, s->packet.data() + 52, 20));
  // Untrusted keys are not in the table.
  EXPECT_EQ(key_table(parse_with_keys("keys /etc/ntp/keys\ntrustedkey 1\n"))->find(2), nullptr);
}

}  // namespace
}  // namespace linetime::control
