// Kernel UDP sockets with SO_TIMESTAMPING: the node-mode transport.
//
// One socket per address family, created when first needed, non-blocking,
// bound to an ephemeral port (client) or to a configured address and port
// (server). Receive timestamps come from the kernel (SCM_TIMESTAMPING software
// stamps, taken when the packet entered the stack); transmit timestamps come
// from the socket's error queue (SOF_TIMESTAMPING_OPT_ID numbers every send,
// OPT_TSONLY keeps the payload out of it). Where the kernel cannot timestamp,
// SO_TIMESTAMPNS and then the daemon's own clock read are used instead, and
// describe() says so. The kernel turns receive stamping on a moment after the
// first socket of the system asks for it, so the very first datagrams may
// carry the daemon's clock read instead (rx_source says which).
//
// Only portable calls are used (socket/bind/setsockopt/fcntl/sendto/recvmsg
// with one iovec and MSG_ERRQUEUE), so the daemon runs unchanged under
// LD_PRELOAD-based clock and network simulators.
#pragma once

#include <array>
#include <optional>

#include "control/transport.h"

namespace linetime::control {

struct KernelTransportOptions {
  // Local address and port to bind; unset = any address, ephemeral port. A
  // server binds one family's address (or the wildcard of `bind_family`).
  std::optional<Endpoint> bind;
  bool timestamping = true;  // ask for SO_TIMESTAMPING; false = daemon clock reads only (tests)
};

class KernelTransport final : public Transport {
 public:
  explicit KernelTransport(KernelTransportOptions opts = {});
  ~KernelTransport() override;
  KernelTransport(const KernelTransport&) = delete;
  KernelTransport& operator=(const KernelTransport&) = delete;

  // Opens the socket of `family` now (a server calls this at start so that a
  // port in use or a missing privilege is reported before anything else).
  Expected<bool, std::string> open(bool v6);

  Expected<Sent, std::string> send(const Endpoint& to, std::span<const std::byte> payload) override;
  void drain(const std::function<void(const Datagram&)>& on_datagram,
             const std::function<void(const TxReport&)>& on_tx) override;
  void pollfds(std::vector<pollfd>& out) const override;
  std::string describe() const override;

  // The local port of the family's socket (0 when it is not open).
  std::uint16_t local_port(bool v6) const;

 private:
  struct Socket {
    int fd = -1;
    bool v6 = false;
    bool tx_stamps = false;   // SO_TIMESTAMPING with TX software stamps and OPT_ID
    bool rx_kernel = false;   // SCM_TIMESTAMPING or SCM_TIMESTAMPNS on receive
    std::uint32_t next_id = 0;  // OPT_ID of the next send
    std::uint16_t port = 0;
  };
  Socket& socket_for(bool v6) { return sockets_[v6 ? 1 : 0]; }
  void drain_socket(Socket& s, const std::function<void(const Datagram&)>& on_datagram,
                    const std::function<void(const TxReport&)>& on_tx);
  void drain_errqueue(Socket& s, const std::function<void(const TxReport&)>& on_tx);

  KernelTransportOptions opts_;
  std::array<Socket, 2> sockets_;
  std::array<std::byte, 2048> buffer_{};
};

// Tokens carry the family in bit 32 and the socket's send number below it.
constexpr std::uint64_t kernel_token(bool v6, std::uint32_t id) { return (std::uint64_t{v6} << 32) | id; }

// sockaddr conversions shared by the kernel transport and the management socket.
struct SockAddr {
  alignas(8) std::array<std::byte, 28> storage{};  // sockaddr_in6 is 28 bytes
  unsigned length = 0;
};
SockAddr to_sockaddr(const Endpoint& e);
std::optional<Endpoint> from_sockaddr(const void* sa, unsigned length);

}  // namespace linetime::control
