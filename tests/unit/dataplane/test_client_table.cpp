#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/client_table.h"

using namespace linetime::dataplane;

namespace {

constexpr std::uint64_t kSeed = 0x5EED'0001;

ClientKey v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  const std::uint8_t addr[4] = {a, b, c, d};
  return ClientKey::from_ipv4(addr);
}

ClientTable table(std::size_t capacity) {
  auto t = ClientTable::create(capacity, kSeed);
  EXPECT_TRUE(t) << t.error();
  return std::move(*t);
}

// Receive timestamps as the responder makes them (lowest bit set), n s into the era.
constexpr std::uint64_t rx(std::uint64_t n) { return n << 32 | 1; }

}  // namespace

TEST(ClientTable, DefaultIsDisabled) {
  ClientTable t;
  EXPECT_FALSE(t.enabled());
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.find(v4(198, 18, 0, 2)), nullptr);
}

TEST(ClientTable, CapacityRoundsUpToPowerOfTwoBuckets) {
  EXPECT_EQ(table(1).capacity(), 4u);
  EXPECT_EQ(table(4).capacity(), 4u);
  EXPECT_EQ(table(5).capacity(), 8u);
  EXPECT_EQ(table(1000).capacity(), 1024u);
  EXPECT_EQ(table(1000).bytes(), 1024u * 32);
  auto big = ClientTable::create(ClientTable::kMaxCapacity + 1, kSeed);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().find("ask for fewer clients"), std::string::npos) << big.error();
}

