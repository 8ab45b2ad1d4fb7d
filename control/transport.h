// How the control daemon exchanges NTP packets with its upstream sources.
//
// Two transports sit behind one interface: kernel UDP sockets with
// SO_TIMESTAMPING (node mode, and small setups that serve on a kernel socket),
// and the dataplane's shared-memory rings (appliance mode, where the NIC belongs
// to DPDK). Both deliver each datagram with its receive timestamp and report,
// later and asynchronously, when a sent datagram actually left (its precise T1)
// under the token send() returned.
//
// Timestamps here are on the system's CLOCK_REALTIME, as the kernel and the
// dataplane take them; the daemon maps them onto the disciplined clock (which
// differs from CLOCK_REALTIME in no-clock-control mode).
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "control/config.h"
#include "hwclock/expected.h"
#include "hwclock/time.h"

namespace linetime::control {

// A UDP endpoint; the port in host byte order.
struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};
std::string to_string(const Endpoint& e);  // "198.18.0.1:123", "[2001:db8::1]:123"

enum class StampSource : std::uint8_t {
  kNone,      // no timestamp
  kDaemon,    // the daemon read the clock after the system call (least precise)
  kKernel,    // kernel software timestamp (SO_TIMESTAMPING software, or the dataplane's TSC stamp)
  kHardware,  // NIC clock, mapped to the system clock
};
const char* to_string(StampSource s);

struct Datagram {
  Endpoint from;
  Endpoint to;  // the local address and port it arrived on
  std::span<const std::byte> payload;
  hwclock::UtcTime rx;  // CLOCK_REALTIME
  StampSource rx_source = StampSource::kNone;
};

struct TxReport {
  std::uint64_t token = 0;
  hwclock::UtcTime tx;  // CLOCK_REALTIME
  StampSource source = StampSource::kNone;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends `payload` to `to`. The returned token comes back in a TxReport when
  // the transport learns the transmit time. `sent_at` is CLOCK_REALTIME read
  // just before the send (the fallback T1 when no report comes).
  struct Sent {
    std::uint64_t token = 0;
    hwclock::UtcTime sent_at;
  };
  virtual Expected<Sent, std::string> send(const Endpoint& to, std::span<const std::byte> payload) = 0;

  // Reads everything pending without blocking.
  virtual void drain(const std::function<void(const Datagram&)>& on_datagram,
                     const std::function<void(const TxReport&)>& on_tx) = 0;

  // Descriptors to wait on with poll(); drain() after any of them is readable.
  virtual void pollfds(std::vector<pollfd>& out) const = 0;

  // One line for the log: which timestamps this transport gets.
  virtual std::string describe() const = 0;
};

}  // namespace linetime::control
