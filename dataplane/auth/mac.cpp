#include "dataplane/auth/mac.h"

#include <algorithm>
#include <cstring>

#include <nettle/memops.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>

#include "dataplane/wire/bytes.h"

namespace linetime::auth {

namespace {

const nettle_hash* hash_of(Algorithm a) {
  switch (a) {
    case Algorithm::kMd5: return &nettle_md5;
    case Algorithm::kSha1: return &nettle_sha1;
    case Algorithm::kSha224: return &nettle_sha224;
    case Algorithm::kSha256: return &nettle_sha256;
    case Algorithm::kSha384: return &nettle_sha384;
    case Algorithm::kSha512: return &nettle_sha512;
    case Algorithm::kSha3_224: return &nettle_sha3_224;
    case Algorithm::kSha3_256: return &nettle_sha3_256;
    case Algorithm::kSha3_384: return &nettle_sha3_384;
    case Algorithm::kSha3_512: return &nettle_sha3_512;
    default: return nullptr;
  }
}

// Room for any nettle hash context and digest used here (SHA-3 has the
// largest context, SHA-512 the largest digest).
constexpr std::size_t kMaxHashContext = 512;
constexpr std::size_t kMaxHashDigest = 64;
static_assert(sizeof(sha3_224_ctx) <= kMaxHashContext && sizeof(sha512_ctx) <= kMaxHashContext);
static_assert(SHA512_DIGEST_SIZE <= kMaxHashDigest);

}  // namespace

Mac::Mac(const Key& key) : id_(key.id), algorithm_(key.algorithm), length_(digest_length(key.algorithm)) {
  if (const std::size_t n = cmac_key_length(algorithm_); n != 0) {
    std::uint8_t k[kMaxSecret] = {};
    std::memcpy(k, key.secret.data(), std::min(n, key.secret.size()));  // padded with zeros, as ntpsec
    switch (algorithm_) {
      case Algorithm::kAes128Cmac:
        aes128_set_encrypt_key(&cipher_.aes128, k);
        encrypt_ = reinterpret_cast<nettle_cipher_func*>(aes128_encrypt);
        break;
      case Algorithm::kAes192Cmac:
        aes192_set_encrypt_key(&cipher_.aes192, k);
        encrypt_ = reinterpret_cast<nettle_cipher_func*>(aes192_encrypt);
        break;
      default:
        aes256_set_encrypt_key(&cipher_.aes256, k);
        encrypt_ = reinterpret_cast<nettle_cipher_func*>(aes256_encrypt);
        break;
    }
    cmac128_set_key(&cmac_key_, &cipher_, encrypt_);
    std::memset(k, 0, sizeof k);
    return;
  }
  hash_ = hash_of(algorithm_);
  secret_size_ = std::min(key.secret.size(), sizeof secret_);
  std::memcpy(secret_, key.secret.data(), secret_size_);
}

void Mac::compute(const std::uint8_t* data, std::size_t size, std::uint8_t* out) const {
  if (encrypt_ != nullptr) {
    cmac128_ctx ctx;
    cmac128_init(&ctx);
    cmac128_update(&ctx, &cipher_, encrypt_, size, data);
    cmac128_digest(&ctx, &cmac_key_, &cipher_, encrypt_, static_cast<unsigned>(length_), out);
    return;
  }
  alignas(16) std::uint8_t ctx[kMaxHashContext];
  std::uint8_t digest[kMaxHashDigest];
  hash_->init(ctx);
  hash_->update(ctx, secret_size_, secret_);
  hash_->update(ctx, size, data);
  hash_->digest(ctx, hash_->digest_size, digest);
  std::memcpy(out, digest, length_);
}

bool Mac::verify(const std::uint8_t* data, std::size_t size, const std::uint8_t* digest,
                 std::size_t digest_size) const {
  if (digest_size != length_) return false;
  std::uint8_t expected[kMaxMacDigest];
  compute(data, size, expected);
  return nettle_memeql_sec(expected, digest, length_) != 0;
}

KeyTable::KeyTable(const std::vector<Key>& keys, const std::vector<std::uint32_t>& trusted) {
  for (const Key& k : keys) {
    if (std::find(trusted.begin(), trusted.end(), k.id) != trusted.end()) macs_.emplace_back(k);
  }
  std::sort(macs_.begin(), macs_.end(), [](const Mac& a, const Mac& b) { return a.id() < b.id(); });
}

const Mac* KeyTable::find(std::uint32_t id) const {
  auto it = std::lower_bound(macs_.begin(), macs_.end(), id, [](const Mac& m, std::uint32_t x) { return m.id() < x; });
  return it != macs_.end() && it->id() == id ? &*it : nullptr;
}

MacCheck check_mac(const wire::NtpPacket& p, const Mac& mac) {
  if (!p.has_mac) return MacCheck::kNone;
  if (p.mac.key_id == 0) return MacCheck::kCryptoNak;
  if (p.mac.key_id != mac.id()) return MacCheck::kOtherKey;
  return mac.verify(p.authenticated.data(), p.authenticated.size(), p.mac.digest.data(), p.mac.digest.size())
             ? MacCheck::kVerified
             : MacCheck::kBadMac;
}

std::size_t sign(const Mac& mac, std::uint8_t* packet, std::size_t size) {
  const wire::Be32 id = wire::Be32::of(mac.id());
  std::memcpy(packet + size, &id, sizeof id);
  mac.compute(packet, size, packet + size + 4);
  return size + 4 + mac.length();
}

std::size_t append_crypto_nak(std::uint8_t* packet, std::size_t size) {
  std::memset(packet + size, 0, kMacKeyIdLength);
  return size + 4;
}

}  // namespace linetime::auth
