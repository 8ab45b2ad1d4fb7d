#include "dataplane/wire/address.h"

#include <cstdio>

namespace linetime::wire {

namespace {

constexpr char kHex[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a dotted quad that must fill `text` exactly.
bool read_dotted_quad(std::string_view text, std::uint32_t& out) {
  std::uint32_t value = 0;
  std::size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return false;
      ++pos;
    }
    const std::size_t start = pos;
    unsigned octet = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
      octet = octet * 10 + static_cast<unsigned>(text[pos] - '0');
      ++pos;
    }
    const std::size_t digits = pos - start;
    if (digits == 0 || octet > 255) return false;
    if (digits > 1 && text[start] == '0') return false;
    value = (value << 8) | octet;
  }
  if (pos != text.size()) return false;
  out = value;
  return true;
}

void append_hex16(std::string& s, unsigned v) {
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (v >> shift) & 0xfu;
    if (nibble != 0 || started || shift == 0) {
      s.push_back(kHex[nibble]);
      started = true;
    }
  }
}

}  // namespace

Ipv6Address solicited_node_multicast(const Ipv6Address& a) {
  Ipv6Address g{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0}};
  g.bytes[13] = a.bytes[13];
  g.bytes[14] = a.bytes[14];
  g.bytes[15] = a.bytes[15];
  return g;
}

MacAddress multicast_mac(const Ipv6Address& group) {
  return MacAddress{{0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

MacAddress multicast_mac(Ipv4Address group) {
  const auto low7 = static_cast<std::uint8_t>(group.octet(1) & 0x7fu);
  return MacAddress{{0x01, 0x00, 0x5e, low7, group.octet(2), group.octet(3)}};
}

std::string to_string(const MacAddress& a) {
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    if (i > 0) s.push_back(':');
    s.push_back(kHex[a.bytes[i] >> 4]);
    s.push_back(kHex[a.bytes[i] & 0xfu]);
  }
  return s;
}

std::string to_string(Ipv4Address a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", unsigned{a.octet(0)}, unsigned{a.octet(1)}, unsigned{a.octet(2)},
                unsigned{a.octet(3)});
  return buf;
}

std::string to_string(const Ipv6Address& a) {
  if (a.is_v4_mapped()) {
    return "::ffff:" + to_string(Ipv4Address::of(a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]));
  }
  unsigned groups[8];
  for (std::size_t i = 0; i < 8; ++i) groups[i] = (unsigned{a.bytes[2 * i]} << 8) | a.bytes[2 * i + 1];

  // RFC 5952 section 4.2: "::" replaces the longest run of two or more zero
  // groups, the first one when two runs are equally long.
  int best_start = -1;
  int best_len = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }

  std::string s;
  s.reserve(39);
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s.push_back(':');
    append_hex16(s, groups[i]);
  }
  return s;
}

Parsed<MacAddress> parse_mac_address(std::string_view text) {
  if (text.size() != 17) return unexpected(ParseError::kBadAddress);
  const char sep = text[2];
  if (sep != ':' && sep != '-') return unexpected(ParseError::kBadAddress);
  MacAddress a;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = 3 * i;
    if (i > 0 && text[at - 1] != sep) return unexpected(ParseError::kBadAddress);
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return unexpected(ParseError::kBadAddress);
    a.bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return a;
}

Parsed<Ipv4Address> parse_ipv4_address(std::string_view text) {
  std::uint32_t v = 0;
  if (!read_dotted_quad(text, v)) return unexpected(ParseError::kBadAddress);
  return Ipv4Address{v};
}

Parsed<Ipv6Address> parse_ipv6_address(std::string_view text) {
  // Groups before and after a "::" are collected separately, then the gap is
  // filled with zeros. A dotted quad may stand for the last two groups.
  std::uint16_t head[8];
  std::uint16_t tail[8];
  std::size_t head_n = 0;
  std::size_t tail_n = 0;
  bool gap = false;

  std::size_t pos = 0;
  if (text.substr(0, 2) == "::") {
    gap = true;
    pos = 2;
  } else if (!text.empty() && text[0] == ':') {
    return unexpected(ParseError::kBadAddress);
  }

  while (pos < text.size()) {
    std::uint16_t* groups = gap ? tail : head;
    std::size_t& n = gap ? tail_n : head_n;
    if (head_n + tail_n >= 8) return unexpected(ParseError::kBadAddress);

    // A dotted quad ends the address and counts for two groups.
    const std::size_t next_colon = text.find(':', pos);
    const std::size_t field_len = next_colon == std::string_view::npos ? text.npos : next_colon - pos;
    const std::string_view field = text.substr(pos, field_len);
    if (field.find('.') != std::string_view::npos) {
      std::uint32_t v4 = 0;
      if (next_colon != std::string_view::npos || head_n + tail_n > 6 || !read_dotted_quad(field, v4)) {
        return unexpected(ParseError::kBadAddress);
      }
      groups[n++] = static_cast<std::uint16_t>(v4 >> 16);
      groups[n++] = static_cast<std::uint16_t>(v4);
      pos = text.size();
      break;
    }

    if (field.empty() || field.size() > 4) return unexpected(ParseError::kBadAddress);
    unsigned v = 0;
    for (char c : field) {
      const int h = hex_value(c);
      if (h < 0) return unexpected(ParseError::kBadAddress);
      v = (v << 4) | static_cast<unsigned>(h);
    }
    groups[n++] = static_cast<std::uint16_t>(v);
    pos += field.size();
    if (pos == text.size()) break;

    // A separator: ':' then another group, or "::" once.
    ++pos;
    if (pos < text.size() && text[pos] == ':') {
      if (gap) return unexpected(ParseError::kBadAddress);
      gap = true;
      ++pos;
    } else if (pos == text.size()) {
      return unexpected(ParseError::kBadAddress);  // trailing single ':'
    }
  }

  const std::size_t total = head_n + tail_n;
  if (gap ? total > 7 : total != 8) return unexpected(ParseError::kBadAddress);
  Ipv6Address a;
  for (std::size_t i = 0; i < head_n; ++i) {
    a.bytes[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    a.bytes[2 * i + 1] = static_cast<std::uint8_t>(head[i]);
  }
  for (std::size_t i = 0; i < tail_n; ++i) {
    const std::size_t g = 8 - tail_n + i;
    a.bytes[2 * g] = static_cast<std::uint8_t>(tail[i] >> 8);
    a.bytes[2 * g + 1] = static_cast<std::uint8_t>(tail[i]);
  }
  return a;
}

}  // namespace linetime::wire
