#include "dataplane/shm/segment.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace linetime::shm {

namespace {

constexpr std::size_t kPage = 4096;

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return ts.tv_sec * hwclock::kNsPerSec + ts.tv_nsec;
}

SegmentError error(SegmentError::Code code, std::string message) { return SegmentError{code, std::move(message)}; }

std::string sys(const std::string& name, const char* what) {
  return "shared memory " + name + ": " + what + ": " + std::strerror(errno);
}

void initialise(void* base, const Layout& layout) {
  auto* h = new (base) SegmentHeader();
  h->abi_version = kAbiVersion;
  h->header_bytes = sizeof(SegmentHeader);
  h->total_bytes = layout.total_bytes;
  h->generation = static_cast<std::uint64_t>(now_ns(CLOCK_REALTIME));
  h->max_lcores = kMaxLcores;
  for (std::size_t i = 0; i < kRegionCount; ++i) h->regions[i] = layout.regions[i];

  auto at = [&](RegionId id) { return static_cast<std::uint8_t*>(base) + layout.regions[static_cast<std::size_t>(id)].offset; };
  new (at(RegionId::kState)) Seqlock<ServerState>();
  RingLayout<UpstreamRequest>::init(at(RegionId::kUpstreamTx), kUpstreamTxCapacity);
  RingLayout<TxCompletion>::init(at(RegionId::kCompletions), kCompletionCapacity);
  const std::size_t rx_bytes = RingLayout<UpstreamReply>::bytes_for(kUpstreamRxCapacity);
  for (std::uint32_t l = 0; l < kMaxLcores; ++l) RingLayout<UpstreamReply>::init(at(RegionId::kUpstreamRx) + l * rx_bytes, kUpstreamRxCapacity);
  new (at(RegionId::kCounters)) CounterBlock[kMaxLcores];
  TableRegion::init(at(RegionId::kTables), kTableBytes);
  h->magic.store(kMagic, std::memory_order_release);
}

// Why a segment does not match this build; an empty message when it matches.
SegmentError mismatch(const SegmentHeader& h, const std::string& name) {
  const Layout want = Layout::current();
  if (h.abi_version != kAbiVersion) {
    return error(SegmentError::Code::kVersionMismatch,
                 "shared memory " + name + " speaks ABI version " + std::to_string(h.abi_version) +
                     ", this build speaks " + std::to_string(kAbiVersion) +
                     ": run control and dataplane from the same release");
  }
  bool same = h.header_bytes == sizeof(SegmentHeader) && h.total_bytes == want.total_bytes && h.max_lcores == kMaxLcores;
  for (std::size_t i = 0; same && i < kRegionCount; ++i) {
    same = h.regions[i].offset == want.regions[i].offset && h.regions[i].bytes == want.regions[i].bytes;
  }
  if (!same) {
    return error(SegmentError::Code::kLayoutMismatch,
                 "shared memory " + name + " has ABI version " + std::to_string(kAbiVersion) +
                     " but a different layout (" + std::to_string(h.total_bytes) + " bytes, this build expects " +
                     std::to_string(want.total_bytes) + "): run control and dataplane built from the same source");
  }
  return {};
}

bool anyone_alive(const SegmentHeader& h) {
  return process_alive(h.control.pid.load()) || process_alive(h.dataplane.pid.load());
}

}  // namespace

