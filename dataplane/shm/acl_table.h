// The access-control table as the control publishes it to the dataplane
// through the double-buffered table region (tables.h): ntpd's `restrict`
// rules already compiled (one entry per distinct prefix, most specific match
// resolved, see dataplane/acl.h) and the rate-limit parameters.
//
//   AclTableHeader                      magic, version, counts, defaults, rate limits
//   AclEntry[v4_count]                  IPv4 prefixes
//   AclEntry[v6_count]                  IPv6 prefixes
//
// Flags are ntp_acc(5)'s, with the bit values control::RestrictFlag uses
// (the control's conversion asserts that they agree). Pure: no DPDK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace linetime::shm {

inline constexpr std::uint32_t kAclMagic = 0x4C41434CU;  // "LACL"
inline constexpr std::uint32_t kAclTableVersion = 1;

// ntp_acc(5) flags, in the order ntpd documents them.
enum AclFlag : std::uint32_t {
  kAclIgnore = 1u << 0,
  kAclKod = 1u << 1,
  kAclLimited = 1u << 2,
  kAclLowpriotrap = 1u << 3,
  kAclMssntp = 1u << 4,
  kAclNoepeer = 1u << 5,
  kAclNomodify = 1u << 6,
  kAclNomrulist = 1u << 7,
  kAclNopeer = 1u << 8,
  kAclNoquery = 1u << 9,
  kAclNoserve = 1u << 10,
  kAclNotrap = 1u << 11,
  kAclNotrust = 1u << 12,
  kAclNtpport = 1u << 13,  // a match qualifier: the rule applies to source port 123 only
  kAclServerresponseFuzz = 1u << 14,
  kAclVersion = 1u << 15,
};

// How clients whose rule says `limited` are limited.
enum class RateStyle : std::uint8_t {
  // ntpd's `discard average A minimum M`: a leaky bucket in whole seconds that
  // fills by 2^A per request and drains 1 per second; a request is limited
  // when it comes less than M s after the previous one or when the bucket is
  // above 8 * 2^A. KoDs are sent at most once per 2^A s (ntp_monitor.c).
  kNtpd,
  // chrony's `ratelimit interval I burst B leak L`: a token bucket of B
  // requests refilled with one request per 2^I s; 1 in 2^L limited requests is
  // answered anyway (L = 0: none), so a spoofed flood cannot cut a client off.
  kChrony,
};

struct AclRateLimit {
  RateStyle style = RateStyle::kNtpd;
  std::int8_t average_log2 = 3;   // ntpd `discard average`, log2 s (ntpd's default 3)
  std::uint8_t minimum_s = 2;     // ntpd `discard minimum`, s (ntpd's default 2)
  std::int8_t interval_log2 = 3;  // chrony `ratelimit interval`, log2 s (chrony's default 3)
  std::uint8_t burst = 8;         // chrony `ratelimit burst` (chrony's default 8)
  std::uint8_t leak = 2;          // chrony `ratelimit leak`: 1 in 2^leak limited requests answered
  // chrony's `ratelimit` limits every client, as if every rule said `limited`.
  std::uint8_t all_limited = 0;
  std::uint8_t reserved = 0;
  bool operator==(const AclRateLimit&) const = default;
};
static_assert(sizeof(AclRateLimit) == 8);

struct AclTableHeader {
  std::uint32_t magic = kAclMagic;
  std::uint32_t version = kAclTableVersion;
  std::uint32_t v4_count = 0;
  std::uint32_t v6_count = 0;
  AclRateLimit rate;
  std::uint64_t reserved = 0;
};
static_assert(sizeof(AclTableHeader) == 32);

// One prefix with the flags that apply to the addresses it covers (and that
// no more specific prefix covers): `flags` for requests from any port but
// 123, `flags_ntpport` for requests from port 123 (they differ only where an
// `ntpport` rule sits). The /0 entry of a family is `restrict default`; every
// family has one.
struct AclEntry {
  std::uint8_t address[16] = {};  // network order; IPv4 in the first 4 octets; host bits zero
  std::uint8_t length = 0;        // prefix length, 0..32 or 0..128
  std::uint8_t family = 4;        // 4 or 6
  std::uint16_t reserved = 0;
  std::uint32_t flags = 0;
  std::uint32_t flags_ntpport = 0;
  std::uint32_t reserved2 = 0;
  bool operator==(const AclEntry&) const = default;
};
static_assert(sizeof(AclEntry) == 32);

inline std::size_t acl_table_bytes(std::size_t v4, std::size_t v6) {
  return sizeof(AclTableHeader) + (v4 + v6) * sizeof(AclEntry);
}

// The table's bytes, as TableRegion::publish takes them.
inline std::vector<std::uint8_t> serialize_acl(const AclRateLimit& rate, std::span<const AclEntry> v4,
                                               std::span<const AclEntry> v6) {
  std::vector<std::uint8_t> out(acl_table_bytes(v4.size(), v6.size()));
  AclTableHeader h;
  h.v4_count = static_cast<std::uint32_t>(v4.size());
  h.v6_count = static_cast<std::uint32_t>(v6.size());
  h.rate = rate;
  std::memcpy(out.data(), &h, sizeof h);
  if (!v4.empty()) std::memcpy(out.data() + sizeof h, v4.data(), v4.size_bytes());
  if (!v6.empty()) std::memcpy(out.data() + sizeof h + v4.size_bytes(), v6.data(), v6.size_bytes());
  return out;
}

struct AclTableView {
  AclRateLimit rate;
  std::vector<AclEntry> v4;
  std::vector<AclEntry> v6;
};

// Checks magic, version and sizes; nullopt when the bytes are not a table of
// this version (the dataplane then keeps the table it has).
inline std::optional<AclTableView> parse_acl(std::span<const std::uint8_t> bytes) {
  AclTableHeader h;
  if (bytes.size() < sizeof h) return std::nullopt;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kAclMagic || h.version != kAclTableVersion) return std::nullopt;
  if (bytes.size() != acl_table_bytes(h.v4_count, h.v6_count)) return std::nullopt;
  AclTableView v;
  v.rate = h.rate;
  v.v4.resize(h.v4_count);
  v.v6.resize(h.v6_count);
  const std::uint8_t* p = bytes.data() + sizeof h;
  if (h.v4_count != 0) std::memcpy(v.v4.data(), p, h.v4_count * sizeof(AclEntry));
  if (h.v6_count != 0) std::memcpy(v.v6.data(), p + h.v4_count * sizeof(AclEntry), h.v6_count * sizeof(AclEntry));
  return v;
}

}  // namespace linetime::shm
