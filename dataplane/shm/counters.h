// Per-lcore counter blocks. Each dataplane lcore writes only its own block
// (plain load + store, no locked instruction); readers (the control,
// linetimectl) sum across blocks and never reset anything. Counters survive a
// dataplane restart because they live in the segment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace linetime::shm {

inline constexpr std::size_t kCounterSlots = 128;

struct alignas(64) CounterBlock {
  std::atomic<std::uint64_t> v[kCounterSlots] = {};

  // Single writer (the owning lcore) only.
  void add(std::size_t i, std::uint64_t n = 1) {
    v[i].store(v[i].load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get(std::size_t i) const { return v[i].load(std::memory_order_relaxed); }
};

inline std::uint64_t sum(const CounterBlock* blocks, std::size_t count, std::size_t i) {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b < count; ++b) total += blocks[b].get(i);
  return total;
}

}  // namespace linetime::shm
