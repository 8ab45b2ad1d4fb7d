// A single-producer single-consumer ring of fixed-size messages in shared memory.
//
// The ring's control block and slots live in the segment; each side holds a
// process-local handle (RingProducer or RingConsumer) with its own cached copy
// of the other side's index, so the common case touches no shared cache line
// but the slot. Messages are written in place (claim, fill, publish) and read in
// place (peek, use, pop): one copy from the packet into the slot, none out.
//
// Crash safety: a message becomes visible only when the producer publishes it
// (a release store of the head), so a producer killed while filling a slot
// leaves nothing half-written behind. A restarted side rebuilds its handle from
// the indices in shared memory. Indices that are impossible (the consumer ahead
// of the producer, or more than a ring apart: only a corrupted or foreign
// segment does that) make the consumer resynchronise and count it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace linetime::shm {

struct alignas(64) RingControl {
  alignas(64) std::atomic<std::uint64_t> head{0};     // next slot to publish: producer writes
  alignas(64) std::atomic<std::uint64_t> dropped{0};  // full-ring drops: producer writes
  alignas(64) std::atomic<std::uint64_t> tail{0};     // next slot to read: consumer writes
  std::atomic<std::uint64_t> resyncs{0};              // impossible indices seen: consumer writes
  alignas(64) std::uint32_t capacity = 0;             // power of two
  std::uint32_t slot_size = 0;
};

template <class M>
struct RingLayout {
  static_assert(std::is_trivially_copyable_v<M>);
  static_assert(alignof(M) <= 64);

  static constexpr bool valid_capacity(std::uint32_t n) { return n >= 2 && (n & (n - 1)) == 0; }
  static constexpr std::size_t bytes_for(std::uint32_t capacity) {
    return sizeof(RingControl) + std::size_t{capacity} * sizeof(M);
  }
  // Placement-initialises an empty ring in `mem` (64-byte aligned).
  static RingControl* init(void* mem, std::uint32_t capacity) {
    auto* ctl = new (mem) RingControl();
    ctl->capacity = capacity;
    ctl->slot_size = sizeof(M);
    return ctl;
  }
  static M* slots(RingControl* ctl) { return reinterpret_cast<M*>(reinterpret_cast<std::uint8_t*>(ctl) + sizeof(RingControl)); }
};

template <class M>
class RingProducer {
 public:
  RingProducer() = default;
  explicit RingProducer(RingControl* ctl)
      : ctl_(ctl), slots_(RingLayout<M>::slots(ctl)), mask_(ctl->capacity - 1),
        head_(ctl->head.load(std::memory_order_relaxed)), cached_tail_(ctl->tail.load(std::memory_order_acquire)) {}

  // A slot to fill, or nullptr when the ring is full (counted as a drop). The
  // slot is not visible until publish(); claiming again without publishing
  // returns the next slot.
  M* claim() {
    if (head_ + claimed_ - cached_tail_ > mask_) {
      cached_tail_ = ctl_->tail.load(std::memory_order_acquire);
      if (head_ + claimed_ - cached_tail_ > mask_) {
        ctl_->dropped.store(ctl_->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    return &slots_[(head_ + claimed_++) & mask_];
  }

  // Makes every claimed slot visible to the consumer, in claim order.
  void publish() {
    if (claimed_ == 0) return;
    head_ += claimed_;
    claimed_ = 0;
    ctl_->head.store(head_, std::memory_order_release);
  }

  bool push(const M& m) {
    M* slot = claim();
    if (slot == nullptr) return false;
    *slot = m;
    publish();
    return true;
  }

  std::uint64_t dropped() const { return ctl_->dropped.load(std::memory_order_relaxed); }
  std::uint32_t capacity() const { return mask_ + 1; }

 private:
  RingControl* ctl_ = nullptr;
  M* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t claimed_ = 0;
  std::uint64_t cached_tail_ = 0;
};

template <class M>
class RingConsumer {
 public:
  RingConsumer() = default;
  explicit RingConsumer(RingControl* ctl)
      : ctl_(ctl), slots_(RingLayout<M>::slots(ctl)), mask_(ctl->capacity - 1),
        tail_(ctl->tail.load(std::memory_order_relaxed)), cached_head_(ctl->head.load(std::memory_order_acquire)) {}

  // Number of messages ready to read.
  std::uint64_t available() {
    if (cached_head_ == tail_) cached_head_ = ctl_->head.load(std::memory_order_acquire);
    const std::uint64_t n = cached_head_ - tail_;
    if (n > mask_ + 1) {  // impossible: resynchronise rather than read garbage
      ctl_->resyncs.store(ctl_->resyncs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      tail_ = cached_head_;
      ctl_->tail.store(tail_, std::memory_order_release);
      return 0;
    }
    return n;
  }

  // The i-th unread message (i < available()), valid until pop().
  const M* peek(std::uint64_t i = 0) const { return &slots_[(tail_ + i) & mask_]; }

  // Releases the first n messages back to the producer.
  void pop(std::uint64_t n = 1) {
    tail_ += n;
    ctl_->tail.store(tail_, std::memory_order_release);
  }

  bool pop_into(M& out) {
    if (available() == 0) return false;
    out = *peek();
    pop();
    return true;
  }

  // Discards everything published so far (stale entries after a restart);
  // returns how many were dropped.
  std::uint64_t drain() {
    cached_head_ = ctl_->head.load(std::memory_order_acquire);
    const std::uint64_t n = cached_head_ - tail_;
    tail_ = cached_head_;
    ctl_->tail.store(tail_, std::memory_order_release);
    return n;
  }

  std::uint64_t resyncs() const { return ctl_->resyncs.load(std::memory_order_relaxed); }

 private:
  RingControl* ctl_ = nullptr;
  const M* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t tail_ = 0;
  std::uint64_t cached_head_ = 0;
};

}  // namespace linetime::shm
