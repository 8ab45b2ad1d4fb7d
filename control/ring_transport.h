// The appliance-mode transport: upstream requests go to the dataplane through
// the shared-memory ring it sends from (the NIC belongs to DPDK), replies come
// back on the per-lcore rings with the dataplane's receive timestamps, and the
// dataplane's transmit completions give each request's precise T1.
//
// Shared memory has no descriptor to poll: the daemon's loop bounds its wait
// (kRingPollInterval) while this transport is in use. Timestamps only depend
// on the dataplane, so the control's wake-up latency costs nothing in accuracy.
#pragma once

#include <array>
#include <chrono>

#include "control/transport.h"
#include "dataplane/shm/messages.h"
#include "dataplane/shm/ring.h"
#include "dataplane/shm/segment.h"

namespace linetime::control {

inline constexpr std::chrono::milliseconds kRingPollInterval{10};

class RingTransport final : public Transport {
 public:
  // `src_port`: the UDP port requests leave from; the dataplane must have it in
  // its --upstream-ports range to hand the replies back.
  RingTransport(const shm::Segment& segment, std::uint16_t src_port);

  Expected<Sent, std::string> send(const Endpoint& to, std::span<const std::byte> payload) override;
  void drain(const std::function<void(const Datagram&)>& on_datagram,
             const std::function<void(const TxReport&)>& on_tx) override;
  void pollfds(std::vector<pollfd>&) const override {}
  std::string describe() const override;

  std::uint64_t ring_full() const { return ring_full_; }

 private:
  const shm::Segment& segment_;
  std::uint16_t src_port_;
  shm::RingProducer<shm::UpstreamRequest> tx_;
  shm::RingConsumer<shm::TxCompletion> completions_;
  std::array<shm::RingConsumer<shm::UpstreamReply>, shm::kMaxLcores> rx_;
  std::uint64_t next_cookie_ = 1;
  std::uint64_t ring_full_ = 0;
};

shm::NetAddress to_net_address(const IpAddress& a);
IpAddress from_net_address(const shm::NetAddress& a);

}  // namespace linetime::control