bool process_alive(std::int32_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

Layout Layout::current() {
  Layout l;
  std::uint64_t off = align_up(sizeof(SegmentHeader), kPage);
  auto add = [&](RegionId id, std::uint64_t bytes) {
    l.regions[static_cast<std::size_t>(id)] = RegionEntry{off, bytes};
    off = align_up(off + bytes, kPage);
  };
  add(RegionId::kState, sizeof(Seqlock<ServerState>));
  add(RegionId::kUpstreamTx, RingLayout<UpstreamRequest>::bytes_for(kUpstreamTxCapacity));
  add(RegionId::kCompletions, RingLayout<TxCompletion>::bytes_for(kCompletionCapacity));
  add(RegionId::kUpstreamRx, std::uint64_t{kMaxLcores} * RingLayout<UpstreamReply>::bytes_for(kUpstreamRxCapacity));
  add(RegionId::kCounters, std::uint64_t{kMaxLcores} * sizeof(CounterBlock));
  add(RegionId::kTables, TableRegion::bytes_for(kTableBytes));
  l.total_bytes = off;
  return l;
}

Expected<Segment, SegmentError> Segment::open(const std::string& name, Side side, const OpenOptions& options) {
  using Code = SegmentError::Code;
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos) {
    return unexpected(error(Code::kSystem, "shared memory name '" + name + "' must be one '/' followed by a name, e.g. /linetime"));
  }
  const Layout layout = Layout::current();
  const bool writable = side != Side::kObserver;
  const bool may_create = options.create && writable;

  for (int attempt = 0; attempt < 2; ++attempt) {
    Segment seg;
    seg.name_ = name;
    seg.side_ = side;
    int fd = -1;
    if (may_create) {
      fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
      if (fd >= 0) {
        seg.created_ = true;
      } else if (errno != EEXIST) {
        return unexpected(error(errno == EACCES ? Code::kPermission : Code::kSystem,
                                sys(name, "cannot create") + " (is /dev/shm mounted and writable?)"));
      }
    }
    if (fd < 0) {
      fd = ::shm_open(name.c_str(), writable ? O_RDWR : O_RDONLY, 0);
      if (fd < 0) {
        if (errno == ENOENT) {
          return unexpected(error(Code::kNotFound, "shared memory " + name +
                                                       " does not exist: start linetime-dataplane or linetime-control first"));
        }
        if (errno == EACCES) {
          return unexpected(error(Code::kPermission, sys(name, "cannot open") +
                                                         " (run as the user that owns it, see ls -l /dev/shm)"));
        }
        return unexpected(error(Code::kSystem, sys(name, "cannot open")));
      }
    }

    if (seg.created_) {
      ::fchmod(fd, 0600);  // whatever the umask
      if (::ftruncate(fd, static_cast<off_t>(layout.total_bytes)) != 0) {
        const std::string msg = sys(name, "cannot size") + " (is /dev/shm full?)";
        ::close(fd);
        ::shm_unlink(name.c_str());
        return unexpected(error(Code::kSystem, msg));
      }
    } else {
      // The creator may still be sizing it.
      struct stat st{};
      const std::int64_t deadline = now_ns(CLOCK_MONOTONIC) + options.init_wait.ns();
      while (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) < sizeof(SegmentHeader) &&
             now_ns(CLOCK_MONOTONIC) < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (static_cast<std::size_t>(st.st_size) < sizeof(SegmentHeader)) {
        ::close(fd);
        return unexpected(error(Code::kNotInitialised, "shared memory " + name + " is " + std::to_string(st.st_size) +
                                                           " bytes, too small to be a linetime segment: remove /dev/shm" +
                                                           name + " if no linetime process runs"));
      }
      seg.bytes_ = static_cast<std::size_t>(st.st_size);
    }
    if (seg.created_) seg.bytes_ = layout.total_bytes;

    seg.base_ = ::mmap(nullptr, seg.bytes_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (seg.base_ == MAP_FAILED) {
      seg.base_ = nullptr;
      return unexpected(error(Code::kSystem, sys(name, "cannot map")));
    }

    if (seg.created_) {
      initialise(seg.base_, layout);
    } else {
      const std::int64_t deadline = now_ns(CLOCK_MONOTONIC) + options.init_wait.ns();
      while (seg.header().magic.load(std::memory_order_acquire) == 0 && now_ns(CLOCK_MONOTONIC) < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      const std::uint64_t magic = seg.header().magic.load(std::memory_order_acquire);
      SegmentError why;
      if (magic == 0) {
        why = error(Code::kNotInitialised, "shared memory " + name +
                                               " was never initialised (its creator died while building it): remove"
                                               " /dev/shm" + name + " if no linetime process runs");
      } else if (magic != kMagic) {
        why = error(Code::kNotLinetime,
                    "shared memory " + name + " is not a linetime segment: choose another name or remove /dev/shm" + name);
      } else {
        why = mismatch(seg.header(), name);
        if (why.message.empty() && seg.bytes_ < layout.total_bytes) {
          why = error(Code::kLayoutMismatch, "shared memory " + name + " is " + std::to_string(seg.bytes_) +
                                                 " bytes, its header says " + std::to_string(layout.total_bytes) +
                                                 ": it was truncated; remove /dev/shm" + name + " and restart both sides");
        }
      }
      if (!why.message.empty()) {
        // A leftover nobody uses any more (an older release, a creator that
        // died half-way) is replaced; one in use by a live process is not.
        const bool stale = why.code == Code::kNotInitialised ||
                           (why.code != Code::kNotLinetime && !anyone_alive(seg.header()));
        if (stale && options.replace_stale && may_create && attempt == 0) {
          seg.release();
          ::shm_unlink(name.c_str());
          continue;  // recreate it
        }
        return unexpected(why);
      }
    }

    if (writable) {
      Party& me = seg.self();
      me.pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
      me.incarnation.fetch_add(1, std::memory_order_relaxed);
      seg.heartbeat(hwclock::MonoTime(now_ns(CLOCK_MONOTONIC)));
    }
    return seg;
  }
  return unexpected(error(Code::kSystem, "shared memory " + name + ": could not be recreated"));
}

bool Segment::unlink(const std::string& name) { return ::shm_unlink(name.c_str()) == 0; }

Segment::Segment(Segment&& o) noexcept { *this = std::move(o); }

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    release();
    name_ = std::move(o.name_);
    side_ = o.side_;
    base_ = std::exchange(o.base_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    created_ = o.created_;
  }
  return *this;
}

Segment::~Segment() { release(); }

void Segment::release() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
  base_ = nullptr;
  bytes_ = 0;
}

bool Segment::peer_alive(hwclock::MonoTime now, hwclock::Duration max_age) const {
  const Party& p = peer();
  if (!process_alive(p.pid.load(std::memory_order_relaxed))) return false;
  return now.ticks() - p.heartbeat_mono_ns.load(std::memory_order_acquire) <= max_age.ns();
}

RingControl* Segment::upstream_rx(std::uint32_t lcore) const {
  const std::size_t rx_bytes = RingLayout<UpstreamReply>::bytes_for(kUpstreamRxCapacity);
  return reinterpret_cast<RingControl*>(reinterpret_cast<std::uint8_t*>(region<RingControl>(RegionId::kUpstreamRx)) +
                                        lcore * rx_bytes);
}

std::uint64_t Segment::drain_stale() const {
  std::uint64_t n = 0;
  if (side_ == Side::kControl) {
    n += RingConsumer<TxCompletion>(completions()).drain();
    for (std::uint32_t l = 0; l < kMaxLcores; ++l) n += RingConsumer<UpstreamReply>(upstream_rx(l)).drain();
  } else if (side_ == Side::kDataplane) {
    n += RingConsumer<UpstreamRequest>(upstream_tx()).drain();
  }
  return n;
}

}  // namespace linetime::shm
