// The shared-memory segment between linetime-control and linetime-dataplane.
//
// One POSIX shared-memory object (mode 0600), created by whichever process
// starts first, with a fixed layout per ABI version:
//
//   header      magic, ABI version, sizes, region table, both sides' pid,
//               incarnation, heartbeat and readiness
//   state       ServerState seqlock            control writes, lcores read
//   upstream_tx UpstreamRequest ring           control -> the I/O lcore
//   completions TxCompletion ring              the I/O lcore -> control
//   upstream_rx UpstreamReply ring per lcore   each lcore -> control
//   counters    CounterBlock per lcore         each lcore writes its own
//   tables      double-buffered config tables  control writes, lcores read
//
// The creator initialises everything and stores the magic last, so the other
// side never maps a half-built segment. A side that attaches checks magic, ABI
// version and every size, and says which versions disagree. Nothing in here
// depends on DPDK: the control includes it as it is.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "dataplane/shm/counters.h"
#include "dataplane/shm/messages.h"
#include "dataplane/shm/ring.h"
#include "dataplane/shm/seqlock.h"
#include "dataplane/shm/server_state.h"
#include "dataplane/shm/tables.h"
#include "hwclock/expected.h"
#include "hwclock/time.h"

namespace linetime::shm {

inline constexpr std::uint64_t kMagic = 0x4C54494D45534547ULL;  // "LTIMESEG"
inline constexpr std::uint32_t kAbiVersion = 1;
inline constexpr std::uint32_t kMaxLcores = kMaxReaders;
inline constexpr std::uint32_t kUpstreamTxCapacity = 1024;
inline constexpr std::uint32_t kCompletionCapacity = 1024;
inline constexpr std::uint32_t kUpstreamRxCapacity = 256;   // per lcore
inline constexpr std::size_t kTableBytes = std::size_t{4} << 20;  // per buffer
inline constexpr const char* kDefaultName = "/linetime";

enum class RegionId : std::uint32_t { kState, kUpstreamTx, kCompletions, kUpstreamRx, kCounters, kTables, kCount };
inline constexpr std::size_t kRegionCount = static_cast<std::size_t>(RegionId::kCount);

struct RegionEntry {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

// What one side publishes about itself.
struct alignas(64) Party {
  std::atomic<std::int32_t> pid{0};
  std::atomic<std::uint32_t> incarnation{0};     // bumped at every attach
  std::atomic<std::int64_t> heartbeat_mono_ns{0};  // CLOCK_MONOTONIC of the last beat
  std::atomic<std::uint32_t> ready{0};           // dataplane: ports up and answering
  std::atomic<std::uint32_t> lcores{0};          // dataplane: lcores in use
};

struct SegmentHeader {
  std::atomic<std::uint64_t> magic{0};  // stored last by the creator
  std::uint32_t abi_version = 0;
  std::uint32_t header_bytes = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t generation = 0;  // creation time, UTC ns: tells recreations apart
  std::uint32_t max_lcores = 0;
  std::uint32_t reserved = 0;
  RegionEntry regions[kRegionCount];
  Party control;
  Party dataplane;
};

// The fixed layout of this ABI version.
struct Layout {
  RegionEntry regions[kRegionCount];
  std::uint64_t total_bytes = 0;
  static Layout current();
};

enum class Side { kControl, kDataplane, kObserver };

struct SegmentError {
  enum class Code { kNotFound, kPermission, kNotLinetime, kVersionMismatch, kLayoutMismatch, kNotInitialised, kSystem };
  Code code = Code::kSystem;
  std::string message;  // names the problem and the fix
};

struct OpenOptions {
  bool create = true;  // create the segment when it does not exist
  // How long to wait for a creator that is still initialising the segment.
  hwclock::Duration init_wait = hwclock::Duration::from_s(2);
  // Replace a segment of another ABI version when no process that uses it is
  // alive (a leftover of an older release); otherwise it is an error.
  bool replace_stale = true;
};

class Segment {
 public:
  static Expected<Segment, SegmentError> open(const std::string& name, Side side, const OpenOptions& options = {});
  // Removes the object name; processes that have it mapped keep their mapping.
  static bool unlink(const std::string& name);

  Segment() = default;
  Segment(Segment&& o) noexcept;
  Segment& operator=(Segment&& o) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  const std::string& name() const { return name_; }
  bool created() const { return created_; }
  Side side() const { return side_; }

  SegmentHeader& header() const { return *static_cast<SegmentHeader*>(base_); }
  Party& party(Side s) const { return s == Side::kControl ? header().control : header().dataplane; }
  Party& self() const { return party(side_); }
  Party& peer() const { return party(side_ == Side::kControl ? Side::kDataplane : Side::kControl); }

  // Records a heartbeat of this side.
  void heartbeat(hwclock::MonoTime now) const {
    self().heartbeat_mono_ns.store(now.ticks(), std::memory_order_release);
  }
  // Whether the other side's process exists and has beaten within `max_age`.
  bool peer_alive(hwclock::MonoTime now, hwclock::Duration max_age) const;

  Seqlock<ServerState>& server_state() const { return *region<Seqlock<ServerState>>(RegionId::kState); }
  RingControl* upstream_tx() const { return region<RingControl>(RegionId::kUpstreamTx); }
  RingControl* completions() const { return region<RingControl>(RegionId::kCompletions); }
  RingControl* upstream_rx(std::uint32_t lcore) const;
  CounterBlock* counters() const { return region<CounterBlock>(RegionId::kCounters); }
  TableControl* tables() const { return region<TableControl>(RegionId::kTables); }

  // Discards what the other side queued for this side before this side
  // (re)attached: replies and completions for a control, requests for a
  // dataplane. Returns how many messages were dropped.
  std::uint64_t drain_stale() const;

 private:
  template <class T>
  T* region(RegionId id) const {
    return reinterpret_cast<T*>(static_cast<std::uint8_t*>(base_) + header().regions[static_cast<std::size_t>(id)].offset);
  }
  void release();

  std::string name_;
  Side side_ = Side::kObserver;
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
  bool created_ = false;
};

// Whether a process with this pid exists (it may belong to another user).
bool process_alive(std::int32_t pid);

}  // namespace linetime::shm
