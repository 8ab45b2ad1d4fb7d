// The address set and its publication to the lcores: reclamation only after
// every reader acknowledged a newer epoch, concurrent readers never see a set
// that was freed or half-built, and the frame processor answers on exactly the
// published addresses.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "dataplane/address_set.h"
#include "dataplane/frame.h"
#include "dataplane/wire/ntp.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using wire::Ipv4Address;

namespace {

AddressSet v4_set(std::initializer_list<Ipv4Address> a) {
  AddressSet s;
  for (auto x : a) s.add(x);
  return s;
}

const Ipv4Address kA = Ipv4Address::of(198, 18, 0, 1);
const Ipv4Address kB = Ipv4Address::of(198, 18, 0, 2);
const Ipv4Address kC = Ipv4Address::of(198, 19, 0, 1);

}  // namespace

TEST(AddressSet, AddKeepsOneOfEach) {
  AddressSet s;
  s.add(kA);
  s.add(kA);
  s.add(*wire::parse_ipv6_address("fd00::1"));
  s.add(*wire::parse_ipv6_address("fd00::1"));
  EXPECT_EQ(s.ipv4.size(), 1u);
  EXPECT_EQ(s.ipv6.size(), 1u);
  EXPECT_TRUE(s.has(kA));
  EXPECT_FALSE(s.has(kB));
  EXPECT_TRUE(s.has(*wire::parse_ipv6_address("fd00::1")));
  EXPECT_FALSE(s.has(*wire::parse_ipv6_address("fd00::2")));
}

TEST(AddressPublisher, ReadersSeeEachNewSetOnceAndAcknowledge) {
  AddressPublisher pub(2, v4_set({kA}));
  EXPECT_EQ(pub.epoch(), 1u);
  AddressReader r0(pub, 0), r1(pub, 1);
  const AddressSet* s0 = r0.changed();
  ASSERT_NE(s0, nullptr);
  EXPECT_TRUE(s0->has(kA));
  EXPECT_EQ(r0.changed(), nullptr);  // nothing new

  pub.publish(v4_set({kA, kB}));
  EXPECT_EQ(pub.epoch(), 2u);
  EXPECT_EQ(pub.retired(), 1u);  // reader 1 never looked; reader 0 holds epoch 1
  const AddressSet* s0b = r0.changed();
  ASSERT_NE(s0b, nullptr);
  EXPECT_TRUE(s0b->has(kB));
  EXPECT_EQ(pub.reclaim(), 1u);  // reader 1 has not acknowledged epoch 2
  const AddressSet* s1 = r1.changed();
  ASSERT_NE(s1, nullptr);
  EXPECT_TRUE(s1->has(kB));
  EXPECT_EQ(pub.reclaim(), 0u);  // both moved past the swap: the first set is gone

  // Two quick swaps while reader 1 sleeps: both old sets wait for it.
  pub.publish(v4_set({kC}));
  pub.publish(v4_set({kA, kC}));
  EXPECT_NE(r0.changed(), nullptr);
  EXPECT_EQ(pub.reclaim(), 2u);
  const AddressSet* s1b = r1.changed();
  ASSERT_NE(s1b, nullptr);
  EXPECT_TRUE(s1b->has(kA) && s1b->has(kC) && !s1b->has(kB));
  EXPECT_EQ(pub.reclaim(), 0u);
  EXPECT_EQ(&pub.current(), s1b);
}

TEST(AddressPublisher, ConcurrentReadersNeverSeeAFreedOrTornSet) {
  // Every published set is {base, base+1, ..., base+k-1} for some k: a reader
  // checks that shape on every read. A freed set would show up under the
  // address sanitizer; a torn one as a broken sequence.
  constexpr unsigned kReaders = 3;
  constexpr int kSets = 3000;
  AddressPublisher pub(kReaders, v4_set({Ipv4Address{1000}}));
  std::atomic<bool> stop{false};
  std::atomic<unsigned> bad{0};
  std::atomic<std::uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (unsigned r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      AddressReader reader(pub, r);
      const AddressSet* held = nullptr;
      while (!stop.load(std::memory_order_relaxed)) {
        if (const AddressSet* s = reader.changed()) held = s;
        if (held == nullptr) continue;
        const auto& v = held->ipv4;
        if (v.empty()) {
          bad.fetch_add(1);
          continue;
        }
        for (std::size_t i = 1; i < v.size(); ++i) {
          if (v[i].value != v[0].value + i) bad.fetch_add(1);
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::mt19937 rng(20261121);
  for (int i = 0; i < kSets; ++i) {
    AddressSet s;
    const std::uint32_t base = 1000 + rng() % 1000;
    const unsigned k = 1 + rng() % 16;
    for (unsigned j = 0; j < k; ++j) s.add(Ipv4Address{base + j});
    pub.publish(std::move(s));
    if (i % 64 == 0) std::this_thread::yield();
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  // Once every reader has passed a quiescent point after the last swap,
  // nothing old is held any more.
  for (unsigned r = 0; r < kReaders; ++r) {
    AddressReader late(pub, r);
    EXPECT_NE(late.changed(), nullptr);
  }
  EXPECT_EQ(pub.reclaim(), 0u);
}

TEST(AddressPublisher, FrameProcessorAnswersOnThePublishedSetOnly) {
  LocalConfig local;
  local.mac = test::kServerMac;  // no static address
  FrameProcessor proc(local);
  AddressPublisher pub(1, AddressSet{});
  AddressReader reader(pub, 0);
  proc.set_addresses(reader.changed());

  const auto req = test::ntp_request();
  auto ask = [&] {
    auto f = test::udp4(req, 50000, 123);
    return proc.process(wire::MutableBytes(f.buf), f.length, hwclock::UtcTime(0), [] { return hwclock::UtcTime(0); });
  };
  Verdict v = ask();
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_EQ(v.counter, Counter::kDropNotForUs);

  pub.publish(v4_set({test::kServerIp}));
  proc.set_addresses(reader.changed());
  v = ask();
  EXPECT_EQ(v.action, Action::kTransmit);
  EXPECT_EQ(v.length, 90u);

  pub.publish(AddressSet{});
  proc.set_addresses(reader.changed());
  EXPECT_EQ(ask().action, Action::kDrop);
  EXPECT_EQ(pub.reclaim(), 0u);
}
