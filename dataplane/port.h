// Ethernet port set-up for the dataplane: queues per lcore, RSS where the port
// has it, hardware RX timestamps where it has them. Errors name the port, what
// failed and what to do about it.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "dataplane/wire/address.h"
#include "dataplane/worker.h"
#include "hwclock/expected.h"

namespace linetime::dataplane {

struct PortRequest {
  std::uint16_t port = 0;
  std::uint16_t queues = 1;       // one RX and one TX queue per lcore
  rte_mempool* pool = nullptr;
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  bool rx_timestamps = true;      // use hardware RX timestamps when the port has them
};

struct PortInfo {
  std::string driver;
  wire::MacAddress mac;
  bool rss = false;
  bool hw_rx_timestamps = false;
  RxTimestamping rx_ts;
  std::string timestamping;  // a line for the log: which timestamps this port gives
};

Expected<PortInfo, std::string> start_port(const PortRequest& request);

// "port 1 (net_tap)" for messages.
std::string port_label(std::uint16_t port);

// The error for a port id DPDK does not have, with what to do about it.
std::string no_such_port(std::uint16_t port);

}  // namespace linetime::dataplane
