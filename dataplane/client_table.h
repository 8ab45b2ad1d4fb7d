// The interleaved-mode state of one lcore's NTP clients: for each client
// address, the receive timestamp of the last answer it was sent and the
// precise transmit time of that answer, known only once the answer has left
// (read after tx_burst returns, or from the port's TX timestamp register).
// A client in interleaved mode echoes that receive timestamp as the origin of
// its next request and is then sent the precise transmit time
// (draft-ietf-ntp-interleaved-modes, RFC 9769 section 2; chrony's `xleave`).
//
// The same entry holds the client's rate-limit state (ratelimit.h): when it
// was last seen and its credit.
//
// Layout: a fixed-size open-addressing hash table allocated once at start,
// 32 bytes per client, in buckets of 4 clients. A bucket's hot part is one
// cache line: each client's 64-bit tag, when it was last seen (seconds modulo
// 2^24, about 194 days, in 1/256 s) and its credit; every lookup reads that
// line and nothing else. Its cold part, the two interleaved-mode timestamps
// (16 bytes per client), sits in a second array and is read only for
// requests that can be interleaved. The tag is the IPv4 address itself, or a
// keyed 63-bit hash of an IPv6 address (two IPv6 clients share an entry with
// probability 2^-61 per lookup, when their hashes collide in full).
// A client lives in the bucket its hashed address selects; when the bucket is
// full the entry seen least recently is replaced: eviction is graceful (an
// evicted client starts afresh: answered basic once more, and with a full
// rate-limit allowance) and needs no lock and no sweep.
// 1 Mi entries take 32 MiB per lcore, 16 Mi (10 M clients) 512 MiB. RSS keeps
// a client on one queue, so each lcore has its own table and no locks.
//
// Only requests that can be interleaved (see responder.h: our receive
// timestamps carry a flag in their lowest bit) and requests under a
// `limited` rule touch the table, so other clients cost nothing here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dataplane/wire/bytes.h"
#include "hwclock/expected.h"

namespace linetime::dataplane {

// A client's address in 128 bits: IPv6 as it is, IPv4 as the IPv4-mapped
// IPv6 address ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so the two never collide.
struct ClientKey {
  std::uint64_t hi = 0;  // first 8 octets of the address, big-endian
  std::uint64_t lo = 0;  // last 8 octets

  static ClientKey from_ipv4(std::uint32_t address) {  // host order
    return ClientKey{0, kIpv4Mapped | address};
  }
  static ClientKey from_ipv4(const std::uint8_t* address) {  // 4 octets, network order
    return from_ipv4(reinterpret_cast<const wire::Be32*>(address)->get());
  }
  static ClientKey from_ipv6(const std::uint8_t* address) {  // 16 octets, network order
    const auto* halves = reinterpret_cast<const wire::Be64*>(address);
    return ClientKey{halves[0].get(), halves[1].get()};
  }
  // `length` is 4 or 16.
  static ClientKey from_address(const std::uint8_t* address, std::size_t length) {
    return length == 4 ? from_ipv4(address) : from_ipv6(address);
  }
  bool operator==(const ClientKey&) const = default;

  static constexpr std::uint64_t kIpv4Mapped = 0x0000'FFFF'0000'0000ULL;  // the low half of ::ffff:0.0.0.0
};

// A client's interleaved-mode timestamps (the cold part of its entry).
struct ClientTimes {
  std::uint64_t rx = 0;  // raw NTP receive timestamp of our last interleavable answer; 0: none
  std::uint64_t tx = 0;  // raw NTP precise transmit time of that answer; 0: not known (yet)
};

// The hot part of four clients' entries: one cache line.
struct alignas(64) ClientBucket {
  std::uint64_t tag[4];    // the client's tag (ClientTable::tag()); 0: a free entry
  std::uint32_t seen[4];   // when it last used the table: raw NTP >> 24 (seconds mod 2^24 in 1/256 s)
  std::int32_t credit[4];  // rate limiting (ratelimit.h)
};
static_assert(sizeof(ClientBucket) == 64, "a bucket's hot part is one cache line");

class ClientTable {
 public:
  static constexpr std::uint32_t kNoSlot = 0xFFFF'FFFF;
  static constexpr std::uint32_t kFreshSlot = std::uint32_t{1} << 30;  // in a Touch::handle()
  static constexpr std::size_t kWays = 4;  // entries per bucket
  static constexpr std::size_t kBytesPerClient = sizeof(ClientBucket) / kWays + sizeof(ClientTimes);
  static_assert(kBytesPerClient <= 64, "at most 64 bytes per client");
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;  // 32 GiB: slots stay 32-bit
  static constexpr std::size_t kDefaultCapacity = std::size_t{1} << 20;

