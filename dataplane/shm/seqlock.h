// A sequence lock for one writer and many readers in different processes.
//
// The writer (the control) bumps the sequence to odd, writes the value, bumps it
// to even. A reader copies the value between two reads of the sequence and
// retries when they differ or are odd, so it never returns a torn value. The
// value is stored as relaxed 64-bit atomic words, which keeps the concurrent
// copy free of data races in the C++ memory model and costs plain moves on x86.
// Readers never write to the lock's cache lines.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace linetime::shm {

template <class T>
class alignas(64) Seqlock {
  static_assert(std::is_trivially_copyable_v<T>);
  static constexpr std::size_t kWords = (sizeof(T) + 7) / 8;

 public:
  Seqlock() = default;
  Seqlock(const Seqlock&) = delete;
  Seqlock& operator=(const Seqlock&) = delete;

  // Single writer only. A writer that died inside store() leaves the
  // sequence odd; the next store() (by the restarted writer) repairs it.
  void store(const T& value) {
    std::uint64_t buf[kWords] = {};
    std::memcpy(buf, &value, sizeof(T));
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    const std::uint64_t writing = (s & 1) ? s : s + 1;
    seq_.store(writing, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
#pragma GCC unroll 16
    for (std::size_t i = 0; i < kWords; ++i) words_[i].store(buf[i], std::memory_order_relaxed);
    seq_.store(writing + 1, std::memory_order_release);
  }

  // Any number of readers. Copies a consistent value into `out` and returns
  // its version (even, > 0 once something was stored); returns 0 and leaves
  // `out` untouched when no consistent copy was had in `max_tries` attempts
  // (a store in progress, or a writer that died inside one), so the caller
  // keeps the copy it has and never blocks.
  std::uint64_t try_load(T& out, unsigned max_tries = 64) const {
    std::uint64_t buf[kWords];
    for (unsigned i = 0; i < max_tries; ++i) {
      const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
      if (s1 & 1) continue;
#pragma GCC unroll 16
      for (std::size_t w = 0; w < kWords; ++w) buf[w] = words_[w].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == s1) {
        if (s1 == 0) return 0;  // never stored
        // Word by word: one wide copy of the just-stored words would stall
        // on store forwarding.
        auto* dst = reinterpret_cast<unsigned char*>(&out);
#pragma GCC unroll 16
        for (std::size_t w = 0; w < kWords; ++w) {
          std::memcpy(dst + w * 8, &buf[w], w + 1 < kWords ? 8 : sizeof(T) - w * 8);
        }
        return s1;
      }
    }
    return 0;
  }

  // The version a load would read now; cheap check for "has it changed?".
  std::uint64_t version() const { return seq_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> words_[kWords] = {};
};

}  // namespace linetime::shm
