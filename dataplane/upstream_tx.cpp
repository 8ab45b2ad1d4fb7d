#include "dataplane/upstream_tx.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>

#include "dataplane/worker.h"

namespace linetime::dataplane {

UpstreamSender::UpstreamSender(const UpstreamSenderConfig& config, const shm::Segment& segment,
                               const shm::Seqlock<hwclock::Timebase>& timebase, const KernelTables& kernel,
                               const AddressSet& addresses, std::function<void(const shm::NetAddress&)> resolve)
    : cfg_(config),
      timebase_lock_(&timebase),
      kernel_(&kernel),
      addresses_(&addresses),
      resolve_(std::move(resolve)),
      counters_(&segment.counters()[config.counter_block]),
      requests_(segment.upstream_tx()),
      completions_(segment.completions()) {
  pending_.reserve(kMaxPending);
}

UpstreamSender::~UpstreamSender() = default;

rte_mbuf* UpstreamSender::build(const shm::UpstreamRequest& r, const shm::NetAddress& src, const wire::MacAddress& dst_mac) {
  rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
  if (m == nullptr) {
    count(Counter::kTxDropped);
    return nullptr;
  }
  auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::size_t room = rte_pktmbuf_tailroom(m);
  const std::size_t n = write_upstream_frame(wire::MutableBytes(data, room), r, src, cfg_.mac, dst_mac);
  if (n == 0) {
    count(Counter::kUpstreamInvalid);
    rte_pktmbuf_free(m);
    return nullptr;
  }
  m->data_len = static_cast<std::uint16_t>(n);
  m->pkt_len = static_cast<std::uint32_t>(n);
  return m;
}

unsigned UpstreamSender::poll(hwclock::MonoTime now) {
  const std::int64_t now_ns = now.ticks();
  rte_mbuf* out[kBurst];
  std::uint64_t cookies[kBurst];
  std::uint16_t n = 0;

  // Waiting requests first, in the order they came.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    const auto mac = find_neighbour(kernel_->neighbours, p.hop.address);
    if (mac && n < kBurst) {
      if (rte_mbuf* m = build(p.request, p.source, *mac)) {
        cookies[n] = p.request.cookie;
        out[n++] = m;
      }
      continue;
    }
    if (!mac && now_ns >= p.deadline_ns) {
      count(Counter::kUpstreamUnresolved);
      continue;
    }
    if (!mac && now_ns >= p.next_resolve_ns) {
      // One question per next hop and poll, whatever waits on it.
      const bool asked = std::any_of(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(kept),
                                     [&](const Pending& q) { return q.hop.address == p.hop.address && q.next_resolve_ns > now_ns; });
      if (!asked && resolve_) resolve_(p.hop.address);
      p.next_resolve_ns = now_ns + kResolveRetryNs;
    }
    if (kept != i) pending_[kept] = p;
    ++kept;
  }
  pending_.resize(kept);

  // Then the ring.
  const std::uint64_t available = requests_.available();
  std::uint64_t taken = 0;
  for (; taken < available && n < kBurst; ++taken) {
    const shm::UpstreamRequest& r = *requests_.peek(taken);
    if (now_ns - r.enqueued_mono_ns > cfg_.stale_after.ns()) {
      count(Counter::kUpstreamStale);
      continue;
    }
    if ((r.dst.family != 4 && r.dst.family != 6) || r.length > shm::kMaxRingPayload) {
      count(Counter::kUpstreamInvalid);
      continue;
    }
    const auto hop = choose_next_hop(kernel_->routes, r.dst);
    const shm::NetAddress src = hop ? choose_source(*kernel_, *addresses_, *hop) : shm::NetAddress{};
    if (!hop || src.family == 0) {
      count(Counter::kUpstreamNoRoute);
      continue;
    }
    if (const auto mac = find_neighbour(kernel_->neighbours, hop->address)) {
      if (rte_mbuf* m = build(r, src, *mac)) {
        cookies[n] = r.cookie;
        out[n++] = m;
      }
      continue;
    }
    if (pending_.size() >= kMaxPending) {
      count(Counter::kUpstreamUnresolved);
      continue;
    }
    const bool asked = std::any_of(pending_.begin(), pending_.end(), [&](const Pending& q) { return q.hop.address == hop->address; });
    if (!asked && resolve_) resolve_(hop->address);
    pending_.push_back(Pending{r, *hop, src, now_ns + cfg_.resolve_wait.ns(), now_ns + kResolveRetryNs});
  }
  if (taken > 0) requests_.pop(taken);
  if (n == 0) return 0;

  const std::uint64_t v = timebase_lock_->version();
  if (v != timebase_version_) {
    const std::uint64_t got = timebase_lock_->try_load(timebase_);
    if (got != 0) timebase_version_ = got;
  }
  // As late as possible: the software TX timestamp of the whole burst.
  const hwclock::UtcTime tx = timebase_.to_utc(hwclock::TscTime(static_cast<std::int64_t>(rte_rdtsc())));
  const std::uint16_t sent = rte_eth_tx_burst(cfg_.port, cfg_.queue, out, n);
  count(Counter::kTxFrames, sent);
  count(Counter::kUpstreamSent, sent);
  if (sent < n) {
    count(Counter::kTxDropped, n - sent);
    rte_pktmbuf_free_bulk(out + sent, n - sent);
  }
  for (std::uint16_t i = 0; i < sent; ++i) {
    shm::TxCompletion* c = completions_.claim();
    if (c == nullptr) {
      count(Counter::kCompletionRingFull);
      continue;
    }
    c->cookie = cookies[i];
    c->tx_utc_ns = tx.ticks();
    c->source = shm::TimestampSource::kSoftware;
  }
  completions_.publish();
  return sent;
}

}  // namespace linetime::dataplane
