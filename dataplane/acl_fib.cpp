#include "dataplane/acl_fib.h"

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_memory.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

namespace linetime::dataplane {

namespace {

// tbl8 groups a DIR24_8 / TRIE table needs: one per distinct 24-bit (then
// 32-, 40-, ... bit) prefix under which a longer prefix sits.
std::uint32_t tbl8_groups(const std::vector<shm::AclEntry>& entries, unsigned bits) {
  std::set<std::pair<unsigned, std::vector<std::uint8_t>>> nodes;
  for (const shm::AclEntry& e : entries) {
    for (unsigned level = 24; level < e.length && level < bits; level += 8) {
      nodes.emplace(level, std::vector<std::uint8_t>(e.address, e.address + level / 8));
    }
  }
  return static_cast<std::uint32_t>(nodes.size()) + 8;  // a margin
}

constexpr std::uint32_t kMax1B = (1u << 7) - 1;  // DPDK's limits: one bit of each entry marks a tbl8
constexpr std::uint32_t kMax2B = (1u << 15) - 1;

std::string dpdk_error(const std::string& what, int error) {
  return what + ": " + rte_strerror(error < 0 ? -error : error) +
         " (the tables live in DPDK memory: raise the EAL's -m, or use fewer or shorter prefixes)";
}

}  // namespace

Expected<std::unique_ptr<FibAccessControl>, std::string> FibAccessControl::build(const CompiledAcl& acl,
                                                                                 const std::string& name) {
  std::unique_ptr<FibAccessControl> f(new FibAccessControl);
  f->rate_ = acl.rate;
  f->limits_ = acl.rate.all_limited != 0;
  auto note = [&](AclActions a) {
    if (((a.other | a.ntpport) & kActLimited) != 0) f->limits_ = true;
    return a;
  };
  f->default4_ = note(acl.actions(acl.v4.front()));
  f->default6_ = note(acl.actions(acl.v6.front()));

  if (acl.v4.size() > 1) {
    rte_fib_conf conf{};
    conf.type = RTE_FIB_DIR24_8;
    conf.default_nh = encode_pair(f->default4_);
    conf.max_routes = static_cast<int>(acl.v4.size());
    conf.rib_ext_sz = 0;
    // DPDK numbers tbl8 groups with next-hop-sized values: 1-byte next hops
    // (a 16 MiB table) allow 127 groups, 2-byte ones (32 MiB) 32767, 4-byte
    // ones (64 MiB) more than anyone needs.
    const std::uint32_t groups = tbl8_groups(acl.v4, 32);
    // The next hops must hold every action code too: notrust's exceed 1 byte.
    std::uint32_t codes = 0;
    for (const shm::AclEntry& e : acl.v4) codes = std::max<std::uint32_t>(codes, encode_pair(acl.actions(e)));
    const std::uint32_t need = std::max(groups, codes);
    conf.dir24_8.nh_sz = need <= kMax1B ? RTE_FIB_DIR24_8_1B : need <= kMax2B ? RTE_FIB_DIR24_8_2B : RTE_FIB_DIR24_8_4B;
    conf.dir24_8.num_tbl8 = groups;
    f->fib4_ = rte_fib_create((name + "4").c_str(), SOCKET_ID_ANY, &conf);
    if (f->fib4_ == nullptr) return unexpected(dpdk_error("cannot create the IPv4 access table", rte_errno));
    for (std::size_t i = 1; i < acl.v4.size(); ++i) {
      const shm::AclEntry& e = acl.v4[i];
      const std::uint32_t ip = std::uint32_t{e.address[0]} << 24 | std::uint32_t{e.address[1]} << 16 |
                               std::uint32_t{e.address[2]} << 8 | e.address[3];
      const int rc = rte_fib_add(f->fib4_, ip, e.length, encode_pair(note(acl.actions(e))));
      if (rc != 0) return unexpected(dpdk_error("cannot add an IPv4 access rule", rc));
    }
    f->prefixes4_ = acl.v4.size() - 1;
  }
  if (acl.v6.size() > 1) {
    rte_fib6_conf conf{};
    conf.type = RTE_FIB6_TRIE;
    conf.default_nh = encode_pair(f->default6_);
    conf.max_routes = static_cast<int>(acl.v6.size());
    conf.rib_ext_sz = 0;
    const std::uint32_t groups = tbl8_groups(acl.v6, 128);
    conf.trie.nh_sz = groups <= kMax2B ? RTE_FIB6_TRIE_2B : RTE_FIB6_TRIE_4B;
    conf.trie.num_tbl8 = groups;
    f->fib6_ = rte_fib6_create((name + "6").c_str(), SOCKET_ID_ANY, &conf);
    if (f->fib6_ == nullptr) return unexpected(dpdk_error("cannot create the IPv6 access table", rte_errno));
    for (std::size_t i = 1; i < acl.v6.size(); ++i) {
      const shm::AclEntry& e = acl.v6[i];
      const int rc = rte_fib6_add(f->fib6_, e.address, e.length, encode_pair(note(acl.actions(e))));
      if (rc != 0) return unexpected(dpdk_error("cannot add an IPv6 access rule", rc));
    }
    f->prefixes6_ = acl.v6.size() - 1;
  }
  return f;
}

FibAccessControl::~FibAccessControl() {
  if (fib4_ != nullptr) rte_fib_free(fib4_);
  if (fib6_ != nullptr) rte_fib6_free(fib6_);
}

AclActions FibAccessControl::lookup4(const std::uint8_t* a) const {
  if (fib4_ == nullptr) return default4_;
  std::uint32_t ip = std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 | std::uint32_t{a[2]} << 8 | a[3];
  std::uint64_t nh = 0;
  rte_fib_lookup_bulk(fib4_, &ip, &nh, 1);
  return decode_pair(static_cast<std::uint8_t>(nh));
}

void FibAccessControl::lookup4_bulk(const std::uint32_t* addresses, std::uint64_t* codes, unsigned n) const {
  if (fib4_ == nullptr) {
    std::fill(codes, codes + n, encode_pair(default4_));
    return;
  }
  // rte_fib takes the addresses as not const, but only reads them. It fails
  // only on null arguments; the default rule then stands for every source.
  if (rte_fib_lookup_bulk(fib4_, const_cast<std::uint32_t*>(addresses), codes, static_cast<int>(n)) != 0) {
    std::fill(codes, codes + n, encode_pair(default4_));
  }
}

AclActions FibAccessControl::lookup6(const std::uint8_t* a) const {
  if (fib6_ == nullptr) return default6_;
  std::uint8_t ip[1][16];
  std::memcpy(ip[0], a, 16);
  std::uint64_t nh = 0;
  rte_fib6_lookup_bulk(fib6_, ip, &nh, 1);
  return decode_pair(static_cast<std::uint8_t>(nh));
}

}  // namespace linetime::dataplane
