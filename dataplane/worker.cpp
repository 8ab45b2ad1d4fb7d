#include "dataplane/worker.h"

#include <rte_cycles.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::dataplane {

namespace {

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Rewrites an answer's transmit timestamp and fixes the UDP checksum by
// RFC 1624 incremental update.
void stamp_transmit(rte_mbuf* m, std::uint16_t ntp_offset, std::uint64_t ntp_tx) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  auto* h = reinterpret_cast<wire::NtpHeader*>(p + ntp_offset);
  auto* u = reinterpret_cast<wire::UdpHeader*>(p + ntp_offset - sizeof(wire::UdpHeader));
  const std::uint64_t old = h->transmit_ts.get();
  h->transmit_ts.set(ntp_tx);
  const std::uint16_t c = wire::checksum_update64(u->checksum.get(), old, ntp_tx);
  u->checksum.set(c == 0 ? 0xFFFF : c);
}

}  // namespace

bool sample_timebase(hwclock::TimebaseEstimator& estimator) {
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t before = rte_rdtsc_precise();
    const std::int64_t utc = realtime_ns();
    const std::uint64_t after = rte_rdtsc_precise();
    estimator.sample(hwclock::TscTime(static_cast<std::int64_t>(before)), hwclock::UtcTime(utc),
                     hwclock::TscTime(static_cast<std::int64_t>(after)));
  }
  return estimator.end_round();
}

Worker::Worker(const WorkerConfig& config, const LocalConfig& local, const shm::Segment& segment,
               const shm::Seqlock<hwclock::Timebase>& timebase, hwclock::Duration holdover, ClientTable clients)
    : cfg_(config),
      clients_(std::move(clients)),
      proc_(local),
      state_(segment.server_state(), segment.header().control, holdover),
      timebase_lock_(&timebase),
      counters_(&segment.counters()[config.counter_block]),
      upstream_(segment.upstream_rx(config.counter_block)) {
  if (clients_.enabled()) proc_.responder().set_clients(&clients_);
  // Chrony-style leaks are drawn per lcore.
  proc_.responder().seed(static_cast<std::uint32_t>(rte_rdtsc()) ^ (config.counter_block + 1) * 0x9E3779B9u);
}

void Worker::refresh() {
  const std::uint64_t v = timebase_lock_->version();
  if (v != timebase_version_) {
    const std::uint64_t got = timebase_lock_->try_load(timebase_);
    if (got != 0) timebase_version_ = got;
  }
  // A burst boundary: no reference to the previous address set is held.
  if (const AddressSet* set = addresses_.changed()) proc_.set_addresses(set);
  if (const AccessControl* acl = acl_.changed()) proc_.set_acl(acl);
  last_change_ = state_.refresh(hwclock::MonoTime(static_cast<std::int64_t>(monotonic_ns())));
  if (last_change_ != shm::StateReader::Change::kNone) proc_.responder().update(state_.served());
}

hwclock::UtcTime Worker::rx_time(rte_mbuf* m, hwclock::UtcTime burst_time) const {
  if (cfg_.rx_ts.dynfield_offset >= 0 && (m->ol_flags & cfg_.rx_ts.dynflag) != 0) {
    const auto ticks = *RTE_MBUF_DYNFIELD(m, cfg_.rx_ts.dynfield_offset, const std::uint64_t*);
    return hwclock::UtcTime(static_cast<std::int64_t>(static_cast<double>(ticks) * cfg_.rx_ts.nic_ns_per_tick) +
                            cfg_.rx_ts.nic_to_utc_ns);
  }
  return burst_time;
}

std::uint16_t Worker::send(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n, Counter sent) {
  if (n == 0) return 0;
  const std::uint16_t done = rte_eth_tx_burst(port, queue, pkts, n);
  count(sent, done);
  if (done < n) {
    count(Counter::kTxDropped, n - done);
    rte_pktmbuf_free_bulk(pkts + done, n - done);
  }
  return done;
}

