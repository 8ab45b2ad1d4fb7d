#include "dataplane/loadgen/traffic.h"

#include <cstring>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::loadgen {

namespace {

constexpr std::size_t kIpOffset = 14;
constexpr std::size_t kUdpOffset = 14 + 20;

std::uint32_t words64(std::uint64_t v) {
  return static_cast<std::uint32_t>((v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff));
}

std::uint16_t fold(std::uint32_t s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// Big-endian 64-bit store and load: one byte swap and one unaligned move each.
void put64(std::uint8_t* p, std::uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

std::uint64_t get64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Signed 32.32 difference a - b, as the raw two's-complement value.
std::int64_t diff(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a - b); }

}  // namespace

RequestTemplates::RequestTemplates(const RequestConfig& c) : population_(c.population) {
  templates_.resize(c.population.addresses);
  std::uint8_t ntp[kMaxRequestFrameLength - kNtpOffset] = {};
  ntp[0] = wire::ntp_li_vn_mode(0, c.version, static_cast<unsigned>(wire::NtpMode::kClient));
  ntp[2] = static_cast<std::uint8_t>(c.poll);
  ntp[3] = 0xE9;  // precision 2^-23 s: a client's clock read through the TSC
  std::size_t ntp_length = 48;
  if (c.key) {
    mac_.emplace(*c.key);
    // The key identifier now; the digest, per packet, is zero in the template.
    ntp_length = auth::sign(*mac_, ntp, 48);
    std::memset(ntp + 48 + auth::kMacKeyIdLength, 0, mac_->length());
    frame_length_ = kNtpOffset + ntp_length;
  }
  for (std::uint32_t a = 0; a < c.population.addresses; ++a) {
    Template& t = templates_[a];
    t.frame.fill(0);
    wire::MutableBytes b(t.frame.data(), t.frame.size());
    const wire::Ipv4Address src{c.population.first_address.value + a};
    wire::write_ethernet(b, c.dst_mac, c.src_mac, wire::kEtherTypeIpv4);
    const std::size_t u = wire::write_udp(b.subspan(kUdpOffset), src, c.dst, 0, c.dst_port, wire::Bytes(ntp, ntp_length));
    wire::Ipv4Fields ip;
    ip.src = src;
    ip.dst = c.dst;
    wire::write_ipv4(b.subspan(kIpOffset), ip, u);
    // The datagram's sum with source port and checksum zero.
    t.frame[kUdpOffset + 6] = t.frame[kUdpOffset + 7] = 0;
    t.sum = wire::ones_sum(wire::Bytes(t.frame.data() + kUdpOffset, u),
                           wire::pseudo_header_sum(src, c.dst, wire::kIpProtoUdp, static_cast<std::uint16_t>(u)));
  }
}

std::uint32_t RequestTemplates::sign(std::uint8_t* frame) const {
  std::uint8_t* digest = frame + kNtpOffset + 48 + auth::kMacKeyIdLength;
  mac_->compute(frame + kNtpOffset, 48, digest);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < mac_->length(); i += 2) sum += (std::uint32_t{digest[i]} << 8) | digest[i + 1];
  return sum;
}

void RequestTemplates::write(std::uint64_t client, std::uint8_t* out, std::uint64_t origin, std::uint64_t receive,
                             std::uint64_t transmit) const {
  const std::uint32_t a = static_cast<std::uint32_t>(client % population_.addresses);
  const auto port = static_cast<std::uint16_t>(population_.first_port + client / population_.addresses);
  const Template& t = templates_[a];
  std::uint32_t digest_sum = 0;
  std::uint8_t* ntp = out + kNtpOffset;
  if (mac_) [[unlikely]] {
    std::memcpy(out, t.frame.data(), frame_length_);
    put64(ntp + 24, origin);
    put64(ntp + 32, receive);
    put64(ntp + 40, transmit);
    digest_sum = sign(out);
  } else {
    std::memcpy(out, t.frame.data(), kRequestFrameLength);
    put64(ntp + 24, origin);
    put64(ntp + 32, receive);
    put64(ntp + 40, transmit);
  }
  out[kUdpOffset] = static_cast<std::uint8_t>(port >> 8);
  out[kUdpOffset + 1] = static_cast<std::uint8_t>(port);
  const std::uint16_t c = static_cast<std::uint16_t>(
      ~fold(t.sum + port + words64(origin) + words64(receive) + words64(transmit) + digest_sum));
  const std::uint16_t stored = c == 0 ? 0xffff : c;  // zero would mean "no checksum"
  out[kUdpOffset + 6] = static_cast<std::uint8_t>(stored >> 8);
  out[kUdpOffset + 7] = static_cast<std::uint8_t>(stored);
}

