// The kernel's view of the exception interface, kept current through netlink.
//
// Operators configure the TAP with the ordinary tools (ip addr, ip route, the
// kernel's own ARP and neighbour discovery); this module follows them with
// libnl's cache manager (route/addr, route/route, route/neigh), polled without
// blocking from the main lcore's housekeeping, and reduces the caches to the
// interface's KernelTables: its addresses (tentative and failed ones left
// out), the unicast routes of the main table through it, and the neighbours
// with a usable MAC. It also asks the kernel to resolve a next hop.
// Off the fast path: nothing here is touched by a worker lcore.
#pragma once

#include <memory>
#include <string>

#include "dataplane/kernel_tables.h"
#include "hwclock/expected.h"

struct nl_cache;
struct nl_cache_mngr;
struct nl_object;
struct nl_sock;

namespace linetime::dataplane {

class Netlink {
 public:
  // Follows interface `ifname` (which must exist). Errors name the interface
  // and what failed.
  static Expected<std::unique_ptr<Netlink>, std::string> open(const std::string& ifname);
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Reads every pending notification without blocking and rebuilds the
  // tables they touched; true when the tables changed.
  bool poll();

  const KernelTables& tables() const { return tables_; }
  const std::string& interface() const { return ifname_; }
  int ifindex() const { return ifindex_; }

  // Asks the kernel to find `next_hop`'s MAC on the interface (it sends an
  // ARP request or a neighbour solicitation, which leaves through the TAP);
  // the answer arrives as a neighbour notification. False when the kernel
  // refused (the reason is in last_error()).
  bool resolve(const shm::NetAddress& next_hop);
  const std::string& last_error() const { return last_error_; }

 private:
  Netlink() = default;
  static void on_change(nl_cache* cache, nl_object* obj, int action, void* self);
  void rebuild_addresses();
  void rebuild_routes();
  void rebuild_neighbours();

  std::string ifname_;
  int ifindex_ = 0;
  nl_cache_mngr* mngr_ = nullptr;
  nl_sock* requests_ = nullptr;  // for resolve(): the manager's socket only listens
  nl_cache* addr_cache_ = nullptr;
  nl_cache* route_cache_ = nullptr;
  nl_cache* neigh_cache_ = nullptr;
  bool addr_dirty_ = false, route_dirty_ = false, neigh_dirty_ = false;
  KernelTables tables_;
  std::string last_error_;
};

}  // namespace linetime::dataplane
