// NTP packet layout (RFC 5905 section 7.3), extension fields (RFC 7822) and the
// legacy symmetric-key MAC (key identifier + MD5 or SHA-1 digest).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/wire/bytes.h"
#include "hwclock/ntp_time.h"

namespace linetime::wire {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |LI | VN  |Mode |    Stratum     |     Poll      |  Precision   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                         Root Delay                            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                         Root Dispersion                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                          Reference ID                         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                     Reference Timestamp (64)                  +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                      Origin Timestamp (64)                    +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                      Receive Timestamp (64)                   +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                      Transmit Timestamp (64)                  +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// .                    Extension Field 1 (variable)               .
// .                    Extension Field 2 (variable)               .
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                          Key Identifier                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                            dgst (128 or 160)                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct NtpHeader {
  std::uint8_t li_vn_mode;
  std::uint8_t stratum;
  std::int8_t poll;
  std::int8_t precision;
  Be32 root_delay;       // NtpShort
  Be32 root_dispersion;  // NtpShort
  Be32 reference_id;
  Be64 reference_ts;
  Be64 origin_ts;
  Be64 receive_ts;
  Be64 transmit_ts;

  constexpr unsigned leap() const { return li_vn_mode >> 6; }
  constexpr unsigned version() const { return (li_vn_mode >> 3) & 7u; }
  constexpr unsigned mode() const { return li_vn_mode & 7u; }
};
static_assert(sizeof(NtpHeader) == 48);
static_assert(offsetof(NtpHeader, root_delay) == 4);
static_assert(offsetof(NtpHeader, reference_id) == 12);
static_assert(offsetof(NtpHeader, reference_ts) == 16);
static_assert(offsetof(NtpHeader, origin_ts) == 24);
static_assert(offsetof(NtpHeader, receive_ts) == 32);
static_assert(offsetof(NtpHeader, transmit_ts) == 40);

constexpr std::uint8_t ntp_li_vn_mode(unsigned leap, unsigned version, unsigned mode) {
  return static_cast<std::uint8_t>(((leap & 3u) << 6) | ((version & 7u) << 3) | (mode & 7u));
}

enum class NtpMode : std::uint8_t {
  kReserved = 0,
  kSymmetricActive = 1,
  kSymmetricPassive = 2,
  kClient = 3,
  kServer = 4,
  kBroadcast = 5,
  kControl = 6,   // RFC 9327 (ntpq)
  kPrivate = 7,   // ntpdc; the monlist amplifier. Never answered.
};

enum class Leap : std::uint8_t {
  kNone = 0,
  kInsert = 1,   // last minute of the day has 61 seconds
  kDelete = 2,   // last minute of the day has 59 seconds
  kUnsync = 3,   // clock unsynchronized (alarm)
};

inline constexpr std::uint16_t kNtpPort = 123;
inline constexpr std::uint8_t kStratumUnsync = 16;
inline constexpr unsigned kNtpMinVersion = 1;
inline constexpr unsigned kNtpMaxVersion = 4;

// RFC 7822 extension field header: type, length of the whole field in octets
// (a multiple of 4, at least 16), then value and padding.
struct NtpExtensionHeader {
  Be16 type;
  Be16 length;
};
static_assert(sizeof(NtpExtensionHeader) == 4);

inline constexpr std::size_t kNtpMinExtensionLength = 16;
// Without a MAC behind it, the last extension field must be at least 28 octets
// long so it cannot be mistaken for a legacy MAC (RFC 7822 section 7.5).
inline constexpr std::size_t kNtpMinLastExtensionLength = 28;
inline constexpr std::size_t kNtpMaxExtensions = 8;

// Legacy MAC: 32-bit key identifier followed by a 16-octet (MD5, AES-CMAC) or
// 20-octet (SHA-1) digest. A MAC of just the key identifier 0 is a crypto-NAK.
inline constexpr std::size_t kNtpMacKeyIdLength = 4;
inline constexpr std::size_t kNtpMacShortDigest = 16;
inline constexpr std::size_t kNtpMacLongDigest = 20;

struct NtpExtension {
  std::uint16_t type = 0;
  Bytes value;  // everything after the 4-octet header, padding included
};

struct NtpMac {
  std::uint32_t key_id = 0;
  Bytes digest;  // empty for a crypto-NAK
};

// Whether `n` octets after the header and extension fields are a legacy
// MAC (key identifier and a 16- or 20-octet digest), and that MAC's fields.
bool is_mac_length(std::size_t n);
NtpMac read_mac(Bytes b);

// A validated NTP packet: views into the caller's buffer, valid while it lives.
struct NtpPacket {
  const NtpHeader* header = nullptr;
  NtpExtension extensions[kNtpMaxExtensions];
  std::size_t extension_count = 0;
  bool has_mac = false;
  NtpMac mac;
  Bytes authenticated;  // header plus extension fields: what the MAC covers
};

// Splits a UDP payload into header, extension fields and MAC. Versions 1 to 4
// are accepted (their header is the same 48 octets); anything after the header
// must form valid RFC 7822 extension fields optionally followed by a MAC.
// Never reads outside `payload`.
Parsed<NtpPacket> parse_ntp(Bytes payload);

// Writes a packet's bytes: header, extension fields, MAC. Returns the length
// written, or 0 when `out` is too small. `parse_ntp(serialize)` gives back the
// same bytes (the round trip the fuzz target checks).
std::size_t serialize_ntp(const NtpPacket& packet, MutableBytes out);

inline hwclock::NtpTimestamp load_ts(const Be64& b) { return hwclock::NtpTimestamp::from_raw(b.get()); }
inline void store_ts(Be64& b, hwclock::NtpTimestamp t) { b.set(t.raw()); }
inline hwclock::NtpShort load_short(const Be32& b) { return hwclock::NtpShort::from_raw(b.get()); }
inline void store_short(Be32& b, hwclock::NtpShort s) { b.set(s.raw()); }

}  // namespace linetime::wire
