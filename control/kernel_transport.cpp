#include "hwclock/clock_read.h"
#include "control/kernel_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace linetime::control {

using hwclock::realtime_now;

namespace {

hwclock::UtcTime from_timespec(const timespec& ts) {
  return hwclock::utc_from_ns(std::int64_t{ts.tv_sec} * hwclock::kNsPerSec + ts.tv_nsec);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Software RX and TX stamps, numbered sends, no payload echoed on the error queue.
constexpr unsigned kTimestampingFlags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
                                        SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                                        SOF_TIMESTAMPING_OPT_TSONLY;

}  // namespace

std::string to_string(const Endpoint& e) {
  const std::string a = to_string(e.address);
  return (e.address.is_v6 ? "[" + a + "]" : a) + ":" + std::to_string(e.port);
}

const char* to_string(StampSource s) {
  switch (s) {
    case StampSource::kNone: return "none";
    case StampSource::kDaemon: return "daemon";
    case StampSource::kKernel: return "kernel";
    case StampSource::kHardware: return "hardware";
  }
  return "?";
}

SockAddr to_sockaddr(const Endpoint& e) {
  SockAddr out;
  if (e.address.is_v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(e.port);
    std::memcpy(&sa.sin6_addr, e.address.v6.bytes.data(), 16);
    std::memcpy(out.storage.data(), &sa, sizeof sa);
    out.length = sizeof sa;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(e.port);
    sa.sin_addr.s_addr = htonl(e.address.v4.value);
    std::memcpy(out.storage.data(), &sa, sizeof sa);
    out.length = sizeof sa;
  }
  return out;
}

std::optional<Endpoint> from_sockaddr(const void* p, unsigned length) {
  sa_family_t family{};
  if (length < sizeof family) return std::nullopt;
  std::memcpy(&family, p, sizeof family);
  Endpoint e;
  if (family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in sa{};
    std::memcpy(&sa, p, sizeof sa);
    e.address.v4.value = ntohl(sa.sin_addr.s_addr);
    e.port = ntohs(sa.sin_port);
    return e;
  }
  if (family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sa{};
    std::memcpy(&sa, p, sizeof sa);
    e.address.is_v6 = true;
    std::memcpy(e.address.v6.bytes.data(), &sa.sin6_addr, 16);
    e.port = ntohs(sa.sin6_port);
    return e;
  }
  return std::nullopt;
}

KernelTransport::KernelTransport(KernelTransportOptions opts) : opts_(std::move(opts)) {
  sockets_[1].v6 = true;
}

KernelTransport::~KernelTransport() {
  for (auto& s : sockets_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

Expected<bool, std::string> KernelTransport::open(bool v6) {
  Socket& s = socket_for(v6);
  if (s.fd >= 0) return true;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return unexpected(errno_text(v6 ? "cannot open an IPv6 UDP socket" : "cannot open an IPv4 UDP socket"));
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const int one = 1;
  if (v6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  } else {
    ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }

  Endpoint local;
  local.address.is_v6 = v6;
  if (opts_.bind) {
    if (opts_.bind->address.is_v6 == v6) {
      local = *opts_.bind;
    } else {
      local.port = opts_.bind->port;  // the other family's wildcard, same port
    }
  }
  const SockAddr sa = to_sockaddr(local);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(sa.storage.data()), sa.length) != 0) {
    const int err = errno;
    ::close(fd);
    std::string msg = "cannot bind UDP " + to_string(local) + ": " + std::strerror(err);
    if (err == EACCES) msg += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    if (err == EADDRINUSE) msg += " (another NTP server, e.g. ntpd or chronyd, is using it: stop it first)";
    if (err == EADDRNOTAVAIL) msg += " (the address is not configured on any interface)";
    return unexpected(msg);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  if (auto e = from_sockaddr(&bound, bound_len)) s.port = e->port;

  if (opts_.timestamping) {
    const unsigned ts_flags = kTimestampingFlags;
    if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts_flags, sizeof ts_flags) == 0) {
      s.tx_stamps = true;
      s.rx_kernel = true;
    } else if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0) {
      s.rx_kernel = true;
    }
  }
  s.fd = fd;
  s.next_id = 0;
  return true;
}

std::uint16_t KernelTransport::local_port(bool v6) const { return sockets_[v6 ? 1 : 0].port; }

