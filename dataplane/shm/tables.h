// Double-buffered configuration tables (access-control rules, rate limits) that
// the control changes at run time and every dataplane lcore reads once per burst.
//
// The writer fills the buffer no reader can be using and publishes it by
// bumping the generation; generation g lives in buffer g & 1. Each reader slot
// acknowledges the generation it has switched to, and the writer overwrites a
// buffer only after every active reader has acknowledged the generation that
// replaced it, so a reader never sees a table change under its feet.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace linetime::shm {

inline constexpr std::size_t kMaxReaders = 32;

struct alignas(64) TableControl {
  std::atomic<std::uint64_t> generation{0};  // 0: nothing published yet
  std::atomic<std::uint64_t> length[2] = {};
  std::uint64_t buffer_bytes = 0;
  alignas(64) std::atomic<std::uint64_t> acked[kMaxReaders] = {};
};

class TableRegion {
 public:
  static constexpr std::size_t bytes_for(std::size_t buffer_bytes) { return sizeof(TableControl) + 2 * buffer_bytes; }
  static TableControl* init(void* mem, std::size_t buffer_bytes) {
    auto* ctl = new (mem) TableControl();
    ctl->buffer_bytes = buffer_bytes;
    return ctl;
  }

  TableRegion() = default;
  explicit TableRegion(TableControl* ctl) : ctl_(ctl) {}

  enum class Publish { kDone, kBusy, kTooLarge };

  // Writer: publishes `table` as the next generation. kBusy when a reader in
  // `active_readers` (a bit per reader slot) still uses the buffer it would
  // overwrite: retry after the readers' next burst.
  Publish publish(std::span<const std::uint8_t> table, std::uint64_t active_readers) {
    if (table.size() > ctl_->buffer_bytes) return Publish::kTooLarge;
    const std::uint64_t g = ctl_->generation.load(std::memory_order_relaxed);
    for (std::size_t r = 0; r < kMaxReaders; ++r) {
      if ((active_readers >> r & 1) && g != 0 && ctl_->acked[r].load(std::memory_order_acquire) != g) return Publish::kBusy;
    }
    const std::uint64_t next = g + 1;
    std::memcpy(buffer(next & 1), table.data(), table.size());
    ctl_->length[next & 1].store(table.size(), std::memory_order_relaxed);
    ctl_->generation.store(next, std::memory_order_release);
    return Publish::kDone;
  }

  struct View {
    std::uint64_t generation = 0;
    std::span<const std::uint8_t> table;
  };

  // Reader slot `r`: switches to the newest table and acknowledges it.
  View acquire(std::size_t r) {
    const std::uint64_t g = ctl_->generation.load(std::memory_order_acquire);
    if (ctl_->acked[r].load(std::memory_order_relaxed) != g) ctl_->acked[r].store(g, std::memory_order_release);
    if (g == 0) return {};
    return {g, {buffer(g & 1), ctl_->length[g & 1].load(std::memory_order_relaxed)}};
  }

 private:
  std::uint8_t* buffer(std::uint64_t which) const {
    return reinterpret_cast<std::uint8_t*>(ctl_) + sizeof(TableControl) + which * ctl_->buffer_bytes;
  }
  TableControl* ctl_ = nullptr;
};

}  // namespace linetime::shm
