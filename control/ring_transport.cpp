#include "hwclock/clock_read.h"
#include "control/ring_transport.h"

#include <time.h>

#include <cstring>

namespace linetime::control {


namespace {

StampSource stamp_source(shm::TimestampSource s) {
  switch (s) {
    case shm::TimestampSource::kSoftware: return StampSource::kKernel;
    case shm::TimestampSource::kHardware: return StampSource::kHardware;
    case shm::TimestampSource::kPredicted: return StampSource::kDaemon;
    case shm::TimestampSource::kNone: break;
  }
  return StampSource::kNone;
}

}  // namespace

shm::NetAddress to_net_address(const IpAddress& a) {
  shm::NetAddress n;
  if (a.is_v6) {
    n.family = 6;
    std::memcpy(n.bytes, a.v6.bytes.data(), 16);
  } else {
    n.family = 4;
    const std::uint32_t v = a.v4.value;
    n.bytes[0] = static_cast<std::uint8_t>(v >> 24);
    n.bytes[1] = static_cast<std::uint8_t>(v >> 16);
    n.bytes[2] = static_cast<std::uint8_t>(v >> 8);
    n.bytes[3] = static_cast<std::uint8_t>(v);
  }
  return n;
}

IpAddress from_net_address(const shm::NetAddress& n) {
  IpAddress a;
  if (n.family == 6) {
    a.is_v6 = true;
    std::memcpy(a.v6.bytes.data(), n.bytes, 16);
  } else {
    a.v4.value = (std::uint32_t{n.bytes[0]} << 24) | (std::uint32_t{n.bytes[1]} << 16) |
                 (std::uint32_t{n.bytes[2]} << 8) | n.bytes[3];
  }
  return a;
}

RingTransport::RingTransport(const shm::Segment& segment, std::uint16_t src_port)
    : segment_(segment), src_port_(src_port), tx_(segment.upstream_tx()), completions_(segment.completions()) {
  for (std::uint32_t l = 0; l < shm::kMaxLcores; ++l) rx_[l] = shm::RingConsumer<shm::UpstreamReply>(segment.upstream_rx(l));
}

Expected<Transport::Sent, std::string> RingTransport::send(const Endpoint& to, std::span<const std::byte> payload) {
  if (payload.size() > shm::kMaxRingPayload) {
    return unexpected("request of " + std::to_string(payload.size()) + " bytes exceeds the ring's " +
                      std::to_string(shm::kMaxRingPayload));
  }
  shm::UpstreamRequest* slot = tx_.claim();
  if (slot == nullptr) {
    ++ring_full_;
    return unexpected(std::string("the dataplane's upstream ring is full: is linetime-dataplane running on ") +
                      segment_.name() + "?");
  }
  Sent sent;
  sent.token = next_cookie_++;
  sent.sent_at = hwclock::utc_from_ns(hwclock::clock_ns(CLOCK_REALTIME));
  slot->cookie = sent.token;
  slot->enqueued_mono_ns = hwclock::clock_ns(CLOCK_MONOTONIC);
  slot->dst = to_net_address(to.address);
  slot->dst_port = to.port;
  slot->src_port = src_port_;
  slot->length = static_cast<std::uint16_t>(payload.size());
  std::memcpy(slot->payload, payload.data(), payload.size());
  tx_.publish();
  return sent;
}

void RingTransport::drain(const std::function<void(const Datagram&)>& on_datagram,
                          const std::function<void(const TxReport&)>& on_tx) {
  for (std::uint64_t n = completions_.available(); n > 0; --n) {
    const shm::TxCompletion& c = *completions_.peek();
    on_tx(TxReport{c.cookie, hwclock::utc_from_ns(c.tx_utc_ns), stamp_source(c.source)});
    completions_.pop();
  }
  for (auto& ring : rx_) {
    for (std::uint64_t n = ring.available(); n > 0; --n) {
      const shm::UpstreamReply& r = *ring.peek();
      Datagram d;
      d.from = Endpoint{from_net_address(r.src), r.src_port};
      d.to = Endpoint{from_net_address(r.dst), r.dst_port};
      d.payload = std::as_bytes(std::span(r.payload, std::min<std::size_t>(r.length, shm::kMaxRingPayload)));
      d.rx = hwclock::utc_from_ns(r.rx_utc_ns);
      d.rx_source = stamp_source(r.rx_source);
      on_datagram(d);
      ring.pop();
    }
  }
}

std::string RingTransport::describe() const {
  return "dataplane rings of " + segment_.name() + ", UDP source port " + std::to_string(src_port_) +
         " (dataplane RX stamps, TX stamps from its completions)";
}

}  // namespace linetime::control
