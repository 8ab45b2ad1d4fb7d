// Legacy NTP message authentication (RFC 5905 section 7.3, RFC 8573): the MAC
// behind the header and extension fields is a 32-bit key identifier and the
// digest of what precedes it, computed with nettle:
//   digest types: H(secret || packet), cut to 20 octets (ntpd, ntpsec);
//   CMAC types:   AES-CMAC(secret, packet) (RFC 8573), 16 octets.
//
// A KeyTable holds the trusted keys, each prepared once (CMAC subkeys and the
// AES key schedule); signing and verifying read it only, so one table serves
// every lcore. Verification compares in constant time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <nettle/aes.h>
#include <nettle/cmac.h>

#include "dataplane/auth/keys.h"
#include "dataplane/wire/ntp.h"

struct nettle_hash;

namespace linetime::auth {

// The MAC field's key identifier (a crypto-NAK is just this, zero).
inline constexpr std::size_t kMacKeyIdLength = 4;

// One key, ready to use.
class Mac {
 public:
  explicit Mac(const Key& key);

  std::uint32_t id() const { return id_; }
  Algorithm algorithm() const { return algorithm_; }
  // Octets of the digest in the MAC field (16 or 20).
  std::size_t length() const { return length_; }

  // The digest of `data` (header and extension fields), length() octets to `out`.
  void compute(const std::uint8_t* data, std::size_t size, std::uint8_t* out) const;
  // Whether `digest` (`digest_size` octets) is the digest of `data`; a digest
  // of another length never is. Constant time in the digest's contents.
  bool verify(const std::uint8_t* data, std::size_t size, const std::uint8_t* digest, std::size_t digest_size) const;

 private:
  std::uint32_t id_;
  Algorithm algorithm_;
  std::size_t length_;
  // Digest types.
  const nettle_hash* hash_ = nullptr;
  std::uint8_t secret_[kMaxSecret] = {};
  std::size_t secret_size_ = 0;
  // CMAC types: the cipher's encryption schedule and the two CMAC subkeys.
  union Cipher {
    aes128_ctx aes128;
    aes192_ctx aes192;
    aes256_ctx aes256;
  } cipher_{};
  nettle_cipher_func* encrypt_ = nullptr;
  cmac128_key cmac_key_{};
};

// The keys a server or client may use: those of the keys file that
// `trustedkey` lists (ntpd uses no other for authentication).
class KeyTable {
 public:
  KeyTable() = default;
  KeyTable(const std::vector<Key>& keys, const std::vector<std::uint32_t>& trusted);

  // The trusted key `id`, or nullptr.
  const Mac* find(std::uint32_t id) const;
  std::size_t size() const { return macs_.size(); }
  bool empty() const { return macs_.empty(); }

 private:
  std::vector<Mac> macs_;  // sorted by id
};

// What a parsed packet's MAC says about it, for the key `mac` expected.
enum class MacCheck : std::uint8_t {
  kVerified,   // a MAC with that key, and it verifies
  kNone,       // no MAC
  kCryptoNak,  // key identifier 0: the peer does not accept our key
  kOtherKey,   // a MAC with another key
  kBadMac,     // that key, and it does not verify
};
MacCheck check_mac(const wire::NtpPacket& packet, const Mac& mac);

// Appends a MAC with `mac` to the `size` octets at `packet` (which must have
// room for 4 + mac.length() more); returns the new length.
std::size_t sign(const Mac& mac, std::uint8_t* packet, std::size_t size);
// Appends a crypto-NAK (key identifier 0, no digest); returns the new length.
std::size_t append_crypto_nak(std::uint8_t* packet, std::size_t size);

}  // namespace linetime::auth
