#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "discipline/select.h"

namespace linetime::discipline {
namespace {

Candidate c(std::uint32_t id, double offset_ms, double dist_ms, double jitter_ms = 0.01, std::uint8_t stratum = 1) {
  return Candidate{id, offset_ms * 1e-3, dist_ms * 1e-3, jitter_ms * 1e-3, stratum, false};
}

std::vector<std::uint32_t> ids(const std::vector<Candidate>& cs, const std::vector<std::size_t>& idx) {
  std::vector<std::uint32_t> out;
  for (std::size_t i : idx) out.push_back(cs[i].id);
  std::sort(out.begin(), out.end());
  return out;
}

// Falseticker table: candidates, expected truechimers (empty = no majority).
struct Row {
  const char* name;
  std::vector<Candidate> cands;
  std::vector<std::uint32_t> truechimers;
};

TEST(Intersection, FalsetickerTable) {
  const std::vector<Row> rows = {
      {"four agree", {c(1, 0, 1), c(2, 0.2, 1), c(3, -0.3, 1), c(4, 0.1, 1)}, {1, 2, 3, 4}},
      {"one +50 ms among four", {c(1, 0, 1), c(2, 0.2, 1), c(3, -0.3, 1), c(4, 50, 1)}, {1, 2, 3}},
      {"one -50 ms among three", {c(1, 0, 1), c(2, -50, 1), c(3, 0.5, 1)}, {1, 3}},
      {"two of five off in opposite ways", {c(1, 0, 1), c(2, 0.1, 1), c(3, 0.2, 1), c(4, 30, 1), c(5, -30, 1)}, {1, 2, 3}},
      {"two against two: no majority", {c(1, 0, 1), c(2, 0.1, 1), c(3, 50, 1), c(4, 50.1, 1)}, {}},
      {"one against one: no majority", {c(1, 0, 1), c(2, 50, 1)}, {}},
      {"a lone source is its own majority", {c(1, 7, 1)}, {1}},
      {"wide interval overlaps both groups", {c(1, 0, 1), c(2, 0.5, 1), c(3, 10, 20)}, {1, 2, 3}},
      // RFC 5905: a majority must also hold its midpoints inside the interval.
      {"midpoints outside a one-point overlap", {c(1, 0, 1), c(2, 2, 1), c(3, 1, 0.001)}, {}},
  };
  for (const Row& r : rows) {
    const auto is = intersect(r.cands);
    if (r.truechimers.empty()) {
      EXPECT_FALSE(is.has_value()) << r.name;
      continue;
    }
    ASSERT_TRUE(is.has_value()) << r.name;
    EXPECT_EQ(ids(r.cands, is->truechimers), r.truechimers) << r.name;
    EXPECT_LE(is->low_s, is->high_s) << r.name;
  }
}

TEST(Intersection, IntervalIsTheOverlapOfTheMajority) {
  const std::vector<Candidate> cs = {c(1, 0, 1), c(2, 0.5, 1), c(3, 0.8, 1), c(4, 50, 1)};
  const auto is = intersect(cs);
  ASSERT_TRUE(is.has_value());
  EXPECT_EQ(is->falsetickers, 1);
  EXPECT_NEAR(is->low_s, -0.2e-3, 1e-12);  // 0.8 - 1
  EXPECT_NEAR(is->high_s, 1e-3, 1e-12);    // 0 + 1
}

TEST(Cluster, PrunesTheOutlierDownToMinClock) {
  // Five truechimers; one far from the rest relative to the peer jitters.
  const std::vector<Candidate> cs = {c(1, 0, 1, 0.01), c(2, 0.01, 1, 0.01), c(3, -0.01, 1, 0.01),
                                     c(4, 0.02, 1, 0.01), c(5, 0.6, 1, 0.01)};
  const auto out = cluster(cs, {0, 1, 2, 3, 4}, 3);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(std::count(out.begin(), out.end(), 4u), 0);
}

TEST(Cluster, StopsWhenSelectionJitterIsBelowPeerJitter) {
  const std::vector<Candidate> cs = {c(1, 0, 1, 1), c(2, 0.1, 1, 1), c(3, -0.1, 1, 1), c(4, 0.05, 1, 1)};
  EXPECT_EQ(cluster(cs, {0, 1, 2, 3}, 1).size(), 4u);
}

TEST(Cluster, SystemPeerIsBestMeritOrPrefer) {
  std::vector<Candidate> cs = {c(1, 0, 2, 1, 2), c(2, 0.1, 1.5, 1, 1), c(3, -0.1, 1, 1, 1)};
  auto out = cluster(cs, {0, 1, 2}, 3);
  EXPECT_EQ(cs[out.front()].id, 3u);  // stratum 1, smallest distance
  cs[0].prefer = true;
  out = cluster(cs, {0, 1, 2}, 3);
  EXPECT_EQ(cs[out.front()].id, 1u);
}

TEST(Combine, WeightsByInverseRootDistance) {
  const std::vector<Candidate> cs = {c(1, 1, 1, 0.003), c(2, 4, 2, 0.004)};
  const Combined r = combine(cs, {0, 1});
  // (1/1 + 4/2) / (1/1 + 1/2) = 2 ms.
  EXPECT_NEAR(r.offset_s, 2e-3, 1e-12);
  // Selection jitter: sqrt((0 + 9e-6/2) / 1.5) around the system peer (id 1).
  EXPECT_NEAR(r.selection_jitter_s, std::sqrt((9e-6 / 2e-3) / (1 / 1e-3 + 1 / 2e-3)), 1e-12);
  EXPECT_NEAR(r.system_jitter_s, std::hypot(3e-6, r.selection_jitter_s), 1e-12);
}

}  // namespace
}  // namespace linetime::discipline
