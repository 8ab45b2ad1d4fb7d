// In-process tests of the shared-memory pieces: seqlock, rings, tables,
// segment creation and validation, and the holdover rule.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/shm/segment.h"
#include "dataplane/shm/state_reader.h"
#include "tests/unit/shm/shm_test_util.h"

using namespace linetime;
using namespace linetime::shm;
using hwclock::Duration;
using hwclock::MonoTime;

TEST(Seqlock, StoresAndLoads) {
  Seqlock<ServerState> lock;
  ServerState out;
  out.stratum = 99;
  EXPECT_EQ(lock.try_load(out), 0u) << "nothing stored yet";
  EXPECT_EQ(out.stratum, 99);
  lock.store(test::state_for(7));
  ASSERT_EQ(lock.try_load(out), 2u);
  EXPECT_TRUE(test::consistent(out));
  EXPECT_EQ(out.reference_time_ns, 7);
}

TEST(Seqlock, WriterThatDiedMidStoreIsRepairedAndNeverBlocksReaders) {
  Seqlock<ServerState> lock;
  lock.store(test::state_for(1));
  // A writer killed between its two sequence stores leaves the sequence odd.
  auto* seq = reinterpret_cast<std::atomic<std::uint64_t>*>(&lock);
  seq->store(3);
  ServerState out = test::state_for(1);
  EXPECT_EQ(lock.try_load(out, 1000), 0u);  // gives up, keeps its copy
  EXPECT_EQ(out.reference_time_ns, 1);
  lock.store(test::state_for(2));  // the restarted writer
  EXPECT_EQ(lock.version() % 2, 0u);
  ASSERT_NE(lock.try_load(out), 0u);
  EXPECT_EQ(out.reference_time_ns, 2);
}

TEST(Seqlock, NoTornReadsAgainstAFullSpeedWriterThread) {
  Seqlock<ServerState> lock;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::int64_t k = 1; !stop.load(std::memory_order_relaxed); ++k) lock.store(test::state_for(k));
  });
  std::int64_t last = 0, reads = 0, torn = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) {
    ServerState s;
    if (lock.try_load(s) == 0) continue;
    ++reads;
    if (!test::consistent(s) || s.reference_time_ns < last) ++torn;
    last = s.reference_time_ns;
  }
  stop = true;
  writer.join();
  EXPECT_GT(reads, 1000);
  EXPECT_EQ(torn, 0);
}