  // No table: nothing is remembered and no request is answered interleaved.
  ClientTable() = default;
  // `capacity` entries rounded up to a power of two (at least one bucket);
  // `seed` keys the address hash, so which addresses share a bucket cannot be
  // known from outside. `prefault` touches every page now, so the fast path
  // never takes a page fault.
  static Expected<ClientTable, std::string> create(std::size_t capacity, std::uint64_t seed, bool prefault = false);
  ~ClientTable();
  ClientTable(ClientTable&& other) noexcept { swap(other); }
  ClientTable& operator=(ClientTable&& other) noexcept {
    swap(other);
    return *this;
  }
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  bool enabled() const { return buckets_ != nullptr; }
  std::size_t capacity() const { return buckets_ != nullptr ? mask_ + 1 : 0; }
  std::size_t bytes() const { return capacity() * kBytesPerClient; }

  // The bucket a client's entry lives in (below capacity() / kWays).
  std::uint32_t bucket(const ClientKey& key) const {
    return static_cast<std::uint32_t>(mum(key.lo ^ key0_, key.hi ^ key1_) & bucket_mask_);
  }
  // A client's tag: the IPv4-mapped address as it is (its top 16 bits are
  // 0), else a keyed hash with the top bit set. Never 0.
  std::uint64_t tag(const ClientKey& key) const {
    if (key.hi == 0 && key.lo >> 32 == ClientKey::kIpv4Mapped >> 32) [[likely]] return key.lo;
    return mum(key.lo ^ key2_, key.hi ^ key3_) | std::uint64_t{1} << 63;
  }
  // Starts loading the client's bucket into the cache (no effect on the
  // table) and returns it, for touch_tag(): a burst's lookups then overlap
  // their memory latencies instead of waiting for each in turn, and the
  // address is hashed once. The table must be enabled.
  std::uint32_t prefetch(const ClientKey& key) const {
    const std::uint32_t n = bucket(key);
    prefetch_bucket(n);
    return n;
  }
  void prefetch_bucket(std::uint32_t bucket) const { __builtin_prefetch(&buckets_[bucket], 1); }

  // What the table held for a client before `claim` replaced it.
  struct Claim {
    std::uint32_t slot = kNoSlot;  // where the new answer's transmit time goes (complete())
    std::uint64_t previous_rx = 0;  // 0: no answer recorded for the client (see claim_slot())
    std::uint64_t previous_tx = 0;  // 0: its last answer's transmit time is not known
  };

  // Takes the client's entry (or a free one, or the least recently seen
  // one of its bucket) for an answer with receive timestamp `rx` (raw NTP,
  // not 0) whose transmit time is not known yet. Returns what the client's
  // entry held before. The table must be enabled.
  Claim claim(const ClientKey& key, std::uint64_t rx) { return claim_slot(touch(key, rx).handle(), rx); }
  // The same for the entry touch() returned for this request (Touch::handle()).
  Claim claim_slot(std::uint32_t handle, std::uint64_t rx) {
    const std::uint32_t slot = handle & ~kFreshSlot;
    ClientTimes& e = times_[slot];
    // A fresh entry's times are its previous client's. (An entry taken by a
    // request that claimed nothing keeps them until its client claims it:
    // harmless, as they are used only for a request whose origin is that
    // receive timestamp, which only the previous client was sent.)
    Claim c{slot, 0, 0};
    if ((handle & kFreshSlot) == 0) {
      c.previous_rx = e.rx;
      c.previous_tx = e.tx;
    }
    e.rx = rx;
    e.tx = 0;
    return c;
  }

