// The access list in DPDK's longest-prefix-match tables: rte_fib (DIR24_8)
// for IPv4 and rte_fib6 (TRIE) for IPv6, each built only when its family has
// rules beyond the default. Memory: the /24 table of DIR24_8 takes 16 MiB with
// 1-byte next hops, which allow 127 groups of longer prefixes (a group per
// distinct /24 holding prefixes longer than /24), 32 MiB with 2-byte ones
// (32767 groups) and 64 MiB beyond; the size is chosen from the rules. TRIE
// uses 2-byte next hops (32 MiB) up to 32767 groups, then 4-byte ones. A prefix's next hop is its pair of action sets
// (acl.h encode_pair, 8 bits; rules with notrust need 2-byte next hops), so
// a lookup needs no second table; a lookup
// that matches nothing returns the family's default rule.
//
// Built on the main lcore from a CompiledAcl and then never changed: a new
// rule set is a new FibAccessControl, published to the lcores by
// EpochPublisher and freed once they have all moved on. rte_fib memory comes
// from the EAL (with --no-huge, from -m): during a swap the old and the new
// tables coexist.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/acl.h"
#include "hwclock/expected.h"

struct rte_fib;
struct rte_fib6;

namespace linetime::dataplane {

class FibAccessControl final : public AccessControl {
 public:
  // `name` must be unique in the process (DPDK names its tables).
  static Expected<std::unique_ptr<FibAccessControl>, std::string> build(const CompiledAcl& acl, const std::string& name);
  ~FibAccessControl() override;
  FibAccessControl(const FibAccessControl&) = delete;
  FibAccessControl& operator=(const FibAccessControl&) = delete;

  AclActions lookup4(const std::uint8_t* address) const override;
  AclActions lookup6(const std::uint8_t* address) const override;
  void lookup4_bulk(const std::uint32_t* addresses, std::uint64_t* codes, unsigned n) const override;

  std::size_t prefixes4() const { return prefixes4_; }
  std::size_t prefixes6() const { return prefixes6_; }

 private:
  FibAccessControl() = default;
  rte_fib* fib4_ = nullptr;
  rte_fib6* fib6_ = nullptr;
  AclActions default4_, default6_;
  std::size_t prefixes4_ = 0, prefixes6_ = 0;
};

}  // namespace linetime::dataplane
