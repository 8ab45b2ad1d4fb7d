// The symmetric keys file of ntpd and ntpsec (ntp.keys(5)), the one the seeds
// name with `keys /etc/ntp/keys`: one key per line,
//
//   keyno type key        # comment
//
// keyno 1..65535 (0 is the crypto-NAK's and cannot be set); type a digest
// (MD5, SHA1, SHA256, ...: the MAC is the digest of secret || packet, cut to
// 20 octets) or a cipher used as CMAC (AES = AES-128, AES128CMAC as ntp
// classic writes it, AES-192, AES-256: the MAC is the CMAC of the packet,
// the secret cut or zero-padded to the cipher's key length); key up to 20
// printable characters taken as they are, or longer and then hexadecimal
// (at most 32 octets). Names are case-insensitive; as ntpsec does, an unknown
// type that starts with 'M' means MD5, and is reported.
//
// The parser is pure: it takes the file's text and returns the keys it could
// read and, for every line it could not use as written, a problem that names
// the line and the fix. Secrets stay in memory only as long as their owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetime::auth {

inline constexpr std::uint32_t kMinKeyId = 1;
inline constexpr std::uint32_t kMaxKeyId = 65535;  // above: Autokey's (NTP_MAXKEY)
inline constexpr std::size_t kMaxAsciiKey = 20;     // longer keys are hexadecimal
inline constexpr std::size_t kMaxSecret = 32;       // octets, after hex decoding
// Digests and CMACs longer than this are truncated in the packet (ntpsec's
// MAX_BARE_MAC_LENGTH): the legacy MAC field holds 16 or 20 octets.
inline constexpr std::size_t kMaxMacDigest = 20;

enum class Algorithm : std::uint8_t {
  kMd5,
  kSha1,
  kSha224,
  kSha256,
  kSha384,
  kSha512,
  kSha3_224,
  kSha3_256,
  kSha3_384,
  kSha3_512,
  kAes128Cmac,
  kAes192Cmac,
  kAes256Cmac,
};

// The name as the keys file writes it ("MD5", "SHA1", "AES", ...).
const char* to_string(Algorithm a);
bool is_cmac(Algorithm a);
// Octets of the digest in the MAC field (after truncation): 16 or 20.
std::size_t digest_length(Algorithm a);
// Octets a CMAC key has (16, 24, 32); 0 for digests, which take any length.
std::size_t cmac_key_length(Algorithm a);
// The type column, case-insensitive, with ntpsec's aliases (SHA-1, AES,
// AES-128, AES128CMAC); nullopt when not supported.
std::optional<Algorithm> algorithm_from_name(std::string_view name);
// Every name algorithm_from_name() accepts, for messages.
const std::vector<std::string_view>& algorithm_names();

struct Key {
  std::uint32_t id = 0;
  Algorithm algorithm = Algorithm::kMd5;
  std::vector<std::uint8_t> secret;  // CMAC: already cut or padded to the key length
  bool operator==(const Key&) const = default;
};

struct KeysProblem {
  bool error = true;    // false: the key is used, with the change the message names
  int line = 0;         // 1-based
  std::string message;  // names the problem and the fix
};

struct KeysFile {
  std::vector<Key> keys;  // sorted by id; a later line for the same id replaces an earlier one
  std::vector<KeysProblem> problems;
  const Key* find(std::uint32_t id) const;
};

KeysFile parse_keys(std::string_view text);

// Why a keys file at `path` may be read by others than its owner (group or
// world permissions), or nullopt; the fix is in the message.
std::optional<std::string> keys_file_exposure(const std::string& path);

}  // namespace linetime::auth