void Worker::look_up_sources(rte_mbuf* const* rx, std::uint16_t n, bool limits, std::uint64_t* acl_codes,
                             std::uint32_t* bucket) const {
  // Untagged IPv4 and IPv6 frames: the source address at its fixed offset.
  // Anything else takes part in the bulk lookup and the hashing as address
  // 0, and is looked up when it is processed (FrameProcessor applies a hint
  // only to an untagged IPv4 frame's source).
  constexpr std::size_t kEth = sizeof(wire::EthernetHeader);
  std::uint32_t source[kBurst] = {};
  for (std::uint16_t i = 0; i < n; ++i) {
    const auto* f = rte_pktmbuf_mtod(rx[i], const std::uint8_t*);
    const std::size_t len = rte_pktmbuf_data_len(rx[i]);
    if (len >= kEth + 20 && f[12] == 0x08 && f[13] == 0x00) {
      source[i] = reinterpret_cast<const wire::Be32*>(f + kEth + 12)->get();
    } else if (limits && len >= kEth + 40 && f[12] == 0x86 && f[13] == 0xDD) {
      clients_.prefetch(ClientKey::from_ipv6(f + kEth + 8));
    }
  }
  // The first kPrefetchAhead buckets are fetched before the restrict lookup,
  // which then hides their memory latency.
  if (limits) {
    for (std::uint16_t i = 0; i < n; ++i) bucket[i] = clients_.bucket(ClientKey::from_ipv4(source[i]));
    for (std::uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) clients_.prefetch_bucket(bucket[i]);
  } else {
    std::fill(bucket, bucket + n, NtpRequest::kNoBucket);
  }
  proc_.acl()->lookup4_bulk(source, acl_codes, n);
}