TEST(Ring, FifoFullAndDrops) {
  std::vector<std::uint8_t> mem(RingLayout<TxCompletion>::bytes_for(4) + 64);
  void* aligned = mem.data() + (64 - reinterpret_cast<std::uintptr_t>(mem.data()) % 64) % 64;
  RingControl* ctl = RingLayout<TxCompletion>::init(aligned, 4);
  RingProducer<TxCompletion> p(ctl);
  RingConsumer<TxCompletion> c(ctl);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(p.push(TxCompletion{i, 0, TimestampSource::kSoftware, {}}));
  EXPECT_FALSE(p.push(TxCompletion{99, 0, {}, {}}));
  EXPECT_EQ(p.dropped(), 1u);
  ASSERT_EQ(c.available(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i) {
    TxCompletion m;
    ASSERT_TRUE(c.pop_into(m));
    EXPECT_EQ(m.cookie, i);
  }
  EXPECT_EQ(c.available(), 0u);
  // Wraps around.
  for (std::uint64_t i = 10; i < 13; ++i) EXPECT_TRUE(p.push(TxCompletion{i, 0, {}, {}}));
  EXPECT_EQ(c.available(), 3u);
  EXPECT_EQ(c.peek(2)->cookie, 12u);
}

TEST(Ring, ClaimedSlotsInvisibleUntilPublished) {
  std::vector<std::uint8_t> mem(RingLayout<TxCompletion>::bytes_for(8) + 64);
  void* aligned = mem.data() + (64 - reinterpret_cast<std::uintptr_t>(mem.data()) % 64) % 64;
  RingControl* ctl = RingLayout<TxCompletion>::init(aligned, 8);
  RingProducer<TxCompletion> p(ctl);
  RingConsumer<TxCompletion> c(ctl);
  p.claim()->cookie = 1;
  p.claim()->cookie = 2;
  EXPECT_EQ(c.available(), 0u);
  p.publish();
  EXPECT_EQ(c.available(), 2u);
  // A producer that dies after claiming publishes nothing; its successor
  // rebuilds from the shared indices and overwrites the unpublished slot.
  { RingProducer<TxCompletion> dying(ctl); dying.claim()->cookie = 666; }
  RingProducer<TxCompletion> next(ctl);
  next.claim()->cookie = 3;
  next.publish();
  c.pop(2);
  ASSERT_EQ(c.available(), 1u);
  EXPECT_EQ(c.peek()->cookie, 3u);
}

TEST(Ring, ConsumerResynchronisesOnImpossibleIndices) {
  std::vector<std::uint8_t> mem(RingLayout<TxCompletion>::bytes_for(4) + 64);
  void* aligned = mem.data() + (64 - reinterpret_cast<std::uintptr_t>(mem.data()) % 64) % 64;
  RingControl* ctl = RingLayout<TxCompletion>::init(aligned, 4);
  ctl->head.store(1000);  // corrupted: 1000 messages in a 4-slot ring
  RingConsumer<TxCompletion> c(ctl);
  EXPECT_EQ(c.available(), 0u);
  EXPECT_EQ(c.resyncs(), 1u);
  RingProducer<TxCompletion> p(ctl);
  EXPECT_TRUE(p.push(TxCompletion{5, 0, {}, {}}));
  EXPECT_EQ(c.available(), 1u);
}

TEST(Tables, DoubleBufferWaitsForReaders) {
  std::vector<std::uint8_t> mem(TableRegion::bytes_for(64) + 64);
  void* aligned = mem.data() + (64 - reinterpret_cast<std::uintptr_t>(mem.data()) % 64) % 64;
  TableRegion t(TableRegion::init(aligned, 64));
  const std::uint64_t readers = 0b11;
  EXPECT_EQ(t.acquire(0).generation, 0u);
  const std::uint8_t a[] = {1, 2, 3};
  const std::uint8_t b[] = {4, 5};
  const std::uint8_t big[65] = {};
  EXPECT_EQ(t.publish(big, readers), TableRegion::Publish::kTooLarge);
  ASSERT_EQ(t.publish(a, readers), TableRegion::Publish::kDone);
  // Readers have not switched to generation 1 yet: generation 2 must wait.
  EXPECT_EQ(t.publish(b, readers), TableRegion::Publish::kBusy);
  const auto v0 = t.acquire(0);
  EXPECT_EQ(v0.generation, 1u);
  ASSERT_EQ(v0.table.size(), 3u);
  EXPECT_EQ(v0.table[2], 3);
  EXPECT_EQ(t.publish(b, readers), TableRegion::Publish::kBusy);  // reader 1 still behind
  t.acquire(1);
  ASSERT_EQ(t.publish(b, readers), TableRegion::Publish::kDone);
  EXPECT_EQ(v0.table[2], 3) << "the buffer reader 0 holds is untouched";
  const auto v1 = t.acquire(1);
  EXPECT_EQ(v1.generation, 2u);
  ASSERT_EQ(v1.table.size(), 2u);
  EXPECT_EQ(v1.table[0], 4);
  // No active readers (dataplane gone): publishing never waits.
  EXPECT_EQ(t.publish(a, 0), TableRegion::Publish::kDone);
}

TEST(Segment, CreateAttachAndShareState) {
  test::ShmName name;
  auto control = Segment::open(name.str(), Side::kControl);
  ASSERT_TRUE(control) << control.error().message;
  EXPECT_TRUE(control->created());
  EXPECT_EQ(control->header().abi_version, kAbiVersion);
  EXPECT_EQ(control->self().pid.load(), getpid());

  auto dataplane = Segment::open(name.str(), Side::kDataplane);
  ASSERT_TRUE(dataplane) << dataplane.error().message;
  EXPECT_FALSE(dataplane->created());
  EXPECT_EQ(dataplane->header().generation, control->header().generation);

  control->server_state().store(test::state_for(42));
  ServerState s;
  ASSERT_NE(dataplane->server_state().try_load(s), 0u);
  EXPECT_EQ(s.reference_time_ns, 42);

  RingProducer<UpstreamRequest> tx(control->upstream_tx());
  UpstreamRequest* r = tx.claim();
  ASSERT_NE(r, nullptr);
  r->cookie = 77;
  r->length = 48;
  tx.publish();
  RingConsumer<UpstreamRequest> rx(dataplane->upstream_tx());
  ASSERT_EQ(rx.available(), 1u);
  EXPECT_EQ(rx.peek()->cookie, 77u);

  dataplane->counters()[3].add(5, 2);
  dataplane->counters()[0].add(5, 1);
  EXPECT_EQ(sum(control->counters(), kMaxLcores, 5), 3u);

  auto observer = Segment::open(name.str(), Side::kObserver);
  ASSERT_TRUE(observer) << observer.error().message;
  EXPECT_EQ(sum(observer->counters(), kMaxLcores, 5), 3u);
}

TEST(Segment, SegmentIsPrivateToItsOwner) {
  test::ShmName name;
  auto seg = Segment::open(name.str(), Side::kDataplane);
  ASSERT_TRUE(seg);
  struct stat st{};
  ASSERT_EQ(::stat(("/dev/shm" + name.str()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Segment, ObserverDoesNotCreate) {
  test::ShmName name;
  auto seg = Segment::open(name.str(), Side::kObserver);
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error().code, SegmentError::Code::kNotFound);
  EXPECT_NE(seg.error().message.find("start linetime-dataplane or linetime-control"), std::string::npos);
}

TEST(Segment, BadNameIsExplained) {
  auto seg = Segment::open("no-slash", Side::kControl);
  ASSERT_FALSE(seg);
  EXPECT_NE(seg.error().message.find("e.g. /linetime"), std::string::npos);
}

TEST(Segment, AbiMismatchWithALivePeerIsAnErrorNamingBothVersions) {
  test::ShmName name;
  auto dataplane = Segment::open(name.str(), Side::kDataplane);
  ASSERT_TRUE(dataplane);
  dataplane->header().abi_version = 99;  // as an other release would have made it; this process is alive
  auto control = Segment::open(name.str(), Side::kControl);
  ASSERT_FALSE(control);
  EXPECT_EQ(control.error().code, SegmentError::Code::kVersionMismatch);
  EXPECT_NE(control.error().message.find("ABI version 99"), std::string::npos) << control.error().message;
  EXPECT_NE(control.error().message.find("speaks 1"), std::string::npos) << control.error().message;
}

TEST(Segment, StaleSegmentOfAnotherVersionIsReplacedWhenNobodyUsesIt) {
  test::ShmName name;
  {
    auto old = Segment::open(name.str(), Side::kDataplane);
    ASSERT_TRUE(old);
    old->header().abi_version = 0;
    old->header().dataplane.pid.store(0);  // its process is gone
  }
  auto control = Segment::open(name.str(), Side::kControl);
  ASSERT_TRUE(control) << control.error().message;
  EXPECT_TRUE(control->created());
  EXPECT_EQ(control->header().abi_version, kAbiVersion);
}

TEST(Segment, ForeignObjectIsNeverReplaced) {
  test::ShmName name;
  const int fd = ::shm_open(name.str().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  void* p = ::mmap(nullptr, 8, PROT_WRITE, MAP_SHARED, fd, 0);
  std::memcpy(p, "NOTOURS!", 8);
  ::munmap(p, 8);
  ::close(fd);
  auto seg = Segment::open(name.str(), Side::kControl);
  ASSERT_FALSE(seg);
  EXPECT_EQ(seg.error().code, SegmentError::Code::kNotLinetime);
}

TEST(Segment, DrainStaleDropsWhatWasQueuedForTheRestartedSide) {
  test::ShmName name;
  auto dataplane = Segment::open(name.str(), Side::kDataplane);
  ASSERT_TRUE(dataplane);
  RingProducer<UpstreamReply> replies(dataplane->upstream_rx(2));
  for (int i = 0; i < 3; ++i) replies.push(UpstreamReply{});
  RingProducer<TxCompletion> done(dataplane->completions());
  done.push(TxCompletion{});
  auto control = Segment::open(name.str(), Side::kControl);
  ASSERT_TRUE(control);
  EXPECT_EQ(control->drain_stale(), 4u);
  EXPECT_EQ(RingConsumer<UpstreamReply>(control->upstream_rx(2)).available(), 0u);
}

TEST(StateReader, HoldoverFollowsTheControlHeartbeat) {
  test::ShmName name;
  auto control = Segment::open(name.str(), Side::kControl);
  auto dataplane = Segment::open(name.str(), Side::kDataplane);
  ASSERT_TRUE(control && dataplane);
  const Duration holdover = Duration::from_s(10);
  StateReader reader(dataplane->server_state(), dataplane->peer(), holdover);

  ServerState good = test::state_for(5);
  good.synchronized = 1;
  control->server_state().store(good);
  const MonoTime t0(1'000'000'000'000);
  control->heartbeat(t0);

  EXPECT_EQ(reader.refresh(t0), StateReader::Change::kLeftHoldover);
  EXPECT_EQ(reader.served().synchronized, 1);
  EXPECT_EQ(reader.refresh(t0 + Duration::from_s(1)), StateReader::Change::kNone);
  // The control goes quiet: served as before until the holdover runs out...
  EXPECT_EQ(reader.refresh(t0 + Duration::from_s(10)), StateReader::Change::kNone);
  EXPECT_EQ(reader.served().synchronized, 1);
  // ...then unsynchronized, keeping the published values.
  EXPECT_EQ(reader.refresh(t0 + Duration::from_s(11)), StateReader::Change::kEnteredHoldover);
  EXPECT_EQ(reader.served().synchronized, 0);
  EXPECT_EQ(reader.served().reference_time_ns, 5);
  // Back as soon as it beats again.
  control->heartbeat(t0 + Duration::from_s(20));
  EXPECT_EQ(reader.refresh(t0 + Duration::from_s(20)), StateReader::Change::kLeftHoldover);
  EXPECT_EQ(reader.served().synchronized, 1);
  // A new state is picked up.
  good.reference_time_ns = 6;
  control->server_state().store(good);
  EXPECT_EQ(reader.refresh(t0 + Duration::from_s(21)), StateReader::Change::kUpdated);
  EXPECT_EQ(reader.served().reference_time_ns, 6);
}
