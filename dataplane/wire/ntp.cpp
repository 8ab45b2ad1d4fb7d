#include "dataplane/wire/ntp.h"

#include <cstring>

namespace linetime::wire {

bool is_mac_length(std::size_t n) {
  return n == kNtpMacKeyIdLength + kNtpMacShortDigest || n == kNtpMacKeyIdLength + kNtpMacLongDigest;
}

NtpMac read_mac(Bytes b) {
  NtpMac mac;
  mac.key_id = overlay<Be32>(b)->get();
  mac.digest = b.subspan(kNtpMacKeyIdLength);
  return mac;
}

Parsed<NtpPacket> parse_ntp(Bytes payload) {
  NtpPacket p;
  p.header = overlay<NtpHeader>(payload);
  if (p.header == nullptr) return unexpected(ParseError::kTruncated);
  const unsigned version = p.header->version();
  if (version < kNtpMinVersion || version > kNtpMaxVersion) return unexpected(ParseError::kBadVersion);

  Bytes rest = payload.subspan(sizeof(NtpHeader));
  std::size_t authenticated = sizeof(NtpHeader);
  while (!rest.empty()) {
    if (rest.size() == kNtpMacKeyIdLength) {
      // Only a crypto-NAK (key identifier 0) is this short.
      if (overlay<Be32>(rest)->get() != 0) return unexpected(ParseError::kBadLength);
      p.has_mac = true;
      p.mac = read_mac(rest);
      break;
    }
    if (is_mac_length(rest.size())) {
      p.has_mac = true;
      p.mac = read_mac(rest);
      break;
    }
    // Anything else must be an extension field, which only NTPv4 has.
    if (version != 4) return unexpected(ParseError::kBadLength);
    if (rest.size() < kNtpMinExtensionLength) return unexpected(ParseError::kTruncated);
    const auto* ef = overlay<NtpExtensionHeader>(rest);
    const std::size_t len = ef->length.get();
    if (len < kNtpMinExtensionLength || len % 4 != 0) return unexpected(ParseError::kBadLength);
    if (len > rest.size()) return unexpected(ParseError::kTruncated);
    if (len == rest.size() && len < kNtpMinLastExtensionLength) return unexpected(ParseError::kBadLength);
    if (p.extension_count == kNtpMaxExtensions) return unexpected(ParseError::kUnsupported);
    p.extensions[p.extension_count++] = NtpExtension{ef->type.get(), rest.subspan(sizeof(NtpExtensionHeader), len - sizeof(NtpExtensionHeader))};
    authenticated += len;
    rest = rest.subspan(len);
  }
  p.authenticated = payload.first(authenticated);
  return p;
}

std::size_t serialize_ntp(const NtpPacket& packet, MutableBytes out) {
  std::size_t need = sizeof(NtpHeader);
  for (std::size_t i = 0; i < packet.extension_count; ++i) need += sizeof(NtpExtensionHeader) + packet.extensions[i].value.size();
  if (packet.has_mac) need += kNtpMacKeyIdLength + packet.mac.digest.size();
  if (packet.header == nullptr || out.size() < need) return 0;

  std::uint8_t* w = out.data();
  std::memcpy(w, packet.header, sizeof(NtpHeader));
  w += sizeof(NtpHeader);
  for (std::size_t i = 0; i < packet.extension_count; ++i) {
    const NtpExtension& e = packet.extensions[i];
    NtpExtensionHeader h{Be16::of(e.type), Be16::of(static_cast<std::uint16_t>(sizeof(NtpExtensionHeader) + e.value.size()))};
    std::memcpy(w, &h, sizeof h);
    w += sizeof h;
    if (!e.value.empty()) std::memcpy(w, e.value.data(), e.value.size());
    w += e.value.size();
  }
  if (packet.has_mac) {
    const Be32 key = Be32::of(packet.mac.key_id);
    std::memcpy(w, &key, sizeof key);
    w += sizeof key;
    if (!packet.mac.digest.empty()) std::memcpy(w, packet.mac.digest.data(), packet.mac.digest.size());
    w += packet.mac.digest.size();
  }
  return need;
}

}  // namespace linetime::wire
