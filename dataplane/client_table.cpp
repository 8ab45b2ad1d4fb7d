#include "dataplane/client_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace linetime::dataplane {

namespace {

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
  // Anonymous memory comes zeroed: every entry starts free.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? MAP_POPULATE : 0),
                   -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return unexpected("cannot allocate the client table (" + std::to_string(bytes >> 20) + " MiB for " +
                      std::to_string(n) + " clients): " + std::strerror(e) + "; ask for fewer clients");
  }
  ClientTable t;
  t.entries_ = static_cast<ClientEntry*>(p);
  t.mask_ = n - 1;
  t.seed_ = seed;
  return t;
}

ClientTable::~ClientTable() {
  if (entries_ != nullptr) ::munmap(entries_, bytes());
}

void ClientTable::swap(ClientTable& other) noexcept {
  std::swap(entries_, other.entries_);
  std::swap(mask_, other.mask_);
  std::swap(seed_, other.seed_);
  std::swap(replaced_, other.replaced_);
}

std::size_t ClientTable::bucket_of(const ClientKey& key) const {
  const std::uint64_t h = mix(key.hi ^ seed_) ^ mix(key.lo + seed_);
  return static_cast<std::size_t>(mix(h)) & mask_ & ~(kWays - 1);
}

void ClientTable::prefetch(const ClientKey& key) const {
  const auto* b = reinterpret_cast<const char*>(entries_ + bucket_of(key));
  static_assert(kWays * sizeof(ClientEntry) == 3 * 64);
  __builtin_prefetch(b, 1);
  __builtin_prefetch(b + 64, 1);
  __builtin_prefetch(b + 128, 1);
}

ClientTable::Touch ClientTable::touch(const ClientKey& key, std::uint64_t now) {
  ClientEntry* b = entries_ + bucket_of(key);
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
  const ClientEntry* b = entries_ + bucket_of(key);
  for (std::size_t i = 0; i < kWays; ++i) {
    if (b[i].seen != 0 && b[i].key == key) return &b[i];
  }
  return nullptr;
}

}  // namespace linetime::dataplane
