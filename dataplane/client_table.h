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
// 48 bytes per client (16-byte address, three 8-byte NTP timestamps, the
// credit and a request count), in buckets of 4 entries = 192 bytes = three
// cache lines. A client lives in the bucket its hashed address selects; when
// the bucket is full the entry seen least recently is replaced: eviction is
// graceful (an evicted client starts afresh: answered basic once more, and
// with a full rate-limit allowance) and needs no lock and no sweep.
// 1 Mi entries take 48 MiB per lcore, 16 Mi (10 M clients) 768 MiB. RSS keeps
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

#include "hwclock/expected.h"

namespace linetime::dataplane {

// A client's address in 128 bits: IPv6 as it is, IPv4 as the IPv4-mapped
// IPv6 address ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so the two never collide.
struct ClientKey {
  std::uint64_t hi = 0;  // first 8 octets of the address, big-endian
  std::uint64_t lo = 0;  // last 8 octets

  static ClientKey from_ipv4(const std::uint8_t* address);  // 4 octets, network order
  static ClientKey from_ipv6(const std::uint8_t* address);  // 16 octets, network order
  // `length` is 4 or 16.
  static ClientKey from_address(const std::uint8_t* address, std::size_t length) {
    return length == 4 ? from_ipv4(address) : from_ipv6(address);
  }
  bool operator==(const ClientKey&) const = default;
};

struct ClientEntry {
  ClientKey key;
  std::uint64_t rx = 0;    // raw NTP receive timestamp of our last interleavable answer to `key`; 0: none
  std::uint64_t tx = 0;    // raw NTP precise transmit time of that answer; 0: not known (yet)
  std::uint64_t seen = 0;  // raw NTP receive time of the client's last request that used the table; 0: a free entry
  std::int32_t credit = 0;      // rate limiting (ratelimit.h)
  std::uint32_t requests = 0;   // requests that used the table since the entry was taken (saturating)
};
static_assert(sizeof(ClientEntry) == 48, "four entries per three cache lines, at most 64 bytes per client");

class ClientTable {
 public:
  static constexpr std::uint32_t kNoSlot = 0xFFFF'FFFF;
  static constexpr std::size_t kWays = 4;                 // entries per bucket: 192 bytes, three cache lines
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;  // 48 GiB: slots stay 32-bit
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

  bool enabled() const { return entries_ != nullptr; }
  std::size_t capacity() const { return entries_ != nullptr ? mask_ + 1 : 0; }
  std::size_t bytes() const { return capacity() * sizeof(ClientEntry); }

  // The bucket a client's entry lives in (below capacity() / kWays).
  std::uint32_t bucket(const ClientKey& key) const {
    return static_cast<std::uint32_t>(mum(key.lo ^ key0_, key.hi ^ key1_) & bucket_mask_);
  }
  // Starts loading the client's bucket into the cache (no effect on the
  // table) and returns it, for touch_at(): a burst's lookups then overlap
  // their memory latencies instead of waiting for each in turn, and the
  // address is hashed once. The table must be enabled.
  std::uint32_t prefetch(const ClientKey& key) const;

  // What the table held for a client before `claim` replaced it.
  struct Claim {
    std::uint32_t slot = kNoSlot;  // where the new answer's transmit time goes (complete())
    std::uint64_t previous_rx = 0;  // 0: the client was not in the table
    std::uint64_t previous_tx = 0;  // 0: its last answer's transmit time is not known
  };

  // Takes the client's entry (or a free one, or the least recently seen
  // one of its bucket) for an answer with receive timestamp `rx` (raw NTP,
  // not 0) whose transmit time is not known yet. Returns what the client's
  // entry held before. The table must be enabled.
  Claim claim(const ClientKey& key, std::uint64_t rx) { return claim_slot(touch(key, rx).slot, rx); }
  // The same for an entry touch() returned for this request.
  Claim claim_slot(std::uint32_t slot, std::uint64_t rx) {
    ClientEntry& e = entries_[slot];
    Claim c{slot, e.rx, e.tx};
    e.rx = rx;
    e.tx = 0;
    return c;
  }

  struct Touch {
    std::uint32_t slot = kNoSlot;
    bool fresh = false;          // the client was not in the table: its entry is new, zeroed but for the key
    std::uint64_t previous = 0;  // when it was seen before (raw NTP); 0 when fresh
  };
  // Finds the client's entry, or takes a free one or the least recently seen
  // one of its bucket, and marks it seen at `now` (raw NTP, not 0). The
  // table must be enabled.
  Touch touch(const ClientKey& key, std::uint64_t now) { return touch_at(bucket(key), key, now); }
  // The same in the bucket bucket(key) returned.
  Touch touch_at(std::uint32_t bucket, const ClientKey& key, std::uint64_t now);
  ClientEntry& entry(std::uint32_t slot) { return entries_[slot]; }

  // The precise transmit time `tx` (raw NTP) of the answer whose receive
  // timestamp `rx` was claimed at `slot`. False when the slot has been
  // claimed for another answer since (the client asked again, or another
  // client replaced it): the time is then not recorded.
  bool complete(std::uint32_t slot, std::uint64_t rx, std::uint64_t tx) {
    ClientEntry& e = entries_[slot];
    if (e.rx != rx) return false;
    e.tx = tx;
    return true;
  }

  // The client's entry, or nullptr (for inspection and tests).
  const ClientEntry* find(const ClientKey& key) const;
  const ClientEntry& at(std::uint32_t slot) const { return entries_[slot]; }

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

  ClientEntry* entries_ = nullptr;
  std::size_t mask_ = 0;          // capacity - 1
  std::uint64_t bucket_mask_ = 0;  // capacity / kWays - 1
  std::uint64_t key0_ = 0, key1_ = 0;  // from the seed; never 0
  std::uint64_t replaced_ = 0;
};

}  // namespace linetime::dataplane