void RequestTemplates::write_basic_burst(std::uint64_t first, std::uint8_t* const* out, unsigned n,
                                         std::uint64_t transmit) const {
  if (mac_) [[unlikely]] {
    // One MAC per request: the copy and sums below are not where the time goes.
    const std::uint64_t clients = population_.clients();
    std::uint64_t c = first % clients;
    for (unsigned i = 0; i < n; ++i) {
      write(c, out[i], 0, 0, transmit);
      if (++c == clients) c = 0;
    }
    return;
  }
  std::uint32_t a = static_cast<std::uint32_t>(first % population_.addresses);
  std::uint32_t pi = static_cast<std::uint32_t>(first / population_.addresses);
  const std::uint32_t tw = words64(transmit);
  std::uint64_t be;
  const std::uint64_t t = __builtin_bswap64(transmit);
  std::memcpy(&be, &t, 8);
  for (unsigned i = 0; i < n; ++i) {
    const Template& tpl = templates_[a];
    std::uint8_t* o = out[i];
    const auto port = static_cast<std::uint16_t>(population_.first_port + pi);
    std::memcpy(o, tpl.frame.data(), kRequestFrameLength);
    o[kUdpOffset] = static_cast<std::uint8_t>(port >> 8);
    o[kUdpOffset + 1] = static_cast<std::uint8_t>(port);
    std::memcpy(o + kNtpOffset + 40, &be, 8);
    const auto c = static_cast<std::uint16_t>(~fold(tpl.sum + port + tw));
    const std::uint16_t stored = c == 0 ? 0xffff : c;
    o[kUdpOffset + 6] = static_cast<std::uint8_t>(stored >> 8);
    o[kUdpOffset + 7] = static_cast<std::uint8_t>(stored);
    if (++a == population_.addresses) {
      a = 0;
      if (++pi == population_.ports) pi = 0;
    }
  }
}

FrameKind classify(const std::uint8_t* p, std::size_t length, const Population& population, Answer& answer) {
  if (length < 14) return FrameKind::kOther;
  const unsigned ethertype = (unsigned{p[12]} << 8) | p[13];
  if (ethertype == wire::kEtherTypeArp) return FrameKind::kArpRequest;
  if (ethertype != wire::kEtherTypeIpv4 || length < kRequestFrameLength) return FrameKind::kOther;
  const std::uint8_t* ip = p + kIpOffset;
  if (ip[0] != 0x45 || ip[9] != wire::kIpProtoUdp) return FrameKind::kOther;
  const std::uint8_t* udp = p + kUdpOffset;
  if (udp[0] != 0 || udp[1] != wire::kNtpPort) return FrameKind::kOther;
  const std::size_t udp_length = (std::size_t{udp[4]} << 8) | udp[5];
  if (udp_length < 8 + 48 || kUdpOffset + udp_length > length) return FrameKind::kOther;
  const std::uint8_t* ntp = p + kNtpOffset;
  if ((ntp[0] & 7u) != static_cast<unsigned>(wire::NtpMode::kServer)) return FrameKind::kOther;
  const wire::Ipv4Address dst{(std::uint32_t{ip[16]} << 24) | (std::uint32_t{ip[17]} << 16) |
                              (std::uint32_t{ip[18]} << 8) | ip[19]};
  const auto dport = static_cast<std::uint16_t>((unsigned{udp[2]} << 8) | udp[3]);
  answer.client = population.client_of(dst, dport);
  if (answer.client >= population.clients()) return FrameKind::kOther;
  answer.leap = static_cast<std::uint8_t>(ntp[0] >> 6);
  answer.stratum = ntp[1];
  answer.origin = get64(ntp + 24);
  answer.receive = get64(ntp + 32);
  answer.transmit = get64(ntp + 40);
  answer.ntp_length = static_cast<std::uint16_t>(udp_length - 8);
  return FrameKind::kAnswer;
}

