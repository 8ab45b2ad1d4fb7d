#include "dataplane/client_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace linetime::dataplane {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// SplitMix64's finaliser: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58'476D'1CE4'E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D0'49BB'1331'11EBULL;
  return x ^ (x >> 31);
}

}  // namespace

ClientKey ClientKey::from_ipv4(const std::uint8_t* a) {
  return ClientKey{0, 0x0000'FFFF'0000'0000ULL | std::uint64_t{a[0]} << 24 | std::uint64_t{a[1]} << 16 |
                          std::uint64_t{a[2]} << 8 | a[3]};
}

ClientKey ClientKey::from_ipv6(const std::uint8_t* a) { return ClientKey{load_be64(a), load_be64(a + 8)}; }

Expected<ClientTable, std::string> ClientTable::create(std::size_t capacity, std::uint64_t seed, bool prefault) {
  if (capacity > kMaxCapacity) {
    return unexpected("a client table of " + std::to_string(capacity) + " entries is more than the " +
                      std::to_string(kMaxCapacity) + " supported; ask for fewer clients");
  }
  std::size_t n = kWays;
  while (n < capacity) n <<= 1;
  const std::size_t bytes = n * sizeof(ClientEntry);
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
  t.entries_ = static_cast<ClientEntry*>(p);
  t.mask_ = n - 1;
  t.bucket_mask_ = n / kWays - 1;
  t.key0_ = mix(seed) | 1;
  t.key1_ = mix(seed ^ 0x9E37'79B9'7F4A'7C15ULL) | 1;
  return t;
}

ClientTable::~ClientTable() {
  if (entries_ != nullptr) ::munmap(entries_, bytes());
}

void ClientTable::swap(ClientTable& other) noexcept {
  std::swap(entries_, other.entries_);
  std::swap(mask_, other.mask_);
  std::swap(bucket_mask_, other.bucket_mask_);
  std::swap(key0_, other.key0_);
  std::swap(key1_, other.key1_);
  std::swap(replaced_, other.replaced_);
}

std::uint32_t ClientTable::prefetch(const ClientKey& key) const {
  const std::uint32_t n = bucket(key);
  const auto* b = reinterpret_cast<const char*>(entries_ + std::size_t{n} * kWays);
  static_assert(kWays * sizeof(ClientEntry) == 3 * 64);
  __builtin_prefetch(b, 1);
  __builtin_prefetch(b + 64, 1);
  __builtin_prefetch(b + 128, 1);
  return n;
}

ClientTable::Touch ClientTable::touch_at(std::uint32_t bucket, const ClientKey& key, std::uint64_t now) {
  ClientEntry* b = entries_ + std::size_t{bucket} * kWays;
  for (std::size_t i = 0; i < kWays; ++i) {
    if (b[i].seen != 0 && b[i].key == key) {
      Touch t{static_cast<std::uint32_t>(b + i - entries_), false, b[i].seen};
      b[i].seen = now;
      if (b[i].requests != ~std::uint32_t{0}) ++b[i].requests;
      return t;
    }
  }
  // A free entry, else the one seen longest ago (NTP timestamps compared by
  // their difference, which survives the era rollover).
  ClientEntry* take = &b[0];
  std::uint64_t oldest_age = 0;
  for (std::size_t i = 0; i < kWays; ++i) {
    if (b[i].seen == 0) {
      take = &b[i];
      break;
    }
    const std::uint64_t age = now - b[i].seen;
    if (age > oldest_age) {
      oldest_age = age;
      take = &b[i];
    }
  }
  if (take->seen != 0) ++replaced_;
  *take = ClientEntry{};
  take->key = key;
  take->seen = now;
  take->requests = 1;
  return Touch{static_cast<std::uint32_t>(take - entries_), true, 0};
}

const ClientEntry* ClientTable::find(const ClientKey& key) const {
  if (entries_ == nullptr) return nullptr;
  const ClientEntry* b = entries_ + std::size_t{bucket(key)} * kWays;
  for (std::size_t i = 0; i < kWays; ++i) {
    if (b[i].seen != 0 && b[i].key == key) return &b[i];
  }
  return nullptr;
}

}  // namespace linetime::dataplane
