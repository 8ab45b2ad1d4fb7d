// Publication of an immutable object (the access list) from the main lcore to
// the worker lcores without a lock on the fast path, as AddressPublisher
// (address_set.h) does for address sets: the writer swaps a pointer and bumps
// an epoch; each reader looks at the epoch once per burst and acknowledges the
// one it saw in its own cache line; a replaced object is destroyed only once
// every reader has acknowledged an epoch at or after its replacement.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace linetime::dataplane {

template <class T>
class EpochPublisher {
 public:
  static constexpr unsigned kMaxReaders = 32;
  // `initial` (not null) is published at epoch 1.
  EpochPublisher(unsigned readers, std::unique_ptr<const T> initial)
      : readers_(readers), acks_(std::make_unique<Ack[]>(readers == 0 ? 1 : readers)) {
    if (readers > kMaxReaders) throw std::invalid_argument("at most 32 lcores can follow a published table");
    current_.store(initial.release(), std::memory_order_relaxed);
    epoch_.store(1, std::memory_order_release);
  }
  ~EpochPublisher() {
    for (const Retired& r : retired_) delete r.object;
    delete current_.load(std::memory_order_relaxed);
  }
  EpochPublisher(const EpochPublisher&) = delete;
  EpochPublisher& operator=(const EpochPublisher&) = delete;

  // Writer (one thread): makes `next` current and retires the one it
  // replaces, then frees what no reader can still use.
  void publish(std::unique_ptr<const T> next) {
    const T* old = current_.load(std::memory_order_relaxed);
    const std::uint64_t e = epoch_.load(std::memory_order_relaxed) + 1;
    current_.store(next.release(), std::memory_order_release);
    epoch_.store(e, std::memory_order_release);
    retired_.push_back(Retired{old, e});
    reclaim();
  }
  // Frees the retired objects every reader has moved past; returns how many
  // are still held.
  std::size_t reclaim() {
    std::uint64_t oldest = epoch_.load(std::memory_order_relaxed);
    for (unsigned r = 0; r < readers_; ++r) oldest = std::min(oldest, acks_[r].epoch.load(std::memory_order_acquire));
    std::erase_if(retired_, [oldest](const Retired& r) {
      if (r.until_epoch > oldest) return false;
      delete r.object;
      return true;
    });
    return retired_.size();
  }
  const T& current() const { return *current_.load(std::memory_order_relaxed); }
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }

  // Reader `r`: the current object when the epoch moved past `seen`
  // (acknowledging it), otherwise `held`.
  const T* load(unsigned r, std::uint64_t& seen, const T* held) const {
    const std::uint64_t e = epoch_.load(std::memory_order_acquire);
    if (e == seen) return held;
    const T* now = current_.load(std::memory_order_acquire);
    acks_[r].epoch.store(e, std::memory_order_release);
    seen = e;
    return now;
  }

 private:
  struct alignas(64) Ack {
    std::atomic<std::uint64_t> epoch{0};
  };
  struct Retired {
    const T* object;
    std::uint64_t until_epoch;
  };
  unsigned readers_;
  std::unique_ptr<Ack[]> acks_;
  alignas(64) std::atomic<const T*> current_{nullptr};
  std::atomic<std::uint64_t> epoch_{0};
  std::vector<Retired> retired_;
};

// One lcore's handle on a publisher.
template <class T>
class EpochReader {
 public:
  EpochReader() = default;
  EpochReader(const EpochPublisher<T>& publisher, unsigned reader) : publisher_(&publisher), reader_(reader) {}
  // At a quiescent point: the current object when it changed since the last
  // call, else nullptr.
  const T* changed() {
    if (publisher_ == nullptr) return nullptr;
    const T* before = object_;
    object_ = publisher_->load(reader_, seen_, object_);
    return object_ != before ? object_ : nullptr;
  }

 private:
  const EpochPublisher<T>* publisher_ = nullptr;
  unsigned reader_ = 0;
  std::uint64_t seen_ = 0;
  const T* object_ = nullptr;
};

}  // namespace linetime::dataplane
