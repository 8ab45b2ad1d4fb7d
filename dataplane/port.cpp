#include "dataplane/port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include <ctime>

namespace linetime::dataplane {

namespace {

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

std::string failed(std::uint16_t port, const char* what, int ret) {
  return port_label(port) + ": " + what + " failed: " + rte_strerror(ret < 0 ? -ret : ret);
}

}  // namespace

std::string port_label(std::uint16_t port) {
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) != 0 || info.driver_name == nullptr) return "port " + std::to_string(port);
  return "port " + std::to_string(port) + " (" + info.driver_name + ")";
}

std::string no_such_port(std::uint16_t port) {
  return "no such port " + std::to_string(port) + ": DPDK found " + std::to_string(rte_eth_dev_count_avail()) +
         " ports; add one with --vdev (e.g. net_af_packet0,iface=eth0) or bind a NIC to a DPDK driver";
}

Expected<PortInfo, std::string> start_port(const PortRequest& r) {
  if (!rte_eth_dev_is_valid_port(r.port)) return unexpected(no_such_port(r.port));
  rte_eth_dev_info info{};
  int ret = rte_eth_dev_info_get(r.port, &info);
  if (ret != 0) return unexpected(failed(r.port, "reading device info", ret));
  PortInfo out;
  out.driver = info.driver_name != nullptr ? info.driver_name : "?";
  if (r.queues > info.max_rx_queues || r.queues > info.max_tx_queues) {
    return unexpected(port_label(r.port) + " has at most " + std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
                      " queue pairs but " + std::to_string(r.queues) + " lcores want one each: run with fewer lcores (-l)");
  }

  rte_eth_conf conf{};
  if (r.queues > 1 && info.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    out.rss = conf.rx_adv_conf.rss_conf.rss_hf != 0;
  }
  if (r.rx_timestamps && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) != 0) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    out.hw_rx_timestamps = true;
  }
  ret = rte_eth_dev_configure(r.port, r.queues, r.queues, &conf);
  if (ret != 0) return unexpected(failed(r.port, "configuring queues and offloads", ret));

  std::uint16_t rx_desc = r.rx_desc, tx_desc = r.tx_desc;
  ret = rte_eth_dev_adjust_nb_rx_tx_desc(r.port, &rx_desc, &tx_desc);
  if (ret != 0) return unexpected(failed(r.port, "sizing descriptor rings", ret));
  const int socket = rte_eth_dev_socket_id(r.port);
  const unsigned socket_id = socket < 0 ? 0 : static_cast<unsigned>(socket);
  for (std::uint16_t q = 0; q < r.queues; ++q) {
    ret = rte_eth_rx_queue_setup(r.port, q, rx_desc, socket_id, nullptr, r.pool);
    if (ret != 0) return unexpected(failed(r.port, "setting up an RX queue", ret) + " (not enough mbufs? raise -m)");
    ret = rte_eth_tx_queue_setup(r.port, q, tx_desc, socket_id, nullptr);
    if (ret != 0) return unexpected(failed(r.port, "setting up a TX queue", ret));
  }

  if (out.hw_rx_timestamps) {
    ret = rte_mbuf_dyn_rx_timestamp_register(&out.rx_ts.dynfield_offset, &out.rx_ts.dynflag);
    if (ret != 0) return unexpected(failed(r.port, "registering the mbuf timestamp field", rte_errno));
  }
  ret = rte_eth_dev_start(r.port);
  if (ret != 0) return unexpected(failed(r.port, "starting", ret) + " (is the interface up and are you root?)");

  if (!out.hw_rx_timestamps && r.rx_timestamps) {
    // Some drivers (net_pcap) stamp every mbuf without offering the offload:
    // they register the timestamp field themselves. The per-mbuf flag tells
    // which packets carry a stamp, so ports that do not stamp are unaffected.
    const int offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    const int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    if (offset >= 0 && bit >= 0) {
      out.hw_rx_timestamps = true;
      out.rx_ts.dynfield_offset = offset;
      out.rx_ts.dynflag = std::uint64_t{1} << bit;
    }
  }

  rte_ether_addr mac{};
  rte_eth_macaddr_get(r.port, &mac);
  for (int i = 0; i < 6; ++i) out.mac.bytes[static_cast<std::size_t>(i)] = mac.addr_bytes[i];

  if (out.hw_rx_timestamps) {
    // A NIC clock we can read is mapped onto UTC from one (system, NIC)
    // sample; one we cannot (net_pcap) already counts UTC nanoseconds.
    std::uint64_t nic = 0;
    const std::int64_t before = realtime_ns();
    if (rte_eth_read_clock(r.port, &nic) == 0) {
      const std::int64_t after = realtime_ns();
      out.rx_ts.nic_to_utc_ns = (before + after) / 2 - static_cast<std::int64_t>(nic);
      out.timestamping = "hardware RX timestamps (NIC clock mapped to UTC), software TX timestamps";
    } else {
      // No readable NIC clock: the driver reports UTC itself. net_pcap
      // stores sec * 10^6 + usec of the capture record (drivers/net/pcap,
      // eth_pcap_rx), everything else nanoseconds.
      if (out.driver == "net_pcap") out.rx_ts.nic_ns_per_tick = 1000;
      out.timestamping = "hardware RX timestamps (UTC from the driver), software TX timestamps";
    }
  } else {
    out.timestamping = "software RX and TX timestamps (TSC mapped to UTC)";
  }
  return out;
}

}  // namespace linetime::dataplane
