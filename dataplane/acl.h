// Access control for NTP requests with ntpd's `restrict` semantics
// (ntp_acc(5)): every rule is an address prefix (`restrict default` is the
// /0 of its family) with flags; a request is subject to the flags of the most
// specific prefix that covers its source address, and only to those. Rules
// for the same prefix add their flags up, as ntpd's do. `ntpport` makes a
// rule apply to requests from source port 123 only; requests from other
// ports fall through to the next less specific rule.
//
// compile_restrict() turns rules into one entry per distinct prefix with that
// fall-through already resolved, so a single longest-prefix lookup answers
// every request: the dataplane loads the entries into DPDK's rte_fib
// (acl_fib.h), tests and small tables use PrefixAccessControl below.
//
// Of ntp_acc(5)'s flags, these change how the dataplane answers a mode-3
// request: ignore and noserve (dropped), version (dropped unless NTPv4),
// limited (rate limited, ratelimit.h), kod (a limited request gets a KoD
// RATE, itself rate limited) and notrust (dropped unless its MAC verifies
// with a trusted key). The others concern modes the dataplane never answers
// (nomodify, noquery, notrap, lowpriotrap, nomrulist: mode 6/7, which are
// dropped anyway; nopeer, noepeer: associations; mssntp: Microsoft's signing
// service) and are kept in the table for the control's status.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <tuple>
#include <vector>

#include "dataplane/shm/acl_table.h"
#include "dataplane/wire/ntp.h"

namespace linetime::dataplane {

// What one request is subject to.
enum AclAction : std::uint8_t {
  kActIgnore = 1,   // drop every NTP packet
  kActNoserve = 2,  // drop time requests
  kActVersion = 4,  // drop requests of another NTP version than 4
  kActLimited = 8,  // rate limit
  kActKod = 16,     // limited requests get a KoD RATE (within the rate limit for KoDs)
  kActNotrust = 32, // drop requests that are not authenticated with a trusted key
};

// The actions of a rule's flags (`all_limited`: chrony's `ratelimit`
// limits every client). Only one of ignore and noserve survives, as nothing
// else matters once a request is dropped.
std::uint8_t actions_of(std::uint32_t flags, bool all_limited);

// A prefix's actions for requests from port 123 and from any other port.
struct AclActions {
  std::uint8_t other = 0;
  std::uint8_t ntpport = 0;
  std::uint8_t for_port(std::uint16_t port) const { return port == wire::kNtpPort ? ntpport : other; }
  bool operator==(const AclActions&) const = default;
};

// The 14 distinct action sets (after actions_of) in 4 bits, and a pair of
// them in 8: what the FIB holds as next hop for a prefix. Without notrust
// the codes stay below 128, which DPDK's 1-byte next hops can hold.
std::uint8_t encode_actions(std::uint8_t actions);
std::uint8_t encode_pair(AclActions a);
inline constexpr unsigned kActionPairCodes = 256;

namespace detail {
constexpr std::uint8_t decode_actions(unsigned code) {
  if (code == 6) return kActIgnore;
  if (code == 7) return kActNoserve;
  if (code > 13) return kActIgnore;  // not a code encode_actions makes
  std::uint8_t a = code >= 8 ? kActNotrust : 0;
  code &= 7;
  const unsigned limit = code / 2;
  if ((code & 1) != 0) a |= kActVersion;
  if (limit >= 1) a |= kActLimited;
  if (limit == 2) a |= kActKod;
  return a;
}
inline constexpr auto kPairActions = [] {
  std::array<AclActions, kActionPairCodes> t{};
  for (unsigned c = 0; c < kActionPairCodes; ++c) t[c] = AclActions{decode_actions(c >> 4), decode_actions(c & 15)};
  return t;
}();
}  // namespace detail

// In line: every request's hint (frame.h SourceHint) is decoded.
inline AclActions decode_pair(std::uint8_t code) { return detail::kPairActions[code]; }

// One `restrict` line, as the dataplane takes it (the control converts
// control::RestrictRule; see restrict_file.h).
struct AclRule {
  enum class Target : std::uint8_t { kDefault, kPrefix };
  Target target = Target::kDefault;
  std::uint8_t family = 0;        // 4 or 6; 0 with kDefault: both families
  std::uint8_t address[16] = {};  // kPrefix: network order, IPv4 in the first 4 octets
  std::uint8_t length = 0;        // kPrefix: 0..32 or 0..128 (0 is the family's default)
  std::uint32_t flags = 0;        // shm::AclFlag bits, kAclNtpport included

  static AclRule default_rule(std::uint32_t flags, std::uint8_t family = 0);
  static AclRule ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t length,
                      std::uint32_t flags);
  static AclRule ipv6(const std::uint8_t* address, std::uint8_t length, std::uint32_t flags);
};

// Rules compiled: per family the entries sorted by (length, address), the
// first one the /0 (default), with the ntpport fall-through resolved.
struct CompiledAcl {
  shm::AclRateLimit rate;
  std::vector<shm::AclEntry> v4;
  std::vector<shm::AclEntry> v6;

  // The entry that applies to `address` (4 or 16 octets): the longest prefix
  // covering it. Reference implementation by a search per prefix length.
  const shm::AclEntry& match(const std::uint8_t* address, std::size_t length) const;
  // The flags for a request from `address` and UDP source `port`.
  std::uint32_t flags_for(const std::uint8_t* address, std::size_t length, std::uint16_t port) const;
  AclActions actions(const shm::AclEntry& e) const;

  bool operator==(const CompiledAcl& o) const { return rate == o.rate && v4 == o.v4 && v6 == o.v6; }
};

CompiledAcl compile_restrict(std::span<const AclRule> rules, const shm::AclRateLimit& rate = {});
// From / to the shared-memory table.
CompiledAcl from_table(const shm::AclTableView& table);
std::vector<std::uint8_t> serialize(const CompiledAcl& acl);

// What the frame processor consults for every NTP request.
class AccessControl {
 public:
  virtual ~AccessControl() = default;
  // `address`: the source, 4 / 16 octets in network order.
  virtual AclActions lookup4(const std::uint8_t* address) const = 0;
  virtual AclActions lookup6(const std::uint8_t* address) const = 0;
  // The actions for `n` IPv4 sources at once (host byte order), as their
  // pair codes (encode_pair; decode_pair gives the actions): a burst's
  // lookups overlap their memory accesses. 64-bit codes, because that is
  // what the FIB writes: they need no second pass.
  virtual void lookup4_bulk(const std::uint32_t* addresses, std::uint64_t* codes, unsigned n) const;
  const shm::AclRateLimit& rate() const { return rate_; }
  // Whether any prefix limits requests (then the client table is needed).
  bool limits() const { return limits_; }

 protected:
  shm::AclRateLimit rate_;
  bool limits_ = false;
};

// Longest-prefix match without DPDK: one ordered map probe per prefix length
// present, longest first. For tests, references and small tables.
class PrefixAccessControl final : public AccessControl {
 public:
  explicit PrefixAccessControl(CompiledAcl acl);
  AclActions lookup4(const std::uint8_t* address) const override { return lookup(address, 4); }
  AclActions lookup6(const std::uint8_t* address) const override { return lookup(address, 16); }
  const CompiledAcl& compiled() const { return acl_; }

 private:
  AclActions lookup(const std::uint8_t* address, std::size_t length) const;
  CompiledAcl acl_;
};

}  // namespace linetime::dataplane
