#include "dataplane/ratelimit.h"

#include <algorithm>

namespace linetime::dataplane {

namespace {

// ntpd's NTP_SHIFT: the bucket holds 8 average headways.
constexpr std::int64_t kNtpdShift = 8;

RateVerdict ntpd_style(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                       std::uint64_t now) {
  if (fresh) {
    credit = 0;
    return RateVerdict::kPass;
  }
  // Whole seconds since the previous request, rounded to nearest; a clock
  // that went back counts as 0.
  const std::uint64_t elapsed = now - previous;
  const std::int64_t interval = elapsed >= (std::uint64_t{1} << 63)
                                    ? 0
                                    : static_cast<std::int64_t>(std::min<std::uint64_t>((elapsed + 0x8000'0000ULL) >> 32,
                                                                                        std::uint64_t{1} << 31));
  const int average = std::clamp<int>(p.average_log2, kMinAverageLog2, kMaxAverageLog2);
  const std::int64_t head = std::int64_t{1} << average;
  const std::int64_t limit = kNtpdShift * head;
  const std::int64_t drained = std::max<std::int64_t>(0, credit - interval);
  const std::int64_t leak = drained + head;
  if (interval + 1 >= p.minimum_s && leak < limit) {
    credit = static_cast<std::int32_t>(leak - 2);
    return RateVerdict::kPass;
  }
  if (drained < limit) {
    credit = static_cast<std::int32_t>(limit + head);
    return RateVerdict::kLimitedKod;
  }
  credit = static_cast<std::int32_t>(drained);
  return RateVerdict::kLimited;
}

// chrony style, in 1/256 s.
RateVerdict chrony_style(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                         std::uint64_t now, std::uint32_t random) {
  const int interval = std::clamp<int>(p.interval_log2, kMinIntervalLog2, kMaxIntervalLog2);
  const std::int64_t cost = std::int64_t{1} << (interval + 8);
  const std::int64_t burst = std::clamp<int>(p.burst, 1, kMaxBurst);
  const std::int64_t cap = burst * cost;
  std::int64_t c = credit;
  if (fresh) {
    c = cap;
  } else {
    const std::uint64_t elapsed = now - previous;
    const std::int64_t refill = elapsed >= (std::uint64_t{1} << 63)
                                    ? 0
                                    : static_cast<std::int64_t>(std::min<std::uint64_t>(elapsed >> 24, std::uint64_t(cap) * 2));
    c = std::min(cap, c + refill);
  }
  RateVerdict v;
  if (c >= cost) {
    c -= cost;
    v = RateVerdict::kPass;
  } else if (p.leak != 0 && p.leak <= kMaxLeak && (random & ((1u << p.leak) - 1)) == 0) {
    v = RateVerdict::kPass;  // leaked: costs nothing
  } else if (c >= 0) {
    c -= cost;
    v = RateVerdict::kLimitedKod;
  } else {
    v = RateVerdict::kLimited;
  }
  credit = static_cast<std::int32_t>(c);
  return v;
}

}  // namespace

RateVerdict rate_limit(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                       std::uint64_t now, std::uint32_t random) {
  return p.style == shm::RateStyle::kChrony ? chrony_style(p, credit, previous, fresh, now, random)
                                            : ntpd_style(p, credit, previous, fresh, now);
}

std::int8_t kod_min_poll(const shm::AclRateLimit& p) {
  return p.style == shm::RateStyle::kChrony ? p.interval_log2 : p.average_log2;
}

}  // namespace linetime::dataplane
