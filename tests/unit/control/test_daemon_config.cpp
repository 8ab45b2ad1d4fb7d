// The discipline's settings as the daemon derives them from ntp.conf and the
// command line: the seeds' files, tinker/tos, -g/-q, the drift file.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace linetime::control
