#include "dataplane/netlink.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace linetime::dataplane {

namespace {

// An nl_addr of family AF_INET or AF_INET6 as a NetAddress; family 0 otherwise.
shm::NetAddress from_nl(nl_addr* a) {
  shm::NetAddress n;
  if (a == nullptr) return n;
  const int family = nl_addr_get_family(a);
  const unsigned len = nl_addr_get_len(a);
  if (family == AF_INET && len == 4) {
    n.family = 4;
  } else if (family == AF_INET6 && len == 16) {
    n.family = 6;
  } else {
    return n;
  }
  std::memcpy(n.bytes, nl_addr_get_binary_addr(a), len);
  return n;
}

std::string nl_error(int err) { return nl_geterror(err); }

template <class F>
void for_each(nl_cache* cache, F&& f) {
  nl_cache_foreach(
      cache, [](nl_object* obj, void* arg) { (*static_cast<F*>(arg))(obj); }, &f);
}

constexpr int kUsableNeighbour = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

}  // namespace

Expected<std::unique_ptr<Netlink>, std::string> Netlink::open(const std::string& ifname) {
  std::unique_ptr<Netlink> n(new Netlink());
  n->ifname_ = ifname;
  n->ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (n->ifindex_ == 0) {
    return unexpected("interface " + ifname + " does not exist (" + std::strerror(errno) +
                      "): the exception interface must be up before its addresses can be followed");
  }
  int err = nl_cache_mngr_alloc(nullptr, NETLINK_ROUTE, NL_AUTO_PROVIDE, &n->mngr_);
  if (err < 0) {
    return unexpected("cannot open a netlink socket to follow " + ifname + ": " + nl_error(err) +
                      " (the dataplane needs CAP_NET_ADMIN or root)");
  }
  struct Cache {
    const char* name;
    nl_cache** out;
  } caches[] = {{"route/addr", &n->addr_cache_}, {"route/route", &n->route_cache_}, {"route/neigh", &n->neigh_cache_}};
  for (const Cache& c : caches) {
    err = nl_cache_mngr_add(n->mngr_, c.name, &Netlink::on_change, n.get(), c.out);
    if (err < 0) return unexpected(std::string("cannot follow the kernel's ") + c.name + " table: " + nl_error(err));
  }
  n->requests_ = nl_socket_alloc();
  if (n->requests_ == nullptr) return unexpected(std::string("cannot allocate a netlink socket: out of memory"));
  err = nl_connect(n->requests_, NETLINK_ROUTE);
  if (err < 0) return unexpected("cannot open a netlink socket for neighbour requests: " + nl_error(err));
  n->rebuild_addresses();
  n->rebuild_routes();
  n->rebuild_neighbours();
  return n;
}

Netlink::~Netlink() {
  if (mngr_ != nullptr) nl_cache_mngr_free(mngr_);  // frees the caches it provided
  if (requests_ != nullptr) nl_socket_free(requests_);
}

void Netlink::on_change(nl_cache* cache, nl_object*, int, void* self) {
  auto* n = static_cast<Netlink*>(self);
  if (cache == n->addr_cache_) n->addr_dirty_ = true;
  if (cache == n->route_cache_) n->route_dirty_ = true;
  if (cache == n->neigh_cache_) n->neigh_dirty_ = true;
}

bool Netlink::poll() {
  // Timeout 0: poll(2) says whether anything is there; nothing blocks.
  for (int round = 0; round < 16; ++round) {
    if (nl_cache_mngr_poll(mngr_, 0) <= 0) break;
  }
  const bool changed = addr_dirty_ || route_dirty_ || neigh_dirty_;
  if (addr_dirty_) rebuild_addresses();
  if (route_dirty_) rebuild_routes();
  if (neigh_dirty_) rebuild_neighbours();
  addr_dirty_ = route_dirty_ = neigh_dirty_ = false;
  return changed;
}

