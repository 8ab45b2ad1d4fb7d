#include "dataplane/loadgen/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace linetime::loadgen {
namespace {

Expected<Options, std::string> parse(std::vector<std::string> extra) {
  std::vector<std::string> args{"--dst-mac", "02:00:00:00:00:01"};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse_options(args);
}

TEST(Options, DefaultsMatchTheBenchScripts) {
  const auto o = parse({});
  ASSERT_TRUE(o.has_value()) << o.error();
  EXPECT_EQ(o->dst, wire::Ipv4Address::of(198, 18, 0, 1));
  EXPECT_EQ(o->population.first_address, wire::Ipv4Address::of(198, 18, 1, 1));
  EXPECT_EQ(o->population.addresses, 1u);
  EXPECT_EQ(o->population.ports, 1024);
  EXPECT_EQ(o->mode, RunMode::kFixed);
  ASSERT_EQ(o->rates.size(), 1u);
  EXPECT_EQ(o->rates[0], 0);
  EXPECT_EQ(o->duration_s, 5);
  EXPECT_EQ(o->slice_s, 0.1);
}

TEST(Options, RefusesDestinationsOutsideTheLabRangesAndSaysWhatToDo) {
  const auto o = parse({"--dst", "192.0.2.10"});
  ASSERT_FALSE(o.has_value());
  EXPECT_NE(o.error().find("192.0.2.10"), std::string::npos);
  EXPECT_NE(o.error().find("198.18.0.0/15"), std::string::npos);
  EXPECT_NE(o.error().find("--lab-network"), std::string::npos);
  const auto lab = parse({"--dst", "192.0.2.10", "--lab-network", "192.0.2.0/24", "--src", "192.0.2.128/25"});
  ASSERT_TRUE(lab.has_value()) << lab.error();
  EXPECT_TRUE(parse({"--dst", "127.0.0.1", "--src", "127.0.0.2"}).has_value());
  const auto src = parse({"--src", "10.1.0.0/16", "--src-ports", "1"});
  ASSERT_FALSE(src.has_value());
  EXPECT_NE(src.error().find("source"), std::string::npos);
  // The whole population must be inside: 198.16.0.0/14 covers the range and more.
  EXPECT_TRUE(parse({"--src", "198.19.255.200/32"}).has_value());
  EXPECT_FALSE(parse({"--src", "198.16.0.0/14", "--src-ports", "1"}).has_value());
}

TEST(Options, SourcePrefixBecomesThePopulation) {
  const auto o = parse({"--src", "198.18.128.0/20", "--src-ports", "16"});
  ASSERT_TRUE(o.has_value()) << o.error();
  EXPECT_EQ(o->population.first_address, wire::Ipv4Address::of(198, 18, 128, 1));
  EXPECT_EQ(o->population.addresses, 4094u);
  EXPECT_EQ(o->population.ports, 16);
  const auto too_many = parse({"--src", "198.18.0.0/15", "--src-ports", "1024"});
  ASSERT_FALSE(too_many.has_value());
  EXPECT_NE(too_many.error().find("--src-ports"), std::string::npos);
}

TEST(Options, StepsAndSearch) {
  const auto steps = parse({"--rates", "1000,2000.5,4000"});
  ASSERT_TRUE(steps.has_value()) << steps.error();
  EXPECT_EQ(steps->mode, RunMode::kSteps);
  EXPECT_EQ(steps->rates, (std::vector<double>{1000, 2000.5, 4000}));
  const auto bad = parse({"--rates", "1000,fast"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("'fast'"), std::string::npos);
  const auto fm = parse({"--find-max", "--interleaved", "--count", "5000"});
  ASSERT_TRUE(fm.has_value()) << fm.error();
  EXPECT_EQ(fm->mode, RunMode::kFindMax);
  EXPECT_EQ(fm->duration_s, 1);  // search steps are short unless told
  EXPECT_TRUE(fm->interleaved);
  EXPECT_EQ(fm->count, 5000u);
}

TEST(Options, BadValuesNameTheOption) {
  EXPECT_NE(parse_options({}).error().find("--dst-mac"), std::string::npos);
  EXPECT_NE(parse({"--duration", "601"}).error().find("--duration"), std::string::npos);
  EXPECT_NE(parse({"--rate", "-5"}).error().find("--rate"), std::string::npos);
  EXPECT_NE(parse({"--max-loss", "2"}).error().find("--max-loss"), std::string::npos);
  EXPECT_NE(parse({"--bogus"}).error().find("unknown option '--bogus'"), std::string::npos);
  EXPECT_NE(parse({"--rate"}).error().find("needs a value"), std::string::npos);
}

TEST(Prefix, ParsesAndContains) {
  const auto p = parse_prefix("198.18.0.0/15");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->contains(wire::Ipv4Address::of(198, 19, 255, 255)));
  EXPECT_FALSE(p->contains(wire::Ipv4Address::of(198, 20, 0, 0)));
  EXPECT_FALSE(parse_prefix("198.18.0.0/33").has_value());
  EXPECT_FALSE(parse_prefix("nonsense").has_value());
  EXPECT_EQ(parse_prefix("10.0.0.1")->length, 32u);
}

}  // namespace
}  // namespace linetime::loadgen
