#include "dataplane/acl.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace linetime::dataplane {

using shm::AclEntry;

namespace {

// `address` with the bits beyond `length` cleared.
void mask_into(std::uint8_t* out, const std::uint8_t* address, std::size_t octets, unsigned length) {
  for (std::size_t i = 0; i < octets; ++i) {
    const unsigned bits = length >= 8 * (i + 1) ? 8 : (length > 8 * i ? length - 8 * i : 0);
    out[i] = bits == 0 ? 0 : static_cast<std::uint8_t>(address[i] & (0xFF << (8 - bits)));
  }
  for (std::size_t i = octets; i < 16; ++i) out[i] = 0;
}

bool entry_before(const AclEntry& a, const AclEntry& b) {
  if (a.length != b.length) return a.length < b.length;
  return std::memcmp(a.address, b.address, 16) < 0;
}

struct Accumulated {
  AclEntry entry;
  std::uint32_t plain = 0, ntpport = 0;
  bool has_plain = false, has_ntpport = false;
};

using Key = std::tuple<std::uint8_t, std::array<std::uint8_t, 16>>;

Key key_of(const std::uint8_t* address, std::uint8_t length) {
  std::array<std::uint8_t, 16> a{};
  std::memcpy(a.data(), address, 16);
  return {length, a};
}

std::vector<AclEntry> resolve(std::map<Key, Accumulated>& acc, std::size_t octets) {
  // The family's default always exists: ntpd's built-in entry, flags 0.
  std::array<std::uint8_t, 16> zero{};
  auto& root = acc[Key{0, zero}];
  root.entry.family = octets == 4 ? 4 : 6;
  if (!root.has_plain) root.has_plain = true;  // flags 0 when no `restrict default` said otherwise

  std::vector<std::uint8_t> lengths;
  for (const auto& [k, a] : acc) {
    if (lengths.empty() || lengths.back() != std::get<0>(k)) lengths.push_back(std::get<0>(k));
  }
  std::vector<AclEntry> out;
  out.reserve(acc.size());
  // The map iterates by length, shortest first: every prefix's enclosing
  // prefixes are resolved before it.
  for (auto& [k, a] : acc) {
    const std::uint8_t length = std::get<0>(k);
    std::uint32_t parent_plain = 0, parent_ntpport = 0;
    for (auto l = lengths.rbegin(); l != lengths.rend(); ++l) {
      if (*l >= length) continue;
      std::uint8_t masked[16];
      mask_into(masked, a.entry.address, octets, *l);
      const auto p = acc.find(key_of(masked, *l));
      if (p == acc.end()) continue;
      parent_plain = p->second.entry.flags;
      parent_ntpport = p->second.entry.flags_ntpport;
      break;
    }
    a.entry.flags = a.has_plain ? a.plain : parent_plain;
    a.entry.flags_ntpport = a.has_ntpport ? a.ntpport : (a.has_plain ? a.plain : parent_ntpport);
    out.push_back(a.entry);
  }
  std::sort(out.begin(), out.end(), entry_before);
  return out;
}

}  // namespace

std::uint8_t actions_of(std::uint32_t flags, bool all_limited) {
  if ((flags & shm::kAclIgnore) != 0) return kActIgnore;
  if ((flags & shm::kAclNoserve) != 0) return kActNoserve;
  std::uint8_t a = 0;
  if ((flags & shm::kAclVersion) != 0) a |= kActVersion;
  if ((flags & shm::kAclLimited) != 0 || all_limited) {
    a |= kActLimited;
    if ((flags & shm::kAclKod) != 0) a |= kActKod;
  }
  if ((flags & shm::kAclNotrust) != 0) a |= kActNotrust;
  return a;
}

// 0..5: version x {not limited, limited, limited + kod}; 6: ignore; 7: noserve;
// 8..13: 0..5 with notrust.
std::uint8_t encode_actions(std::uint8_t a) {
  if ((a & kActIgnore) != 0) return 6;
  if ((a & kActNoserve) != 0) return 7;
  const unsigned limit = (a & kActLimited) == 0 ? 0 : ((a & kActKod) != 0 ? 2 : 1);
  const unsigned notrust = (a & kActNotrust) != 0 ? 8 : 0;
  return static_cast<std::uint8_t>(notrust + ((a & kActVersion) != 0 ? 1 : 0) + 2 * limit);
}

std::uint8_t encode_pair(AclActions a) {
  return static_cast<std::uint8_t>(encode_actions(a.other) << 4 | encode_actions(a.ntpport));
}

AclRule AclRule::default_rule(std::uint32_t flags, std::uint8_t family) {
  AclRule r;
  r.target = Target::kDefault;
  r.family = family;
  r.flags = flags;
  return r;
}

AclRule AclRule::ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t length,
                      std::uint32_t flags) {
  AclRule r;
  r.target = Target::kPrefix;
  r.family = 4;
  r.address[0] = a;
  r.address[1] = b;
  r.address[2] = c;
  r.address[3] = d;
  r.length = length;
  r.flags = flags;
  return r;
}

