#include "dataplane/loadgen/pacer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

namespace linetime::loadgen {
namespace {

// Requests due by `now` when the first is due at `start`: floor(elapsed * rate / hz) + 1.
std::uint64_t expected(std::uint64_t start, std::uint64_t now, double rate, std::uint64_t hz) {
  const long double e = static_cast<long double>(now - start) * static_cast<long double>(rate) / static_cast<long double>(hz);
  return static_cast<std::uint64_t>(std::floor(e)) + 1;
}

// A virtual TSC polled at random gaps (never long enough to reach the backlog
// cap) over 10^7 requests: the count sent follows rate x time within one
// request at the end, and at every poll on the way.
void run_long(std::uint64_t hz, double rate, std::uint32_t seed) {
  const std::uint64_t start = 123'456'789;
  Pacer p(hz, rate, start);
  std::mt19937 rng(seed);
  const double interval = static_cast<double>(hz) / rate;
  std::uniform_int_distribution<std::uint64_t> gap(0, static_cast<std::uint64_t>(interval * 20));
  std::uint64_t now = start;
  std::uint64_t sent = 0;
  std::uint64_t worst = 0;
  std::uint64_t polls = 0;
  while (sent < 10'000'000) {
    const unsigned n = p.due(now, 32);
    p.sent(n);
    sent += n;
    const std::uint64_t want = expected(start, now, rate, hz);
    const std::uint64_t d = want > sent ? want - sent : sent - want;
    if (d > worst) worst = d;
    now += gap(rng);
    ++polls;
  }
  EXPECT_LE(worst, 1u) << "rate " << rate << " hz " << hz;
  EXPECT_EQ(p.slipped(), 0u);
  EXPECT_EQ(p.total_sent(), sent);
  EXPECT_GT(polls, 500'000u);  // the schedule was sampled all along the run
}

TEST(Pacer, NoDriftOverTenMillionRequests) {
  run_long(2'100'000'000, 1'000'000, 1);
  run_long(2'893'437'000, 1'234'567.8, 2);  // interval not a whole number of ticks
  run_long(1'000'000'007, 333'333, 3);
}

TEST(Pacer, FirstRequestIsDueAtStartAndNothingBefore) {
  Pacer p(1'000'000'000, 1000, 5'000);
  EXPECT_EQ(p.due(4'999, 32), 0u);
  EXPECT_EQ(p.due(5'000, 32), 1u);
  p.sent(1);
  EXPECT_EQ(p.due(5'000 + 999'999, 32), 0u);
  EXPECT_EQ(p.due(5'000 + 1'000'000, 32), 1u);
  EXPECT_EQ(p.next_due_tsc(), 1'005'000u);
}

TEST(Pacer, WhatIsNotSentStaysDue) {
  Pacer p(1'000'000'000, 1'000'000, 0);  // one per 1000 ticks
  EXPECT_EQ(p.due(9'999, 32), 10u);
  p.sent(4);
  EXPECT_EQ(p.due(9'999, 32), 6u);
  EXPECT_EQ(p.due(9'999, 3), 3u);
}

TEST(Pacer, LongStallSlipsInsteadOfBursting) {
  Pacer p(1'000'000'000, 1000, 0, 10);  // backlog capped at 10 requests
  p.sent(p.due(0, 32));
  // One second asleep: 1000 requests overdue, 10 kept.
  EXPECT_EQ(p.due(1'000'000'000, 32), 10u);
  EXPECT_EQ(p.slipped(), 990u);
  p.sent(10);
  EXPECT_EQ(p.due(1'000'000'000, 32), 0u);
  // After the stall the schedule runs on at the rate.
  EXPECT_EQ(p.due(1'001'000'000, 32), 1u);
}

TEST(Pacer, UnpacedGivesEverythingAskedFor) {
  Pacer p(1'000'000'000, 0, 0);
  EXPECT_FALSE(p.paced());
  EXPECT_EQ(p.due(0, 32), 32u);
  EXPECT_EQ(p.due(1, 7), 7u);
}

}  // namespace
}  // namespace linetime::loadgen