TEST(ClientTable, Ipv4KeysAreIpv4MappedIpv6) {
  const std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2};
  EXPECT_EQ(v4(198, 18, 0, 2), ClientKey::from_ipv6(mapped));
  EXPECT_EQ(v4(198, 18, 0, 2).hi, 0u);
  EXPECT_EQ(v4(198, 18, 0, 2).lo, 0x0000'FFFF'C612'0002ULL);
  const std::uint8_t ula[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const ClientKey k = ClientKey::from_address(ula, 16);
  EXPECT_EQ(k.hi, 0xFD00'0198'0018'0000ULL);
  EXPECT_EQ(k.lo, 2u);
  EXPECT_FALSE(k == v4(198, 18, 0, 2));
}

TEST(ClientTable, ClaimCompleteAndClaimAgain) {
  ClientTable t = table(64);
  const ClientKey a = v4(198, 18, 0, 2);

  const auto first = t.claim(a, rx(1));
  ASSERT_NE(first.slot, ClientTable::kNoSlot);
  EXPECT_EQ(first.previous_rx, 0u);
  EXPECT_EQ(first.previous_tx, 0u);
  const ClientTimes* e = t.find(a);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e, &t.at(first.slot));
  EXPECT_EQ(e->rx, rx(1));
  EXPECT_EQ(e->tx, 0u);

  EXPECT_TRUE(t.complete(first.slot, rx(1), 0xAAAA'0000));
  EXPECT_EQ(t.find(a)->tx, 0xAAAA'0000u);

  const auto second = t.claim(a, rx(2));
  EXPECT_EQ(second.slot, first.slot);
  EXPECT_EQ(second.previous_rx, rx(1));
  EXPECT_EQ(second.previous_tx, 0xAAAA'0000u);
  EXPECT_EQ(t.find(a)->rx, rx(2));
  EXPECT_EQ(t.find(a)->tx, 0u) << "the new answer's transmit time is not known yet";

  // A late completion for the first answer must not land on the second's.
  EXPECT_FALSE(t.complete(second.slot, rx(1), 0xBBBB'0000));
  EXPECT_EQ(t.find(a)->tx, 0u);
  EXPECT_EQ(t.replaced(), 0u);
}

TEST(ClientTable, Ipv6AndIpv4ClientsAreSeparate) {
  ClientTable t = table(64);
  const std::uint8_t six[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const ClientKey a = ClientKey::from_ipv6(six);
  const ClientKey b = v4(198, 18, 0, 2);
  const auto ca = t.claim(a, rx(10));
  const auto cb = t.claim(b, rx(11));
  EXPECT_NE(ca.slot, cb.slot);
  EXPECT_TRUE(t.complete(ca.slot, rx(10), 100));
  EXPECT_TRUE(t.complete(cb.slot, rx(11), 200));
  EXPECT_EQ(t.find(a)->tx, 100u);
  EXPECT_EQ(t.find(b)->tx, 200u);
}

TEST(ClientTable, FullBucketReplacesLeastRecentlyAnswered) {
  ClientTable t = table(4);  // one bucket: every client collides
  std::vector<ClientKey> keys;
  for (std::uint8_t i = 0; i < 5; ++i) keys.push_back(v4(198, 18, 1, i));
  for (std::uint64_t i = 0; i < 4; ++i) t.claim(keys[i], rx(100 + i));
  for (std::size_t i = 0; i < 4; ++i) ASSERT_NE(t.find(keys[i]), nullptr) << i;

  // Client 0 asks again: now client 1 is the one answered longest ago.
  t.claim(keys[0], rx(200));
  const auto c = t.claim(keys[4], rx(201));
  EXPECT_EQ(c.previous_rx, 0u) << "a new client has no history";
  EXPECT_EQ(t.replaced(), 1u);
  EXPECT_EQ(t.find(keys[1]), nullptr);
  for (std::size_t i : {0u, 2u, 3u, 4u}) EXPECT_NE(t.find(keys[i]), nullptr) << i;
  EXPECT_EQ(t.find(keys[4])->rx, rx(201));
}

TEST(ClientTable, AgeSurvivesTheNtpEraRollover) {
  ClientTable t = table(4);
  const ClientKey a = v4(198, 18, 2, 1), b = v4(198, 18, 2, 2), c = v4(198, 18, 2, 3), d = v4(198, 18, 2, 4);
  const std::uint64_t end_of_era = ~std::uint64_t{0} - (std::uint64_t{10} << 32);  // 10 s before the rollover
  t.claim(a, end_of_era | 1);                         // oldest
  t.claim(b, (end_of_era + (std::uint64_t{5} << 32)) | 1);
  t.claim(c, (std::uint64_t{1} << 32) | 1);           // 1 s into the next era
  t.claim(d, (std::uint64_t{2} << 32) | 1);
  t.claim(v4(198, 18, 2, 5), (std::uint64_t{3} << 32) | 1);
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_NE(t.find(b), nullptr);
  EXPECT_NE(t.find(c), nullptr);
}

TEST(ClientTable, ManyClientsSeededAllAccountedFor) {
  ClientTable t = table(4096);
  std::mt19937_64 rng(20240601);
  std::vector<ClientKey> keys(1000);
  for (auto& k : keys) {
    std::array<std::uint8_t, 16> a{};
    for (auto& byte : a) byte = static_cast<std::uint8_t>(rng());
    k = ClientKey::from_ipv6(a.data());
  }
  for (std::size_t i = 0; i < keys.size(); ++i) t.claim(keys[i], rx(i + 1));
  std::size_t found = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const ClientTimes* e = t.find(keys[i]);
    if (e != nullptr) {
      EXPECT_EQ(e->rx, rx(i + 1));
      ++found;
    }
  }
  // A quarter full with 4-way buckets: almost no bucket overflows.
  EXPECT_EQ(found + t.replaced(), keys.size());
  EXPECT_GE(found, 990u);
}

TEST(ClientTable, PrefetchGivesTheBucketTouchTagUses) {
  ClientTable t = table(1 << 12);
  std::mt19937_64 rng(20261121);
  for (int i = 0; i < 2000; ++i) {
    const std::uint32_t a = static_cast<std::uint32_t>(rng());
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                               static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
    const ClientKey k = ClientKey::from_ipv4(b);
    const std::uint32_t bucket = t.prefetch(k);
    ASSERT_EQ(bucket, t.bucket(k));
    ASSERT_LT(bucket, t.capacity() / ClientTable::kWays);
    const auto touched = t.touch_tag(bucket, t.tag(k), rx(i + 1));
    // The entry is in that bucket, and touch() finds the same one.
    ASSERT_EQ(touched.slot / ClientTable::kWays, bucket);
    const auto again = t.touch(k, rx(i + 2));
    ASSERT_EQ(again.slot, touched.slot);
    ASSERT_FALSE(again.fresh);
    ASSERT_EQ(again.age, 256u);  // 1 s in 1/256 s
  }
}

TEST(ClientTable, WaysHoldingComparesWholeTags) {
  // Tags that match the one sought in only their low or only their high 32
  // bits are not it, in any way (x86 compares 64-bit lanes as 32-bit halves
  // where SSE4.1 is not there).
  const std::uint64_t tag = 0x8123'4567'89AB'CDEFull;
  const std::uint64_t low_only = tag ^ (std::uint64_t{1} << 40), high_only = tag ^ 1;
  for (unsigned way = 0; way < ClientTable::kWays; ++way) {
    ClientBucket b{};
    for (unsigned i = 0; i < ClientTable::kWays; ++i) b.tag[i] = i % 2 == 0 ? low_only : high_only;
    EXPECT_EQ(ClientTable::ways_holding(b, tag), 0u) << way;
    b.tag[way] = tag;
    EXPECT_EQ(ClientTable::ways_holding(b, tag), 1u << way) << way;
    b.tag[3 - way] = tag;
    EXPECT_EQ(ClientTable::ways_holding(b, tag), 1u << way | 1u << (3 - way)) << way;
  }
  ClientBucket free_bucket{};
  EXPECT_EQ(ClientTable::ways_holding(free_bucket, 0), 0xFu) << "free entries hold tag 0";
}

TEST(ClientTable, EveryWayIsFoundAgain) {
  ClientTable t = table(4);  // one bucket
  const ClientKey keys[4] = {v4(198, 18, 3, 1), v4(198, 18, 3, 2), v4(198, 18, 3, 3), v4(198, 19, 3, 4)};
  std::uint32_t slots[4];
  for (std::uint64_t i = 0; i < 4; ++i) {
    const auto first = t.touch(keys[i], rx(10 + i));
    ASSERT_TRUE(first.fresh) << i;
    slots[i] = first.slot;
  }
  std::sort(std::begin(slots), std::end(slots));
  EXPECT_EQ(std::unique(std::begin(slots), std::end(slots)), std::end(slots)) << "four entries";
  for (std::uint64_t i = 0; i < 4; ++i) {
    const auto first = t.touch(keys[i], rx(20 + i));
    const auto again = t.touch(keys[i], rx(21 + i));
    EXPECT_FALSE(again.fresh) << i;
    EXPECT_EQ(again.slot, first.slot) << i;
    EXPECT_EQ(again.age, 256u) << i;
  }
  EXPECT_EQ(t.replaced(), 0u);
}

TEST(ClientTable, SequentialAddressesSpreadOverTheBuckets) {
  // 100,000 consecutive IPv4 clients in 32,768 buckets (76 % full): a keyed
  // hash spreads them about as a random one would (Poisson with mean 3.05:
  // about 8.6 % of them in excess of four per bucket, at most 11 or so).
  ClientTable t = table(1 << 17);
  std::vector<unsigned> per(t.capacity() / ClientTable::kWays);
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const std::uint32_t a = 0x0B000000u + i;
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                               static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
    ++per[t.bucket(ClientKey::from_ipv4(b))];
  }
  unsigned excess = 0, most = 0;
  for (unsigned n : per) {
    excess += n > 4 ? n - 4 : 0;
    most = std::max(most, n);
  }
  EXPECT_GT(excess, 6'000u);
  EXPECT_LT(excess, 11'000u);
  EXPECT_LE(most, 14u);
}

TEST(ClientTable, LargeTablesAreAlignedToHugePages) {
  // 128 Ki entries = 4 MiB: asked for in transparent huge pages, so the table
  // starts on a 2 MiB boundary (whether the kernel backs it with them or not).
  auto made = ClientTable::create(1 << 17, kSeed, true);
  ASSERT_TRUE(made) << made.error();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(made->data()) % (std::uintptr_t{2} << 20), 0u);
  EXPECT_EQ(made->bytes(), std::size_t{4} << 20);
  const auto c = made->claim(v4(198, 18, 0, 9), rx(3));
  EXPECT_TRUE(made->complete(c.slot, rx(3), 30));
  EXPECT_EQ(made->find(v4(198, 18, 0, 9))->tx, 30u);
}

TEST(ClientTable, PrefaultedAndMoved) {
  auto made = ClientTable::create(1 << 12, kSeed, true);
  ASSERT_TRUE(made) << made.error();
  ClientTable t = std::move(*made);
  EXPECT_FALSE(made->enabled());
  const auto c = t.claim(v4(198, 18, 0, 9), rx(7));
  EXPECT_TRUE(t.complete(c.slot, rx(7), 70));
  ClientTable u;
  u = std::move(t);
  EXPECT_EQ(u.find(v4(198, 18, 0, 9))->tx, 70u);
  EXPECT_EQ(u.capacity(), 4096u);
}

TEST(ClientTable, TagsAreIpv4AddressesOrKeyedIpv6Hashes) {
  ClientTable t = table(64);
  EXPECT_EQ(t.tag(v4(198, 18, 0, 2)), 0x0000'FFFF'C612'0002ULL);
  const std::uint8_t six[16] = {0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const std::uint64_t tag6 = t.tag(ClientKey::from_ipv6(six));
  EXPECT_NE(tag6 >> 63, 0u) << "IPv6 tags never equal an IPv4 one";
  ClientTable other = std::move(*ClientTable::create(64, kSeed + 1));
  EXPECT_NE(other.tag(ClientKey::from_ipv6(six)), tag6) << "keyed by the seed";
  EXPECT_EQ(other.tag(v4(198, 18, 0, 2)), t.tag(v4(198, 18, 0, 2)));
}

TEST(ClientTable, AReplacedClientsTimesAreNotItsSuccessors) {
  ClientTable t = table(4);  // one bucket
  for (std::uint8_t i = 0; i < 4; ++i) {
    const auto c = t.claim(v4(198, 18, 3, i), rx(10 + i));
    ASSERT_TRUE(t.complete(c.slot, rx(10 + i), 1000 + i));
  }
  // A rate-limited request takes the oldest entry (198.18.3.0's) without
  // claiming it; the new client's first claim then finds no history.
  const ClientTable::Touch fresh = t.touch(v4(198, 18, 4, 0), rx(20));
  ASSERT_TRUE(fresh.fresh);
  EXPECT_EQ(t.credit(fresh.slot), 0);
  const ClientTable::Claim c = t.claim_slot(fresh.handle(), rx(20));
  EXPECT_EQ(c.slot, fresh.slot);
  EXPECT_EQ(c.previous_rx, 0u);
  EXPECT_EQ(c.previous_tx, 0u);
  EXPECT_EQ(t.find(v4(198, 18, 3, 0)), nullptr);
  EXPECT_EQ(t.find(v4(198, 18, 4, 0))->rx, rx(20));
}

TEST(ClientTable, AgesCountTo194Days) {
  // Seconds modulo 2^24 in a bucket: a client last seen 2^24 - 1 s ago is
  // still found, with its age exact to 1/256 s (ages count modulo 2^24 s).
  ClientTable t = table(4);
  const std::uint64_t start = std::uint64_t{3'900'000'000} << 32;
  t.touch(v4(198, 18, 5, 1), start);
  const std::uint64_t later = start + (((std::uint64_t{1} << 24) - 1) << 32);
  t.touch(v4(198, 18, 5, 2), later - (std::uint64_t{60} << 32));
  const ClientTable::Touch a = t.touch(v4(198, 18, 5, 1), later);
  EXPECT_FALSE(a.fresh);
  EXPECT_EQ(a.age, ((std::uint32_t{1} << 24) - 1) << 8);
}
