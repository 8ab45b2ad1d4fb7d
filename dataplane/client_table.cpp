#include "dataplane/client_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace linetime::dataplane {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// SplitMix64's finaliser: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58'476D'1CE4'E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D0'49BB'1331'11EBULL;
  return x ^ (x >> 31);
}

}  // namespace

Expected<ClientTable, std::string> ClientTable::create(std::size_t capacity, std::uint64_t seed, bool prefault) {
  if (capacity > kMaxCapacity) {
    return unexpected("a client table of " + std::to_string(capacity) + " entries is more than the " +
                      std::to_string(kMaxCapacity) + " supported; ask for fewer clients");
  }
  std::size_t n = kWays;
  while (n < capacity) n <<= 1;
  const std::size_t bytes = n * kBytesPerClient;
  // Anonymous memory comes zeroed: every entry starts free. Tables of 2 MiB
  // and more are asked for in transparent huge pages, aligned to them: random
  // lookups over hundreds of MiB otherwise miss the TLB on nearly every request.
  const std::size_t map_bytes = bytes >= kHugePage ? bytes + kHugePage : bytes;
  void* p = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return unexpected("cannot allocate the client table (" + std::to_string(bytes >> 20) + " MiB for " +
                      std::to_string(n) + " clients): " + std::strerror(e) + "; ask for fewer clients");
  }
  if (map_bytes != bytes) {
    // Keep the 2 MiB-aligned part of the mapping and give back the rest.
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned != start) ::munmap(p, aligned - start);
    const std::size_t tail = map_bytes - (aligned - start) - bytes;
    if (tail != 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    p = reinterpret_cast<void*>(aligned);
    // Without THP (disabled, or not built in) the table still works, on small pages.
    (void)::madvise(p, bytes, MADV_HUGEPAGE);
  }
  if (prefault) {
    // Touch every page now, so the fast path never takes a page fault.
    auto* c = static_cast<volatile char*>(p);
    for (std::size_t off = 0; off < bytes; off += 4096) c[off] = 0;
  }
  ClientTable t;
  t.buckets_ = static_cast<ClientBucket*>(p);
  t.times_ = reinterpret_cast<ClientTimes*>(t.buckets_ + n / kWays);
  t.mask_ = n - 1;
  t.bucket_mask_ = n / kWays - 1;
  t.key0_ = mix(seed) | 1;
  t.key1_ = mix(seed ^ 0x9E37'79B9'7F4A'7C15ULL) | 1;
  t.key2_ = mix(seed ^ 0x3C6E'F372'FE94'F82AULL) | 1;
  t.key3_ = mix(seed ^ 0xDAA6'6D2C'7DDF'743FULL) | 1;
  return t;
}

ClientTable::~ClientTable() {
  if (buckets_ != nullptr) ::munmap(buckets_, bytes());
}

void ClientTable::swap(ClientTable& other) noexcept {
  std::swap(buckets_, other.buckets_);
  std::swap(times_, other.times_);
  std::swap(mask_, other.mask_);
  std::swap(bucket_mask_, other.bucket_mask_);
  std::swap(key0_, other.key0_);
  std::swap(key1_, other.key1_);
  std::swap(key2_, other.key2_);
  std::swap(key3_, other.key3_);
  std::swap(replaced_, other.replaced_);
}

ClientTable::Touch ClientTable::replace(std::uint32_t bucket, std::uint64_t tag, std::uint32_t now_seen) {
  // A free entry, else the one seen longest ago.
  ClientBucket& b = buckets_[bucket];
  std::uint32_t take = 0;
  std::uint32_t oldest_age = 0;
  bool free = false;
  for (std::uint32_t i = 0; i < kWays; ++i) {
    if (b.tag[i] == 0) {
      take = i;
      free = true;
      break;
    }
    const std::uint32_t age = now_seen - b.seen[i];
    if (age > oldest_age) {
      oldest_age = age;
      take = i;
    }
  }
  if (!free) ++replaced_;
  b.tag[take] = tag;
  b.seen[take] = now_seen;
  b.credit[take] = 0;
  return Touch{bucket * static_cast<std::uint32_t>(kWays) + take, true, 0, &b.credit[take]};
}

std::uint32_t ClientTable::find_slot(const ClientKey& key) const {
  if (buckets_ == nullptr) return kNoSlot;
  const std::uint32_t n = bucket(key);
  const std::uint64_t tag = this->tag(key);
  for (std::uint32_t i = 0; i < kWays; ++i) {
    if (buckets_[n].tag[i] == tag) return n * static_cast<std::uint32_t>(kWays) + i;
  }
  return kNoSlot;
}

}  // namespace linetime::dataplane