  struct Touch {
    std::uint32_t slot = kNoSlot;
    bool fresh = false;    // the client was not in the table: its entry is new, with no credit
    std::uint32_t age = 0;  // 1/256 s since it was seen before, modulo 2^32 (2^24 s, 194 days); 0 when fresh
    std::int32_t* credit = nullptr;  // its rate-limit credit (ratelimit.h)
    // The slot, with kFreshSlot set when fresh, for claim_slot().
    std::uint32_t handle() const { return fresh ? slot | kFreshSlot : slot; }
  };
  // Finds the client's entry, or takes a free one or the least recently seen
  // one of its bucket, and marks it seen at `now` (raw NTP). The table must
  // be enabled.
  Touch touch(const ClientKey& key, std::uint64_t now) { return touch_tag(bucket(key), tag(key), now); }
  // The same with the client's bucket (bucket(), prefetch()) and tag (tag()).
  [[gnu::always_inline]] Touch touch_tag(std::uint32_t bucket, std::uint64_t tag, std::uint64_t now) {
    ClientBucket& b = buckets_[bucket];
    const std::uint32_t now_seen = static_cast<std::uint32_t>(now >> 24);
    const unsigned hits = ways_holding(b, tag);
    if (hits == 0) [[unlikely]] return replace(bucket, tag, now_seen);
    const unsigned i = static_cast<unsigned>(__builtin_ctz(hits));
    // By difference, which survives the wrap of the seconds (and the NTP era's).
    const std::uint32_t age = now_seen - b.seen[i];
    b.seen[i] = now_seen;
    return Touch{bucket * static_cast<std::uint32_t>(kWays) + i, false, age, &b.credit[i]};
  }
  // Bit i: way i of `b` holds `tag`. Without a branch per way: the way
  // differs from one client to the next, and a mispredicted branch costs more
  // than the four compares. Scalar compares would be turned back into
  // branches by the compiler, so on x86 they are two vector compares (SSE2
  // emulates the 64-bit compare that SSE4.1 has) whose results pack into
  // four bits.
  [[gnu::always_inline]] static unsigned ways_holding(const ClientBucket& b, std::uint64_t tag) {
    static_assert(kWays == 4);
#if defined(__SSE2__)
    using Lanes = std::uint64_t __attribute__((vector_size(16)));
    const Lanes t = {tag, tag};
    Lanes lo, hi;
    std::memcpy(&lo, &b.tag[0], sizeof lo);
    std::memcpy(&hi, &b.tag[2], sizeof hi);
    // Each 64-bit lane is all ones or all zeros; packing 32-bit lanes to 16
    // bits leaves way i's result in 32-bit lane i.
    const __m128i packed = _mm_packs_epi32(reinterpret_cast<__m128i>(lo == t), reinterpret_cast<__m128i>(hi == t));
    return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(packed)));
#else
    return static_cast<unsigned>(b.tag[0] == tag) | static_cast<unsigned>(b.tag[1] == tag) << 1 |
           static_cast<unsigned>(b.tag[2] == tag) << 2 | static_cast<unsigned>(b.tag[3] == tag) << 3;
#endif
  }
  // The rate-limit credit of the entry at `slot`.
  std::int32_t& credit(std::uint32_t slot) { return buckets_[slot / kWays].credit[slot % kWays]; }

  // The precise transmit time `tx` (raw NTP) of the answer whose receive
  // timestamp `rx` was claimed at `slot`. False when the slot has been
  // claimed for another answer since (the client asked again, or another
  // client replaced it): the time is then not recorded.
  bool complete(std::uint32_t slot, std::uint64_t rx, std::uint64_t tx) {
    ClientTimes& e = times_[slot];
    if (e.rx != rx) return false;
    e.tx = tx;
    return true;
  }

  // The slot of the client's entry, or kNoSlot (for inspection and tests).
  std::uint32_t find_slot(const ClientKey& key) const;
  // The interleaved-mode timestamps of the client's entry, or nullptr.
  const ClientTimes* find(const ClientKey& key) const {
    const std::uint32_t slot = find_slot(key);
    return slot != kNoSlot ? &times_[slot] : nullptr;
  }
  const ClientTimes& at(std::uint32_t slot) const { return times_[slot]; }
  const void* data() const { return buckets_; }  // where the table starts

  // How many times a live client's entry was taken for another client.
  std::uint64_t replaced() const { return replaced_; }

 private:
  // The address hash: a 64 x 64 -> 128-bit product of the address halves,
  // each first mixed with a secret key, folded to 64 bits (as wyhash does):
  // one multiplication, and without the keys which addresses share a bucket
  // cannot be known from outside.
  static std::uint64_t mum(std::uint64_t a, std::uint64_t b) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
  }
  void swap(ClientTable& other) noexcept;
  // touch_tag() for a client not in its bucket.
  Touch replace(std::uint32_t bucket, std::uint64_t tag, std::uint32_t now_seen);

  ClientBucket* buckets_ = nullptr;  // capacity / kWays; the mapping starts here
  ClientTimes* times_ = nullptr;     // capacity, after the buckets
  std::size_t mask_ = 0;          // capacity - 1
  std::uint64_t bucket_mask_ = 0;  // capacity / kWays - 1
  std::uint64_t key0_ = 0, key1_ = 0;  // the bucket hash's keys, from the seed; never 0
  std::uint64_t key2_ = 0, key3_ = 0;  // the IPv6 tag hash's
  std::uint64_t replaced_ = 0;
};

}  // namespace linetime::dataplane
