// One dataplane lcore's poll loop: receive a burst, stamp it, classify and
// answer every frame in place, stamp the answers' transmit time just before
// tx_burst, and hand exceptions to the kernel. No sleeping, no locks; all of
// its state is its own, and its counters are its own block in shared memory.
//
//   while (!stop) { rx_burst; ts = TSC; process each; TX ts = TSC; tx_burst;
//                   post-send ts = TSC -> client table }
//
// Interleaved mode: answers to requests that can be interleaved (see
// responder.h) have a slot in the lcore's client table. Once tx_burst has
// returned, the TSC is read once more (after a memory barrier, so the
// descriptors are written) and that post-send time, converted with the
// burst's timebase, is recorded as the precise transmit time of every such
// answer of the burst: one clock reading per burst, no system calls. Ports
// with hardware TX timestamps deliver them to the same slots later; on
// virtual ports the post-send reading is the precise time.
//
// The I/O worker (the main lcore's) also forwards what the kernel sends on the
// exception port out of the data port.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>

#include "dataplane/acl.h"
#include "dataplane/address_set.h"
#include "dataplane/client_table.h"
#include "dataplane/epoch_publisher.h"
#include "dataplane/frame.h"
#include "dataplane/shm/ring.h"
#include "dataplane/shm/segment.h"
#include "dataplane/shm/seqlock.h"
#include "dataplane/shm/state_reader.h"
#include "hwclock/timebase.h"

namespace linetime::dataplane {

inline constexpr std::uint16_t kBurst = 32;
inline constexpr std::uint16_t kNoPort = 0xFFFF;

// Where a frame's receive time comes from, chosen per port at start.
struct RxTimestamping {
  int dynfield_offset = -1;    // mbuf timestamp field, when the port fills it
  std::uint64_t dynflag = 0;
  double nic_ns_per_tick = 1;  // NIC ticks to ns; mapped onto UTC by `nic_to_utc_ns`
  std::int64_t nic_to_utc_ns = 0;
};

struct WorkerConfig {
  std::uint16_t port = 0;
  std::uint16_t queue = 0;
  std::uint16_t exception_port = kNoPort;  // the kernel's TAP, if any
  std::uint16_t exception_queue = 0;
  bool io = false;                         // also forwards kernel -> wire
  std::uint32_t counter_block = 0;         // which shared-memory counter block is ours
  RxTimestamping rx_ts;
};

// One round of (TSC, CLOCK_REALTIME, TSC) triplets into `estimator`, closing
// the round; true when the timebase was refitted.
bool sample_timebase(hwclock::TimebaseEstimator& estimator);

class Worker {
 public:
  // `clients` is the lcore's table for interleaved mode; without one every
  // answer is basic.
  Worker(const WorkerConfig& config, const LocalConfig& local, const shm::Segment& segment,
         const shm::Seqlock<hwclock::Timebase>& timebase, hwclock::Duration holdover, ClientTable clients = {});
  // The responder keeps a pointer to the client table.
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Answer on the sets `publisher` publishes, as its reader `reader` (once
  // per burst; instead of the LocalConfig's static addresses).
  void follow_addresses(const AddressPublisher& publisher, unsigned reader) { addresses_ = AddressReader(publisher, reader); }
  // Check NTP requests against the access lists `publisher` publishes, as
  // its reader `reader` (switching at burst boundaries).
  void follow_acl(const EpochPublisher<AccessControl>& publisher, unsigned reader) {
    acl_ = EpochReader<AccessControl>(publisher, reader);
  }

  // One pass of the loop; returns the number of frames received.
  unsigned poll_once();

  // What changed in the served state at the last poll (for the log).
  shm::StateReader::Change last_state_change() const { return last_change_; }
  const shm::StateReader& state() const { return state_; }
  FrameProcessor& processor() { return proc_; }
  const ClientTable& clients() const { return clients_; }

 private:
  void refresh();
  // With an access list: the restrict actions of the burst's untagged IPv4
  // sources in one bulk lookup, into acl_codes[i] (as lookup4_bulk codes
  // them). Rate limiting finds every client in a table far larger than the
  // caches, so with some rule limiting (`limits`) each source's bucket goes
  // to bucket[i] (else NtpRequest::kNoBucket), and the buckets are fetched
  // ahead of their requests so that their misses overlap: every IPv6
  // source's and the first kPrefetchAhead frames' now, the others
  // kPrefetchAhead frames ahead of their turn (poll_once). Frames other than
  // untagged IPv4 stand in as address 0 (FrameProcessor does not apply their
  // hints), and buckets of clients that no rule limits are fetched too:
  // telling them apart would cost every request more than the wasted fetch.
  void look_up_sources(rte_mbuf* const* rx, std::uint16_t n, bool limits, std::uint64_t* acl_codes,
                       std::uint32_t* bucket) const;
  // How many requests ahead a client's bucket is fetched: enough to cover a
  // memory access, few enough to stay within the core's outstanding misses.
  static constexpr unsigned kPrefetchAhead = 8;
  hwclock::UtcTime rx_time(rte_mbuf* m, hwclock::UtcTime burst_time) const;
  void count(Counter c, std::uint64_t n = 1) { counters_->add(index(c), n); }
  // Returns how many tx_burst took; the rest are counted and freed.
  std::uint16_t send(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n, Counter sent);
  void forward_from_kernel();
  // The post-send time of a burst whose first `sent` answers tx_burst took,
  // into the client table slots of the `n` pending answers.
  void record_sent(std::uint16_t sent, const std::uint16_t* index, const std::uint32_t* slot, const std::uint64_t* rx,
                   std::uint16_t n);

  WorkerConfig cfg_;
  ClientTable clients_;
  FrameProcessor proc_;
  shm::StateReader state_;
  const shm::Seqlock<hwclock::Timebase>* timebase_lock_;
  hwclock::Timebase timebase_{};
  std::uint64_t timebase_version_ = 0;
  shm::CounterBlock* counters_;
  shm::RingProducer<shm::UpstreamReply> upstream_;
  AddressReader addresses_;
  EpochReader<AccessControl> acl_;
  shm::StateReader::Change last_change_ = shm::StateReader::Change::kNone;
};

}  // namespace linetime::dataplane
