// Measurement of the load generator: what one answer says about the server
// (offset, round-trip delay, residence) and fixed-memory distributions of
// those figures per slice and per step.
//
// The histogram is log-linear: values below 2^(kSubBits+1) have a bucket each,
// above that every power of two is split into 2^kSubBits equal buckets, so a
// reported quantile is within 2^-(kSubBits+1) (0.4 %) of a value that was
// recorded, whatever the range, in 7,424 counters. Adding a value is a few
// instructions and never allocates. Pure: no clock, no IO.
#pragma once

#include <array>
#include <cstdint>

namespace linetime::loadgen {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 7;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;  // 2 * kSub exact, then kSub per shift 1..56

  void add(std::uint64_t v) {
    ++counts_[index(v)];
    ++count_;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  void merge(const Histogram& o);
  void clear();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }

  // The value of the r-th smallest recorded value (1-based), as the middle of
  // its bucket clamped to [min, max]; 0 when empty.
  std::uint64_t at_rank(std::uint64_t r) const;
  // The q-quantile (q in [0, 1]): the value at rank ceil(q * count), at least 1.
  std::uint64_t quantile(double q) const;

  static unsigned index(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<unsigned>(v);
    const unsigned top = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned shift = top - kSubBits;
    return shift * kSub + static_cast<unsigned>(v >> shift);
  }
  static std::uint64_t lower_bound(unsigned i) {
    if (i < 2 * kSub) return i;
    const unsigned shift = i / kSub - 1;
    return static_cast<std::uint64_t>(i - shift * kSub) << shift;
  }
  static std::uint64_t width(unsigned i) { return i < 2 * kSub ? 1 : std::uint64_t{1} << (i / kSub - 1); }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
};

// Signed values (offsets): negative magnitudes and non-negative values kept
// apart, ranked together.
class SignedHistogram {
 public:
  void add(std::int64_t v) {
    if (v < 0) {
      neg_.add(static_cast<std::uint64_t>(-(v + 1)) + 1);
    } else {
      pos_.add(static_cast<std::uint64_t>(v));
    }
  }
  void merge(const SignedHistogram& o) {
    neg_.merge(o.neg_);
    pos_.merge(o.pos_);
  }
  void clear() {
    neg_.clear();
    pos_.clear();
  }
  std::uint64_t count() const { return neg_.count() + pos_.count(); }
  std::int64_t at_rank(std::uint64_t r) const;
  std::int64_t quantile(double q) const;
  std::int64_t min() const;
  std::int64_t max() const;

 private:
  Histogram neg_, pos_;
};

// One answered request in nanoseconds, from its four timestamps as 64-bit NTP
// timestamps (32.32 seconds): T1 generator transmit, T2 server receive, T3
// server transmit, T4 generator receive. Differences are taken modulo 2^32 s,
// so era rollovers do not matter.
//   offset    = ((T2 - T1) + (T3 - T4)) / 2, the server's clock minus the
//               generator's (the offset convention of hwclock/time.h with the
//               server as reference): on one host, the server's timestamp error
//   delay     = (T4 - T1) - (T3 - T2)
//   residence = T3 - T2, the time the server held the request
struct Exchange {
  std::int64_t offset_ns = 0;
  std::int64_t delay_ns = 0;
  std::int64_t residence_ns = 0;
};

Exchange measure(std::uint64_t t1, std::uint64_t t2, std::uint64_t t3, std::uint64_t t4);

// A signed 32.32 NTP time difference in nanoseconds (rounded toward -inf).
inline std::int64_t ntp_diff_ns(std::uint64_t later, std::uint64_t earlier) {
  const auto d = static_cast<std::int64_t>(later - earlier);
  return static_cast<std::int64_t>((static_cast<__int128>(d) * 1'000'000'000) >> 32);
}

// The distributions and counters of a slice or a step.
struct Tally {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;     // every frame that came back
  std::uint64_t answered = 0;     // NTP server answers that matched a request
  std::uint64_t interleaved = 0;  // of those, interleaved-mode answers
  std::uint64_t unmatched = 0;    // NTP answers whose origin matched nothing sent
  std::uint64_t hw_rx = 0;        // answers with a hardware receive timestamp
  // With a key (requests signed), every NTP answer to one of our clients is
  // one of these four. An answer whose MAC fails counts in none of the above:
  // no client would use it, so it is lost as far as answered and loss() go,
  // and its timestamps stay out of the distributions.
  std::uint64_t auth_verified = 0;         // MAC with our key that verified
  std::uint64_t auth_mac_failed = 0;       // MAC that failed (or another key)
  std::uint64_t auth_crypto_nak = 0;       // crypto-NAK: the server refused our MAC
  std::uint64_t auth_unauthenticated = 0;  // no MAC
  Histogram delay_ns;
  Histogram residence_ns;
  SignedHistogram offset_ns;

  void add(const Exchange& e) {
    delay_ns.add(e.delay_ns < 0 ? 0 : static_cast<std::uint64_t>(e.delay_ns));
    residence_ns.add(e.residence_ns < 0 ? 0 : static_cast<std::uint64_t>(e.residence_ns));
    offset_ns.add(e.offset_ns);
  }
  void merge(const Tally& o);
  void clear();
  // The NTP answers to our clients whose MAC was checked (a key was set).
  std::uint64_t auth_answers() const { return auth_verified + auth_mac_failed + auth_crypto_nak + auth_unauthenticated; }
  // Share of those, 0 to 1 (0 when none was checked).
  double auth_share(std::uint64_t n) const {
    return auth_answers() == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(auth_answers());
  }
  // Share of sent requests left unanswered, 0 to 1 (0 when nothing was sent).
  double loss() const { return sent == 0 ? 0.0 : 1.0 - static_cast<double>(answered > sent ? sent : answered) / static_cast<double>(sent); }
};

}  // namespace linetime::loadgen
