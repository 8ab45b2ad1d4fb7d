// The dataplane's view of the server state: each lcore keeps a copy, refreshed
// once per burst from the seqlock (two atomic loads when nothing changed), and
// applies the holdover rule of server_state.h from the control's heartbeat.
// Never blocks: when the control is in the middle of a store (or died in one)
// the lcore keeps serving the copy it has.
#pragma once

#include <cstdint>

#include "dataplane/shm/segment.h"
#include "dataplane/shm/seqlock.h"
#include "dataplane/shm/server_state.h"
#include "hwclock/time.h"

namespace linetime::shm {

class StateReader {
 public:
  enum class Change { kNone, kUpdated, kEnteredHoldover, kLeftHoldover };

  StateReader(const Seqlock<ServerState>& lock, const Party& control, hwclock::Duration holdover)
      : lock_(&lock), control_(&control), holdover_ns_(holdover.ns()) {}

  // Once per burst. kUpdated when a new state was published; the holdover
  // transitions are reported so the caller can log why it serves what it does.
  Change refresh(hwclock::MonoTime now) {
    Change change = Change::kNone;
    const std::uint64_t v = lock_->version();
    if (v != version_ && (v & 1) == 0) {
      const std::uint64_t got = lock_->try_load(published_);
      if (got != 0) {
        version_ = got;
        change = Change::kUpdated;
      }
    }
    const std::int64_t beat = control_->heartbeat_mono_ns.load(std::memory_order_acquire);
    const bool silent = beat == 0 || now.ticks() - beat > holdover_ns_;
    if (silent != silent_) {
      silent_ = silent;
      change = silent ? Change::kEnteredHoldover : Change::kLeftHoldover;
    }
    if (change != Change::kNone) served_ = served_state(published_, silent_);
    return change;
  }

  const ServerState& served() const { return served_; }
  const ServerState& published() const { return published_; }
  bool control_silent() const { return silent_; }
  std::uint64_t version() const { return version_; }

 private:
  const Seqlock<ServerState>* lock_;
  const Party* control_;
  std::int64_t holdover_ns_;
  std::uint64_t version_ = 0;
  bool silent_ = true;
  ServerState published_{};
  ServerState served_{};
};

}  // namespace linetime::shm
