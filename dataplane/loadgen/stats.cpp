#include "dataplane/loadgen/stats.h"

#include <cmath>

namespace linetime::loadgen {

namespace {

// 32.32 seconds (signed, 128-bit) to nanoseconds, rounded toward -inf.
std::int64_t q32_to_ns(__int128 q) { return static_cast<std::int64_t>((q * 1'000'000'000) >> 32); }

}  // namespace

void Histogram::merge(const Histogram& o) {
  if (o.count_ == 0) return;
  for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  if (o.min_ < min_) min_ = o.min_;
  if (o.max_ > max_) max_ = o.max_;
}

void Histogram::clear() {
  if (count_ == 0) return;
  counts_.fill(0);
  count_ = 0;
  min_ = ~std::uint64_t{0};
  max_ = 0;
}

std::uint64_t Histogram::at_rank(std::uint64_t r) const {
  if (count_ == 0) return 0;
  if (r < 1) r = 1;
  if (r > count_) r = count_;
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= r) {
      const std::uint64_t mid = lower_bound(i) + (width(i) - 1) / 2;
      return mid < min_ ? min_ : (mid > max_ ? max_ : mid);
    }
  }
  return max_;
}

std::uint64_t Histogram::quantile(double q) const {
  if (q <= 0) return min();
  const double r = std::ceil(q * static_cast<double>(count_));
  return at_rank(r < 1 ? 1 : static_cast<std::uint64_t>(r));
}

std::int64_t SignedHistogram::at_rank(std::uint64_t r) const {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  if (r < 1) r = 1;
  if (r > n) r = n;
  // Negative values rank from the largest magnitude down.
  if (r <= neg_.count()) return -static_cast<std::int64_t>(neg_.at_rank(neg_.count() - r + 1));
  return static_cast<std::int64_t>(pos_.at_rank(r - neg_.count()));
}

std::int64_t SignedHistogram::quantile(double q) const {
  const double r = std::ceil(q * static_cast<double>(count()));
  return at_rank(r < 1 ? 1 : static_cast<std::uint64_t>(r));
}

std::int64_t SignedHistogram::min() const {
  if (neg_.count() > 0) return -static_cast<std::int64_t>(neg_.max());
  return static_cast<std::int64_t>(pos_.min());
}

std::int64_t SignedHistogram::max() const {
  if (pos_.count() > 0) return static_cast<std::int64_t>(pos_.max());
  return -static_cast<std::int64_t>(neg_.min());
}

Exchange measure(std::uint64_t t1, std::uint64_t t2, std::uint64_t t3, std::uint64_t t4) {
  const __int128 out = static_cast<std::int64_t>(t2 - t1);   // T2 - T1
  const __int128 back = static_cast<std::int64_t>(t3 - t4);  // T3 - T4
  const __int128 held = static_cast<std::int64_t>(t3 - t2);  // T3 - T2
  const __int128 round = static_cast<std::int64_t>(t4 - t1);  // T4 - T1
  Exchange e;
  // Scaled first and halved in the shift, so an odd sum keeps its 2^-33 s.
  const __int128 sum = out + back;
  e.offset_ns = static_cast<std::int64_t>(((sum * 1'000'000'000) >> 33));
  e.delay_ns = q32_to_ns(round - held);
  e.residence_ns = q32_to_ns(held);
  return e;
}

void Tally::merge(const Tally& o) {
  sent += o.sent;
  received += o.received;
  answered += o.answered;
  interleaved += o.interleaved;
  unmatched += o.unmatched;
  hw_rx += o.hw_rx;
  auth_verified += o.auth_verified;
  auth_mac_failed += o.auth_mac_failed;
  auth_crypto_nak += o.auth_crypto_nak;
  auth_unauthenticated += o.auth_unauthenticated;
  delay_ns.merge(o.delay_ns);
  residence_ns.merge(o.residence_ns);
  offset_ns.merge(o.offset_ns);
}

void Tally::clear() {
  sent = received = answered = interleaved = unmatched = hw_rx = 0;
  auth_verified = auth_mac_failed = auth_crypto_nak = auth_unauthenticated = 0;
  delay_ns.clear();
  residence_ns.clear();
  offset_ns.clear();
}

}  // namespace linetime::loadgen