AclRule AclRule::ipv6(const std::uint8_t* address, std::uint8_t length, std::uint32_t flags) {
  AclRule r;
  r.target = Target::kPrefix;
  r.family = 6;
  std::memcpy(r.address, address, 16);
  r.length = length;
  r.flags = flags;
  return r;
}

CompiledAcl compile_restrict(std::span<const AclRule> rules, const shm::AclRateLimit& rate) {
  std::map<Key, Accumulated> v4, v6;
  auto add = [](std::map<Key, Accumulated>& into, std::uint8_t family, const std::uint8_t* address, unsigned length,
                std::uint32_t flags) {
    const std::size_t octets = family == 4 ? 4 : 16;
    length = std::min<unsigned>(length, 8 * static_cast<unsigned>(octets));
    std::uint8_t masked[16];
    mask_into(masked, address, octets, length);
    Accumulated& a = into[key_of(masked, static_cast<std::uint8_t>(length))];
    std::memcpy(a.entry.address, masked, 16);
    a.entry.length = static_cast<std::uint8_t>(length);
    a.entry.family = family;
    // Rules for the same prefix add up (ntpd's hack_restrict ORs the flags
    // into the existing entry); `ntpport` rules are entries of their own.
    if ((flags & shm::kAclNtpport) != 0) {
      a.ntpport |= flags & ~shm::kAclNtpport;
      a.has_ntpport = true;
    } else {
      a.plain |= flags;
      a.has_plain = true;
    }
  };
  static const std::uint8_t kZero[16] = {};
  for (const AclRule& r : rules) {
    if (r.target == AclRule::Target::kDefault) {
      if (r.family != 6) add(v4, 4, kZero, 0, r.flags);
      if (r.family != 4) add(v6, 6, kZero, 0, r.flags);
    } else {
      add(r.family == 4 ? v4 : v6, r.family == 4 ? 4 : 6, r.address, r.length, r.flags);
    }
  }
  CompiledAcl out;
  out.rate = rate;
  out.v4 = resolve(v4, 4);
  out.v6 = resolve(v6, 16);
  return out;
}

CompiledAcl from_table(const shm::AclTableView& table) {
  CompiledAcl out;
  out.rate = table.rate;
  out.v4 = table.v4;
  out.v6 = table.v6;
  // A table from elsewhere is put in order and given its defaults, so that
  // match() and the FIB can rely on both.
  auto fix = [](std::vector<AclEntry>& v, std::uint8_t family) {
    std::sort(v.begin(), v.end(), entry_before);
    if (v.empty() || v.front().length != 0) {
      AclEntry d;
      d.family = family;
      v.insert(v.begin(), d);
    }
  };
  fix(out.v4, 4);
  fix(out.v6, 6);
  return out;
}

std::vector<std::uint8_t> serialize(const CompiledAcl& acl) { return shm::serialize_acl(acl.rate, acl.v4, acl.v6); }

const AclEntry& CompiledAcl::match(const std::uint8_t* address, std::size_t length) const {
  const std::vector<AclEntry>& v = length == 4 ? v4 : v6;
  const unsigned max = length == 4 ? 32 : 128;
  AclEntry probe;
  for (int l = static_cast<int>(max); l > 0; --l) {
    probe.length = static_cast<std::uint8_t>(l);
    mask_into(probe.address, address, length, static_cast<unsigned>(l));
    const auto it = std::lower_bound(v.begin(), v.end(), probe, entry_before);
    if (it != v.end() && it->length == probe.length && std::memcmp(it->address, probe.address, 16) == 0) return *it;
  }
  return v.front();
}

std::uint32_t CompiledAcl::flags_for(const std::uint8_t* address, std::size_t length, std::uint16_t port) const {
  const AclEntry& e = match(address, length);
  return port == wire::kNtpPort ? e.flags_ntpport : e.flags;
}

AclActions CompiledAcl::actions(const AclEntry& e) const {
  const bool all = rate.all_limited != 0;
  return AclActions{actions_of(e.flags, all), actions_of(e.flags_ntpport, all)};
}

PrefixAccessControl::PrefixAccessControl(CompiledAcl acl) : acl_(std::move(acl)) {
  rate_ = acl_.rate;
  limits_ = rate_.all_limited != 0;
  for (const auto* v : {&acl_.v4, &acl_.v6}) {
    for (const AclEntry& e : *v) {
      const AclActions a = acl_.actions(e);
      if (((a.other | a.ntpport) & kActLimited) != 0) limits_ = true;
    }
  }
}

void AccessControl::lookup4_bulk(const std::uint32_t* addresses, std::uint64_t* codes, unsigned n) const {
  for (unsigned i = 0; i < n; ++i) {
    const std::uint32_t a = addresses[i];
    const std::uint8_t octets[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                    static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
    codes[i] = encode_pair(lookup4(octets));
  }
}

AclActions PrefixAccessControl::lookup(const std::uint8_t* address, std::size_t length) const {
  return acl_.actions(acl_.match(address, length));
}

}  // namespace linetime::dataplane
