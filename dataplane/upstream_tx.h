// Sends the control's upstream NTP requests out of the data port and tells
// the control when each one left.
//
// Runs on the I/O (main) lcore, next to the netlink watcher that keeps the
// kernel tables it reads, so neither needs a lock. For each request on the
// control's UpstreamRequest ring: choose the next hop (kernel_tables.h), look
// up its MAC among the kernel's neighbours, build the Ethernet/IP/UDP frame,
// and send it with the others of the poll in one tx_burst; the TX timestamp is
// read just before that burst, and a TxCompletion with it goes back on the
// completion ring. A request whose next hop has no known MAC waits (at most
// kResolveWait, at most kMaxPending of them) while the kernel is asked to
// resolve it; the kernel's ARP or neighbour solicitation leaves through the
// TAP and the data port, its answer comes back the same way, and the
// neighbour table learns it. Every outcome is a counter.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "dataplane/address_set.h"
#include "dataplane/counters.h"
#include "dataplane/kernel_tables.h"
#include "dataplane/shm/ring.h"
#include "dataplane/shm/segment.h"
#include "dataplane/shm/seqlock.h"
#include "hwclock/time.h"
#include "hwclock/timebase.h"

namespace linetime::dataplane {

struct UpstreamSenderConfig {
  std::uint16_t port = 0;
  std::uint16_t queue = 0;
  rte_mempool* pool = nullptr;
  wire::MacAddress mac;             // the data port's
  std::uint32_t counter_block = 0;  // the I/O lcore's block
  // Requests queued longer ago than this (CLOCK_MONOTONIC) are stale: the
  // control's poll they belonged to has passed.
  hwclock::Duration stale_after = hwclock::Duration::from_s(1);
  // How long a request waits for its next hop's MAC.
  hwclock::Duration resolve_wait = hwclock::Duration::from_s(1);
};

class UpstreamSender {
 public:
  static constexpr std::size_t kMaxPending = 64;
  // How often the kernel is asked again for a next hop still unresolved.
  static constexpr std::int64_t kResolveRetryNs = 200'000'000;

  // `kernel` and `addresses` are read at every poll, on the caller's thread.
  // `resolve` asks for a next hop's MAC (Netlink::resolve); it may be empty.
  UpstreamSender(const UpstreamSenderConfig& config, const shm::Segment& segment,
                 const shm::Seqlock<hwclock::Timebase>& timebase, const KernelTables& kernel,
                 const AddressSet& addresses, std::function<void(const shm::NetAddress&)> resolve);
  ~UpstreamSender();
  UpstreamSender(const UpstreamSender&) = delete;
  UpstreamSender& operator=(const UpstreamSender&) = delete;

  // Sends what can be sent; returns the number of frames sent. `now` is
  // CLOCK_MONOTONIC.
  unsigned poll(hwclock::MonoTime now);

  // Whether a poll has anything to do: requests on the ring or waiting.
  bool has_work() { return !pending_.empty() || requests_.available() != 0; }
  std::size_t pending() const { return pending_.size(); }
  // Points the sender at another address set (the main lcore's current one).
  void set_addresses(const AddressSet& addresses) { addresses_ = &addresses; }

 private:
  struct Pending {
    shm::UpstreamRequest request;
    NextHop hop;
    shm::NetAddress source;
    std::int64_t deadline_ns;
    std::int64_t next_resolve_ns;
  };

  void count(Counter c, std::uint64_t n = 1) { counters_->add(index(c), n); }
  // Builds the frame into a new mbuf; nullptr (counted) when it cannot.
  rte_mbuf* build(const shm::UpstreamRequest& r, const shm::NetAddress& src, const wire::MacAddress& dst_mac);

  UpstreamSenderConfig cfg_;
  const shm::Seqlock<hwclock::Timebase>* timebase_lock_;
  hwclock::Timebase timebase_{};
  std::uint64_t timebase_version_ = 0;
  const KernelTables* kernel_;
  const AddressSet* addresses_;
  std::function<void(const shm::NetAddress&)> resolve_;
  shm::CounterBlock* counters_;
  shm::RingConsumer<shm::UpstreamRequest> requests_;
  shm::RingProducer<shm::TxCompletion> completions_;
  std::vector<Pending> pending_;
};

}  // namespace linetime::dataplane