const char* to_string(AnswerAuth a) {
  switch (a) {
    case AnswerAuth::kVerified: return "verified";
    case AnswerAuth::kMacFailed: return "mac-failed";
    case AnswerAuth::kCryptoNak: return "crypto-nak";
    case AnswerAuth::kUnauthenticated: return "unauthenticated";
  }
  return "?";
}

AnswerAuth check_answer_mac(const std::uint8_t* ntp, std::size_t ntp_length, const auth::Mac& mac) {
  if (ntp_length == sizeof(wire::NtpHeader)) return AnswerAuth::kUnauthenticated;
  const auto parsed = wire::parse_ntp(wire::Bytes(ntp, ntp_length));
  if (!parsed) return AnswerAuth::kMacFailed;  // something behind the header, and not a MAC we can read
  switch (auth::check_mac(*parsed, mac)) {
    case auth::MacCheck::kVerified: return AnswerAuth::kVerified;
    case auth::MacCheck::kNone: return AnswerAuth::kUnauthenticated;  // extension fields only
    case auth::MacCheck::kCryptoNak: return AnswerAuth::kCryptoNak;
    case auth::MacCheck::kOtherKey:
    case auth::MacCheck::kBadMac: break;
  }
  return AnswerAuth::kMacFailed;
}

bool count_auth(AnswerAuth a, Tally& t) {
  switch (a) {
    case AnswerAuth::kVerified: ++t.auth_verified; return true;
    case AnswerAuth::kMacFailed: ++t.auth_mac_failed; return false;
    case AnswerAuth::kCryptoNak: ++t.auth_crypto_nak; return true;
    case AnswerAuth::kUnauthenticated: ++t.auth_unauthenticated; return true;
  }
  return false;
}

Exchanges::Exchanges(std::uint64_t clients, bool interleaved) : interleaved_(interleaved) {
  if (interleaved_) clients_.resize(clients);
}

void Exchanges::on_send(std::uint64_t client, std::uint64_t t1, std::uint64_t& origin, std::uint64_t& receive) {
  origin = receive = 0;
  if (!interleaved_) return;
  Client& c = clients_[client];
  c.asked_xleave = c.have_prev && !c.outstanding;
  if (c.asked_xleave) {
    origin = c.prev_t2;
    receive = c.prev_t4;
  }
  c.t1_out = t1;
  c.outstanding = 1;
}

Match Exchanges::on_answer(const Answer& a, std::uint64_t t4, std::uint64_t earliest_t1, Exchange& e) {
  if (interleaved_) {
    Client& c = clients_[a.client];
    if (c.outstanding && c.asked_xleave && c.have_prev && a.origin == c.prev_t4 && a.origin != 0) {
      // The previous exchange completed by the precise T3 of its answer.
      e = measure(c.prev_t1, c.prev_t2, a.transmit, c.prev_t4);
      c.prev_t1 = c.t1_out;
      c.prev_t2 = a.receive;
      c.prev_t4 = t4;
      c.outstanding = 0;
      return Match::kInterleaved;
    }
    if (a.origin == c.t1_out && c.outstanding) {
      c.prev_t1 = c.t1_out;
      c.prev_t2 = a.receive;
      c.prev_t4 = t4;
      c.have_prev = 1;
      c.outstanding = 0;
    }
  }
  // A basic answer: its origin is one of our T1s.
  if (a.origin == 0 || diff(a.origin, earliest_t1) < 0 || diff(t4, a.origin) < 0) return Match::kUnmatched;
  e = measure(a.origin, a.receive, a.transmit, t4);
  return Match::kBasic;
}

}  // namespace linetime::loadgen
