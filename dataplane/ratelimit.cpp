#include "dataplane/ratelimit.h"

#include <algorithm>

namespace linetime::dataplane {

namespace {

// ntpd's NTP_SHIFT: the bucket holds 8 average headways.
constexpr std::int64_t kNtpdShift = 8;

}  // namespace

RateParams::RateParams(const shm::AclRateLimit& p) : chrony(p.style == shm::RateStyle::kChrony) {
  head = std::int64_t{1} << std::clamp<int>(p.average_log2, kMinAverageLog2, kMaxAverageLog2);
  limit = kNtpdShift * head;
  minimum = p.minimum_s;
  cost = std::int64_t{1} << (std::clamp<int>(p.interval_log2, kMinIntervalLog2, kMaxIntervalLog2) + 8);
  cap = std::clamp<int>(p.burst, 1, kMaxBurst) * cost;
  leaks = p.leak != 0 && p.leak <= kMaxLeak;
  leak_mask = leaks ? (1u << p.leak) - 1 : 0;
  kod_min_poll = dataplane::kod_min_poll(p);
}

RateVerdict rate_limit(const shm::AclRateLimit& p, std::int32_t& credit, std::uint64_t previous, bool fresh,
                       std::uint64_t now, std::uint32_t random) {
  const auto elapsed = static_cast<std::uint32_t>((now >> 24) - (previous >> 24));
  return rate_limit(RateParams(p), credit, elapsed, fresh, [random] { return random; });
}

std::int8_t kod_min_poll(const shm::AclRateLimit& p) {
  return p.style == shm::RateStyle::kChrony ? p.interval_log2 : p.average_log2;
}

}  // namespace linetime::dataplane