Expected<Transport::Sent, std::string> KernelTransport::send(const Endpoint& to, std::span<const std::byte> payload) {
  Socket& s = socket_for(to.address.is_v6);
  if (s.fd < 0) {
    if (auto r = open(to.address.is_v6); !r) return unexpected(r.error());
  }
  const SockAddr sa = to_sockaddr(to);
  Sent sent;
  sent.sent_at = realtime_now();
  const ssize_t n = ::sendto(s.fd, payload.data(), payload.size(), 0,
                             reinterpret_cast<const sockaddr*>(sa.storage.data()), sa.length);
  if (n < 0) return unexpected(errno_text(("cannot send to " + to_string(to)).c_str()));
  sent.token = kernel_token(s.v6, s.next_id++);
  return sent;
}

void KernelTransport::drain(const std::function<void(const Datagram&)>& on_datagram,
                            const std::function<void(const TxReport&)>& on_tx) {
  for (auto& s : sockets_) {
    if (s.fd >= 0) drain_socket(s, on_datagram, on_tx);
  }
}

void KernelTransport::drain_socket(Socket& s, const std::function<void(const Datagram&)>& on_datagram,
                                   const std::function<void(const TxReport&)>& on_tx) {
  if (s.tx_stamps) drain_errqueue(s, on_tx);
  for (int i = 0; i < 256; ++i) {  // bounded: a flood cannot starve the timers
    sockaddr_storage from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) std::array<char, 512> control{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(s.fd, &msg, 0);
    if (n < 0) return;  // EAGAIN, or an ICMP error reported on the socket: nothing more now
    const hwclock::UtcTime read_at = realtime_now();
    const auto peer = from_sockaddr(&from, msg.msg_namelen);
    if (!peer) continue;
    Datagram d;
    d.from = *peer;
    d.to.address.is_v6 = s.v6;
    d.to.port = s.port;
    d.payload = std::span<const std::byte>(buffer_.data(), static_cast<std::size_t>(n));
    d.rx = read_at;
    d.rx_source = StampSource::kDaemon;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        scm_timestamping ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        if (ts.ts[0].tv_sec != 0 || ts.ts[0].tv_nsec != 0) {
          d.rx = from_timespec(ts.ts[0]);
          d.rx_source = StampSource::kKernel;
        }
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        d.rx = from_timespec(ts);
        d.rx_source = StampSource::kKernel;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        d.to.address.v4.value = ntohl(pi.ipi_addr.s_addr);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        std::memcpy(d.to.address.v6.bytes.data(), &pi.ipi6_addr, 16);
      }
    }
    on_datagram(d);
  }
}

void KernelTransport::drain_errqueue(Socket& s, const std::function<void(const TxReport&)>& on_tx) {
  for (int i = 0; i < 256; ++i) {
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) std::array<char, 512> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(s.fd, &msg, MSG_ERRQUEUE) < 0) return;
    std::optional<hwclock::UtcTime> stamp;
    std::optional<std::uint32_t> id;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        scm_timestamping ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        if (ts.ts[0].tv_sec != 0 || ts.ts[0].tv_nsec != 0) stamp = from_timespec(ts.ts[0]);
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        sock_extended_err err{};
        std::memcpy(&err, CMSG_DATA(c), sizeof err);
        if (err.ee_errno == ENOMSG && err.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) id = err.ee_data;
      }
    }
    if (stamp && id) on_tx(TxReport{kernel_token(s.v6, *id), *stamp, StampSource::kKernel});
  }
}

void KernelTransport::pollfds(std::vector<pollfd>& out) const {
  for (const auto& s : sockets_) {
    // The error queue makes a socket readable through POLLERR, always reported.
    if (s.fd >= 0) out.push_back(pollfd{s.fd, POLLIN, 0});
  }
}

std::string KernelTransport::describe() const {
  std::string out;
  for (const auto& s : sockets_) {
    if (s.fd < 0) continue;
    if (!out.empty()) out += "; ";
    out += std::string(s.v6 ? "IPv6" : "IPv4") + " UDP port " + std::to_string(s.port) + ": ";
    if (s.tx_stamps) {
      out += "kernel software RX and TX timestamps";
    } else if (s.rx_kernel) {
      out += "kernel RX timestamps, TX time read before sending";
    } else {
      out += "timestamps read by the daemon (least precise)";
    }
  }
  return out.empty() ? std::string("kernel UDP sockets, opened when first needed (SO_TIMESTAMPING when the kernel has it)")
                     : out;
}

}  // namespace linetime::control