unsigned Worker::poll_once() {
  rte_mbuf* rx[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(cfg_.port, cfg_.queue, rx, kBurst);
  const std::uint64_t tsc = rte_rdtsc();
  refresh();
  if (cfg_.io) forward_from_kernel();
  if (n == 0) return 0;

  const hwclock::UtcTime burst_time = timebase_.to_utc(hwclock::TscTime(static_cast<std::int64_t>(tsc)));
  count(Counter::kRxFrames, n);
  rte_mbuf* tx[kBurst];
  std::uint16_t ntp_offset[kBurst];
  std::uint16_t ntx = 0;
  rte_mbuf* exc[kBurst];
  std::uint16_t nexc = 0;
  rte_mbuf* drop[kBurst];
  std::uint16_t ndrop = 0;
  // Answers whose precise transmit time goes to the client table: their
  // index in tx, their slot and the receive timestamp they carry.
  std::uint16_t pending_index[kBurst];
  std::uint32_t pending_slot[kBurst];
  std::uint64_t pending_rx[kBurst];
  std::uint16_t npending = 0;
  std::uint64_t acl_codes[kBurst];
  std::uint32_t bucket[kBurst];
  const AccessControl* acl = proc_.acl();
  const bool limits = acl != nullptr && clients_.enabled() && acl->limits();
  if (acl != nullptr) look_up_sources(rx, n, limits, acl_codes, bucket);

  // Frame i + kPrefetchAhead's bucket is fetched before frame i is handled.
  const std::uint16_t fetch_end = limits && n > kPrefetchAhead ? n - kPrefetchAhead : 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i < fetch_end) clients_.prefetch_bucket(bucket[i + kPrefetchAhead]);
    rte_mbuf* m = rx[i];
    const hwclock::UtcTime rx_utc = rx_time(m, burst_time);
    auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
    const std::size_t room = m->buf_len - m->data_off;
    // The transmit timestamp is stamped again just before tx_burst; the
    // receive time stands in for it meanwhile.
    const SourceHint hint = acl != nullptr ? SourceHint{acl_codes[i], bucket[i]} : SourceHint{};
    const Verdict v = proc_.process(wire::MutableBytes(data, room), rte_pktmbuf_data_len(m), rx_utc,
                                    [rx_utc] { return rx_utc; }, hint);
    count(v.counter);
    switch (v.action) {
      case Action::kTransmit:
        m->data_len = static_cast<std::uint16_t>(v.length);
        m->pkt_len = v.length;
        m->ol_flags = 0;
        ntp_offset[ntx] = v.ntp_offset;
        if (v.tx_slot != ClientTable::kNoSlot) [[unlikely]] {
          if ((v.tx_slot & kSlotInterleaved) != 0) ntp_offset[ntx] = 0;  // its transmit timestamp is final
          const std::uint32_t slot = v.tx_slot & ~kSlotInterleaved;
          pending_index[npending] = ntx;
          pending_slot[npending] = slot;
          pending_rx[npending] = clients_.at(slot).rx;
          ++npending;
        }
        tx[ntx++] = m;
        break;
      case Action::kException:
        exc[nexc++] = m;
        break;
      case Action::kUpstream: {
        const UpstreamInfo& info = proc_.upstream();
        shm::UpstreamReply* r = upstream_.claim();
        if (r == nullptr) {
          count(Counter::kUpstreamRingFull);
        } else {
          r->src.family = r->dst.family = info.ipv6 ? 6 : 4;
          std::memcpy(r->src.bytes, info.src, 16);
          std::memcpy(r->dst.bytes, info.dst, 16);
          r->src_port = info.src_port;
          r->dst_port = info.dst_port;
          r->rx_source = shm::TimestampSource::kSoftware;
          r->rx_utc_ns = rx_utc.ticks();
          const std::size_t len = std::min(info.payload.size(), shm::kMaxRingPayload);
          r->length = static_cast<std::uint16_t>(len);
          std::memcpy(r->payload, info.payload.data(), len);
        }
        drop[ndrop++] = m;
        break;
      }
      case Action::kDrop:
        drop[ndrop++] = m;
        break;
    }
  }
  upstream_.publish();

  if (ntx > 0) {
    // As late as possible: one TSC read for the whole burst, right before it leaves.
    const hwclock::UtcTime now = timebase_.to_utc(hwclock::TscTime(static_cast<std::int64_t>(rte_rdtsc())));
    const std::uint64_t ntp_now = hwclock::NtpTimestamp::from_utc(now).raw() & ~kRxFlag;
    std::uint16_t stamped = 0;
    for (std::uint16_t i = 0; i < ntx; ++i) {
      if (ntp_offset[i] != 0) {
        stamp_transmit(tx[i], ntp_offset[i], ntp_now);
        ++stamped;
      }
    }
    count(Counter::kTxTimestampSoftware, stamped);
    const std::uint16_t sent = send(cfg_.port, cfg_.queue, tx, ntx, Counter::kTxFrames);
    if (npending > 0) record_sent(sent, pending_index, pending_slot, pending_rx, npending);
  }
  if (nexc > 0) {
    if (cfg_.exception_port == kNoPort) {
      count(Counter::kExceptionNoPort, nexc);
      rte_pktmbuf_free_bulk(exc, nexc);
    } else {
      const std::uint16_t done = rte_eth_tx_burst(cfg_.exception_port, cfg_.exception_queue, exc, nexc);
      if (done < nexc) {
        count(Counter::kTxDropped, nexc - done);
        rte_pktmbuf_free_bulk(exc + done, nexc - done);
      }
    }
  }
  if (ndrop > 0) rte_pktmbuf_free_bulk(drop, ndrop);
  return n;
}

void Worker::record_sent(std::uint16_t sent, const std::uint16_t* index, const std::uint32_t* slot,
                         const std::uint64_t* rx, std::uint16_t n) {
  // The barrier orders the TSC reading after the driver's descriptor writes.
  const std::uint64_t tsc = rte_rdtsc_precise();
  const hwclock::UtcTime after = timebase_.to_utc(hwclock::TscTime(static_cast<std::int64_t>(tsc)));
  const std::uint64_t ntp_after = hwclock::NtpTimestamp::from_utc(after).raw() & ~kRxFlag;
  std::uint16_t hits = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    if (index[i] < sent && clients_.complete(slot[i], rx[i], ntp_after)) ++hits;
  }
  count(Counter::kTxStampHit, hits);
  if (hits < n) count(Counter::kTxStampMiss, n - hits);
}

void Worker::forward_from_kernel() {
  if (cfg_.exception_port == kNoPort) return;
  rte_mbuf* pkts[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(cfg_.exception_port, cfg_.exception_queue, pkts, kBurst);
  if (n == 0) return;
  count(Counter::kExceptionFromKernel, n);
  send(cfg_.port, cfg_.queue, pkts, n, Counter::kTxFrames);
}

}  // namespace linetime::dataplane
