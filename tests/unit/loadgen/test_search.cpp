#include "dataplane/loadgen/search.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace linetime::loadgen {
namespace {

// A server that answers at most `capacity`/s; a generator that offers at most `reach`/s.
struct Lab {
  double capacity;
  double reach;
  double offered(double rate) const { return std::min(rate, reach); }
  double loss(double rate) const {
    const double o = offered(rate);
    return o <= capacity ? 0 : 1 - capacity / o;
  }
};

double search(const Lab& lab, double high, unsigned* steps = nullptr) {
  MaxRateSearch s(MaxRateSearch::Config{0, high, 0.001, 0.02, 12});
  unsigned n = 0;
  while (const auto rate = s.next()) {
    s.record(*rate, lab.offered(*rate), lab.loss(*rate));
    ++n;
  }
  if (steps != nullptr) *steps = n;
  return s.best();
}

TEST(MaxRateSearch, FindsTheServersCapacity) {
  unsigned steps = 0;
  const double best = search(Lab{734'000, 1e9}, 2'000'000, &steps);
  EXPECT_LE(best, 734'000 / (1 - 0.001));
  EXPECT_GE(best, 734'000 * 0.97);
  EXPECT_LE(steps, 12u);
}

TEST(MaxRateSearch, UpperBoundThatPassesEndsTheSearch) {
  unsigned steps = 0;
  EXPECT_EQ(search(Lab{3'000'000, 1e9}, 2'000'000, &steps), 2'000'000);
  EXPECT_EQ(steps, 1u);
}

TEST(MaxRateSearch, RatesTheGeneratorCannotOfferDoNotPass) {
  const double best = search(Lab{1e9, 500'000}, 2'000'000);
  EXPECT_LE(best, 500'000 / 0.99);
  EXPECT_GE(best, 480'000);
}

TEST(MaxRateSearch, StopsAfterItsStepBudget) {
  MaxRateSearch s(MaxRateSearch::Config{0, 1e6, 0.001, 1e-9, 5});
  unsigned n = 0;
  while (const auto rate = s.next()) {
    s.record(*rate, *rate, *rate > 123'456 ? 0.5 : 0);
    ++n;
  }
  EXPECT_EQ(n, 5u);
  EXPECT_LE(s.best(), 123'456);
  EXPECT_GT(s.lowest_failing(), 123'456);
}

}  // namespace
}  // namespace linetime::loadgen