void Netlink::rebuild_addresses() {
  std::vector<InterfaceAddress> out;
  for_each(addr_cache_, [&](nl_object* obj) {
    auto* a = reinterpret_cast<rtnl_addr*>(obj);
    if (rtnl_addr_get_ifindex(a) != ifindex_) return;
    if ((rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) != 0) return;
    const shm::NetAddress local = from_nl(rtnl_addr_get_local(a));
    if (local.family == 0) return;
    out.push_back(InterfaceAddress{local, static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(a))});
  });
  tables_.addresses = std::move(out);
}

void Netlink::rebuild_routes() {
  std::vector<Route> out;
  for_each(route_cache_, [&](nl_object* obj) {
    auto* r = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST) return;
    const int family = rtnl_route_get_family(r);
    if (family != AF_INET && family != AF_INET6) return;
    for (int i = 0; i < rtnl_route_get_nnexthops(r); ++i) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, i);
      if (nh == nullptr || rtnl_route_nh_get_ifindex(nh) != ifindex_) continue;
      Route route;
      nl_addr* dst = rtnl_route_get_dst(r);
      route.prefix = from_nl(dst);
      route.prefix.family = family == AF_INET ? 4 : 6;  // the default route may come without bytes
      route.prefix_length = dst != nullptr ? static_cast<std::uint8_t>(nl_addr_get_prefixlen(dst)) : 0;
      route.gateway = from_nl(rtnl_route_nh_get_gateway(nh));
      route.source = from_nl(rtnl_route_get_pref_src(r));
      route.metric = rtnl_route_get_priority(r);
      out.push_back(route);
      break;
    }
  });
  tables_.routes = std::move(out);
}

void Netlink::rebuild_neighbours() {
  std::vector<Neighbour> out;
  for_each(neigh_cache_, [&](nl_object* obj) {
    auto* n = reinterpret_cast<rtnl_neigh*>(obj);
    if (rtnl_neigh_get_ifindex(n) != ifindex_ || (rtnl_neigh_get_state(n) & kUsableNeighbour) == 0) return;
    const shm::NetAddress dst = from_nl(rtnl_neigh_get_dst(n));
    nl_addr* ll = rtnl_neigh_get_lladdr(n);
    if (dst.family == 0 || ll == nullptr || nl_addr_get_len(ll) != 6) return;
    Neighbour entry;
    entry.address = dst;
    std::memcpy(entry.mac.bytes.data(), nl_addr_get_binary_addr(ll), 6);
    out.push_back(entry);
  });
  tables_.neighbours = std::move(out);
}

bool Netlink::resolve(const shm::NetAddress& next_hop) {
  if (next_hop.family != 4 && next_hop.family != 6) return false;
  const int family = next_hop.family == 4 ? AF_INET : AF_INET6;
  nl_addr* dst = nl_addr_build(family, next_hop.bytes, next_hop.family == 4 ? 4 : 16);
  rtnl_neigh* n = rtnl_neigh_alloc();
  if (dst == nullptr || n == nullptr) {
    if (dst != nullptr) nl_addr_put(dst);
    if (n != nullptr) rtnl_neigh_put(n);
    last_error_ = "out of memory";
    return false;
  }
  rtnl_neigh_set_ifindex(n, ifindex_);
  rtnl_neigh_set_family(n, family);
  rtnl_neigh_set_dst(n, dst);
  rtnl_neigh_set_state(n, NUD_NONE);
  // NTF_USE: the kernel creates the entry if needed and starts resolving it
  // as if a packet were waiting, without touching an entry that is usable.
  rtnl_neigh_set_flags(n, NTF_USE);
  const int err = rtnl_neigh_add(requests_, n, NLM_F_CREATE | NLM_F_REPLACE);
  nl_addr_put(dst);
  rtnl_neigh_put(n);
  if (err < 0) {
    last_error_ = nl_error(err);
    return false;
  }
  return true;
}

}  // namespace linetime::dataplane
