// The set of addresses the dataplane answers on, and how a new set reaches the
// lcores without a lock on the fast path.
//
// An AddressSet never changes once published. The main lcore (the only
// writer) builds a new one whenever the kernel reports an address change on
// the exception interface, and swaps a pointer; every lcore reads that pointer
// at most once per burst through its own AddressReader, and acknowledges the
// epoch it saw in its own cache line. A replaced set is freed only when every
// reader has acknowledged an epoch at or after the swap, so no lcore can still
// be looking at it: read-copy-update with quiescent points at burst
// boundaries.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/wire/address.h"

namespace linetime::dataplane {

struct AddressSet {
  std::vector<wire::Ipv4Address> ipv4;
  std::vector<wire::Ipv6Address> ipv6;

  bool has(wire::Ipv4Address a) const { return std::ranges::find(ipv4, a) != ipv4.end(); }  // in line: per request
  bool has(const wire::Ipv6Address& a) const;
  // Adds `a` unless it is already there.
  void add(wire::Ipv4Address a);
  void add(const wire::Ipv6Address& a);
  bool operator==(const AddressSet&) const = default;
};

class AddressPublisher {
 public:
  // `readers` lcores will follow the sets (at most kMaxReaders); `initial` is
  // published at epoch 1.
  static constexpr unsigned kMaxReaders = 32;
  AddressPublisher(unsigned readers, AddressSet initial);
  ~AddressPublisher();
  AddressPublisher(const AddressPublisher&) = delete;
  AddressPublisher& operator=(const AddressPublisher&) = delete;

  // Writer (one thread). Makes `set` the current set at the next epoch and
  // retires the one it replaces; then frees what no reader can still use.
  void publish(AddressSet set);
  // Frees every retired set that all readers have moved past; returns how
  // many retired sets are still held.
  std::size_t reclaim();
  std::size_t retired() const { return retired_.size(); }
  // The writer's view of the current set.
  const AddressSet& current() const { return *current_.load(std::memory_order_relaxed); }
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }
  unsigned readers() const { return readers_; }

  // Reader `r`'s side, used through AddressReader: when the epoch moved past
  // `seen_epoch`, the current set (and the new epoch in `seen_epoch`,
  // acknowledged); otherwise `held`.
  const AddressSet* load(unsigned r, std::uint64_t& seen_epoch, const AddressSet* held) const {
    const std::uint64_t e = epoch_.load(std::memory_order_acquire);
    if (e == seen_epoch) return held;
    const AddressSet* s = current_.load(std::memory_order_acquire);
    // Release: everything this lcore did with `held` happens before the
    // writer sees the acknowledgment and frees it.
    acks_[r].epoch.store(e, std::memory_order_release);
    seen_epoch = e;
    return s;
  }

 private:
  struct alignas(64) Ack {
    std::atomic<std::uint64_t> epoch{0};
  };
  struct Retired {
    const AddressSet* set;
    std::uint64_t until_epoch;  // freeable once every reader acknowledged this epoch
  };

  unsigned readers_;
  std::unique_ptr<Ack[]> acks_;
  alignas(64) std::atomic<const AddressSet*> current_{nullptr};
  std::atomic<std::uint64_t> epoch_{0};
  std::vector<Retired> retired_;
};

// One lcore's handle on a publisher.
class AddressReader {
 public:
  AddressReader() = default;
  AddressReader(const AddressPublisher& publisher, unsigned reader) : publisher_(&publisher), reader_(reader) {}

  // At a quiescent point (no reference to an earlier set is held past it): the
  // current set when it changed since the last call, else nullptr.
  const AddressSet* changed() {
    if (publisher_ == nullptr) return nullptr;
    const AddressSet* before = set_;
    set_ = publisher_->load(reader_, seen_, set_);
    return set_ != before ? set_ : nullptr;
  }
  bool attached() const { return publisher_ != nullptr; }

 private:
  const AddressPublisher* publisher_ = nullptr;
  unsigned reader_ = 0;
  std::uint64_t seen_ = 0;
  const AddressSet* set_ = nullptr;
};

}  // namespace linetime::dataplane
