// The dataplane's per-frame logic, without DPDK: classify a received Ethernet
// frame and, where the dataplane answers it itself, turn the frame into its
// answer in place (the mbuf goes straight back out).
//
//   ARP request for one of our IPv4 addresses      -> ARP reply
//   ICMP / ICMPv6 echo request to one of ours       -> echo reply
//   IPv6 neighbour solicitation for one of ours     -> neighbour advertisement
//   NTP request to UDP/123 on one of ours           -> access list, then Responder
//   anything to one of ours from a multicast, broadcast, unspecified,
//   loopback or our own source address              -> dropped, counted by reason
//   NTP reply to one of the control's client ports  -> the control's ring
//   frames to another MAC or malformed              -> dropped, counted by reason
//   everything else for us (SSH, DHCP, ARP replies, router advertisements...)
//                                                    -> the kernel, through the exception port
//
// 802.1Q/802.1ad tags are kept on answers. Answers are never longer than the
// request but for the Ethernet minimum (60 octets).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "dataplane/address_set.h"
#include "dataplane/counters.h"
#include "dataplane/responder.h"
#include "dataplane/wire/address.h"
#include "dataplane/wire/bytes.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ip.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/checksum.h"
#include "dataplane/wire/udp.h"
#include "hwclock/time.h"

namespace linetime::dataplane {

// The addresses this dataplane answers for, and the control's client ports.
// `ipv4` and `ipv6` are the static addresses (--address); the addresses
// learned from the kernel come on top of them as a published AddressSet
// (FrameProcessor::set_addresses).
struct LocalConfig {
  wire::MacAddress mac;
  std::vector<wire::Ipv4Address> ipv4;
  std::vector<wire::Ipv6Address> ipv6;
  std::vector<std::uint16_t> vlans;        // VLAN ids answered on; untagged frames always are
  std::uint16_t upstream_port_min = 0;     // UDP ports the control sends upstream requests from
  std::uint16_t upstream_port_max = 0;
  bool fast_path = true;                   // off only to compare the two paths in tests

  bool has(wire::Ipv4Address a) const { return std::ranges::find(ipv4, a) != ipv4.end(); }  // in line: per request
  bool has(const wire::Ipv6Address& a) const;
};

enum class Action : std::uint8_t {
  kTransmit,   // the frame now holds the answer: send `length` octets back out
  kDrop,       // count `counter` and free it
  kException,  // give the frame, unchanged, to the kernel
  kUpstream,   // an NTP reply for the control: `upstream` describes it
};

struct UpstreamInfo {
  bool ipv6 = false;
  std::uint8_t src[16] = {};
  std::uint8_t dst[16] = {};
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  wire::Bytes payload;  // the NTP message, inside the frame
};

// Small enough to come back in registers: it is made for every frame.
struct Verdict {
  Verdict() = default;
  Verdict(Action a, Counter c, std::size_t len = 0) : action(a), counter(c), length(static_cast<std::uint16_t>(len)) {}

  Action action = Action::kDrop;
  Counter counter = Counter::kDropNotForUs;  // what to count for this frame
  std::uint16_t length = 0;                  // kTransmit: octets of the answer
  std::uint16_t ntp_offset = 0;              // kTransmit of an NTP answer: where its header starts
  // kTransmit of an NTP answer: NtpResponse::tx_slot. An interleaved answer's
  // transmit timestamp is final; any other's is taken again before it leaves.
  std::uint32_t tx_slot = ClientTable::kNoSlot;
};

inline constexpr std::size_t kMinFrame = 60;  // Ethernet minimum without FCS

// Turns a request's IPv4 header into its answer's: addresses swapped (the
// checksum's sum does not change), TTL reset, total length set, the checksum
// updated incrementally for those two words.
inline void turn_ipv4(wire::Ipv4Header& ip, std::uint16_t total_length) {
  std::swap(ip.src, ip.dst);
  const auto old_ttl_proto = static_cast<std::uint16_t>(ip.ttl << 8 | ip.protocol);
  const std::uint16_t old_length = ip.total_length.get();
  ip.ttl = wire::kIpv4DefaultTtl;
  ip.total_length.set(total_length);
  std::uint16_t c = wire::checksum_update16(ip.checksum.get(), old_ttl_proto,
                                            static_cast<std::uint16_t>(ip.ttl << 8 | ip.protocol));
  if (old_length != total_length) c = wire::checksum_update16(c, old_length, total_length);  // most answers: same length
  ip.checksum.set(c);
}

// What the worker learnt of an untagged IPv4 frame's source before
// processing it, for a whole burst at once: its access-list actions, as
// encode_pair() codes them (kUnknown: not looked up), and, when some rule
// limits, its client-table bucket (already being loaded; used only if the
// source's actions limit it; NtpRequest::kNoBucket: none). process()
// applies it only to the source address of an untagged IPv4 frame, so a
// burst's hints may be made for every frame alike. Passed by value: it
// stays in registers.
struct SourceHint {
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};
  std::uint64_t acl_code = kUnknown;
  std::uint32_t bucket = NtpRequest::kNoBucket;
  bool known() const { return acl_code != kUnknown; }
  std::uint8_t acl_for_port(std::uint16_t port) const {
    return decode_pair(static_cast<std::uint8_t>(acl_code)).for_port(port);
  }
};

class FrameProcessor {
 public:
  explicit FrameProcessor(LocalConfig config) : config_(std::move(config)) { count_addresses(); }

  // `frame` is the buffer holding the frame: its first `length` octets are
  // the frame, and it may be longer (room to pad an answer to 60 octets).
  // `rx` is the frame's receive time; `now` gives the NTP transmit time.
  // `hint`, for an untagged IPv4 frame: what is known of its source under
  // the current access list (unknown: looked up here).
  template <class Now>
  Verdict process(wire::MutableBytes frame, std::size_t length, hwclock::UtcTime rx, Now&& now, SourceHint hint = {});

  // What the last kUpstream verdict was about.
  const UpstreamInfo& upstream() const { return upstream_; }

  Responder& responder() { return responder_; }
  const LocalConfig& config() const { return config_; }
  void set_config(LocalConfig config) {
    config_ = std::move(config);
    count_addresses();
  }
  // From now on answer on `set` (static addresses included) instead of the
  // config's addresses. The set must stay alive until the next call: the
  // worker passes the one its AddressReader holds. nullptr: the config's again.
  void set_addresses(const AddressSet* set) {
    addresses_ = set;
    count_addresses();
  }
  bool has(wire::Ipv4Address a) const { return addresses_ != nullptr ? addresses_->has(a) : config_.has(a); }
  bool has(const wire::Ipv6Address& a) const { return addresses_ != nullptr ? addresses_->has(a) : config_.has(a); }
  // From now on check NTP requests against `acl` and rate limit as it says
  // (nullptr: every request is served). Like the address set, it must stay
  // alive until the next call.
  void set_acl(const AccessControl* acl) {
    acl_ = acl;
    if (acl != nullptr) responder_.set_rate_limit(acl->rate());
  }
  const AccessControl* acl() const { return acl_; }

 private:
  struct Ntp {
    wire::Bytes payload;  // set when the frame is an NTP request for us
    std::uint16_t src_port;
    const std::uint8_t* src;  // the client's address
    std::uint8_t src_length;
  };
  // The common case in one pass at fixed offsets: an untagged IPv4 frame of
  // exactly 90 octets carrying a 48-octet NTP request to our MAC and one of
  // our addresses, with valid checksums. Anything else, or anything wrong,
  // returns false and takes the general path, which classifies and counts it.
  template <class Now>
  bool fast_ntp4(wire::MutableBytes frame, std::size_t length, hwclock::UtcTime rx, Now& now, SourceHint hint,
                 Verdict& out);
  // A request's restrict actions (NtpRequest::acl) and client bucket
  // (NtpRequest::client_bucket): from the hint, else looked up.
  struct Restriction {
    std::uint8_t acl = 0;
    std::uint32_t bucket = NtpRequest::kNoBucket;
  };
  Restriction restriction(const std::uint8_t* src, bool v6, std::uint16_t port, SourceHint hint) const {
    if (hint.known()) return {hint.acl_for_port(port), hint.bucket};
    if (acl_ == nullptr) return {};
    return {(v6 ? acl_->lookup6(src) : acl_->lookup4(src)).for_port(port)};
  }
  // Everything but the NTP answer itself, which needs the caller's clock.
  Verdict classify(wire::MutableBytes frame, std::size_t length, Ntp& ntp, std::size_t& l3, std::size_t& l4, bool& v6);
  Verdict dispatch_udp(const wire::UdpView& udp, const std::uint8_t* src, const std::uint8_t* dst,
                       std::size_t address_length, Ntp& ntp);
  std::size_t finish_ntp(wire::MutableBytes frame, std::size_t l3, std::size_t l4, bool v6, std::size_t ntp_length);
  // Why a source address cannot be answered, or kRxFrames when it can.
  Counter bad_source(wire::Ipv4Address src) const;
  Counter bad_source(const wire::Ipv6Address& src) const;
  void count_addresses() {
    several_addresses_ = addresses_ != nullptr ? addresses_->ipv4.size() > 1 : config_.ipv4.size() > 1;
  }

  LocalConfig config_;
  const AddressSet* addresses_ = nullptr;
  const AccessControl* acl_ = nullptr;
  bool several_addresses_ = false;  // IPv4: more than one, so a source may be another of ours
  Responder responder_;
  UpstreamInfo upstream_;
};

template <class Now>
bool FrameProcessor::fast_ntp4(wire::MutableBytes frame, std::size_t length, hwclock::UtcTime rx, Now& now,
                               SourceHint hint, Verdict& out) {
  constexpr std::size_t kL3 = 14, kL4 = kL3 + 20, kNtp = kL4 + 8, kLength = kNtp + 48;
  if (length != kLength || frame.size() < kLength) return false;
  std::uint8_t* f = frame.data();
  auto* eth = reinterpret_cast<wire::EthernetHeader*>(f);
  auto* ip = reinterpret_cast<wire::Ipv4Header*>(f + kL3);
  auto* udp = reinterpret_cast<wire::UdpHeader*>(f + kL4);
  if (!(eth->dst == config_.mac) || eth->src.is_multicast() || eth->ethertype.get() != wire::kEtherTypeIpv4) return false;
  if (ip->version_ihl != 0x45 || ip->protocol != wire::kIpProtoUdp || ip->total_length.get() != kLength - kL3 ||
      (ip->flags_fragment.get() & ~wire::kIpv4FlagDontFragment) != 0) {
    return false;
  }
  const auto src = wire::Ipv4Address::from(ip->src);
  const auto dst = wire::Ipv4Address::from(ip->dst);
  // Sources that cannot be answered take the general path, which counts them:
  // 0/8, 127/8, 224/4 and above (multicast, reserved, broadcast), and our own
  // addresses (the one asked first: a request to itself is the common spoof).
  const std::uint32_t first_octet = src.value >> 24;
  if (first_octet == 0 || first_octet == 127 || first_octet >= 224 || src == dst || !has(dst) ||
      (several_addresses_ && has(src))) {
    return false;
  }
  if (udp->dst_port.get() != wire::kNtpPort || udp->length.get() != kLength - kL4) return false;
  if ((f[kNtp] & 7) == 6) return false;  // mode 6: the general path passes it to the kernel
  if (!wire::verifies(wire::sum_words<20>(f + kL3))) return false;
  // The pseudo-header's sum does not change when the addresses swap.
  const std::uint8_t proto_len[4] = {0, wire::kIpProtoUdp, 0, static_cast<std::uint8_t>(kLength - kL4)};
  const std::uint64_t pseudo = wire::sum_words<8>(f + kL3 + 12) + wire::sum_words<4>(proto_len);
  if (udp->checksum.get() != 0 && !wire::verifies(pseudo + wire::sum_words<kLength - kL4>(f + kL4))) return false;

  const std::uint16_t src_port = udp->src_port.get();
  const Restriction x = restriction(f + kL3 + 12, false, src_port, hint);
  const NtpResponse r = responder_.handle(
      NtpRequest{wire::Bytes(f + kNtp, 48), src_port, rx, f + kL3 + 12, 4, x.acl, x.bucket}, wire::MutableBytes(f + kNtp, 48),
      now);
  if (!answered(r.outcome)) {
    out = Verdict{Action::kDrop, counter_for(r.outcome)};
    return true;
  }
  eth->dst = eth->src;
  eth->src = config_.mac;
  turn_ipv4(*ip, kLength - kL3);  // the pseudo-header sum survives the swap
  std::swap(udp->src_port, udp->dst_port);
  udp->checksum.set(0);
  const auto sum = static_cast<std::uint16_t>(~wire::fold_sum(pseudo + wire::sum_words<kLength - kL4>(f + kL4)));
  udp->checksum.set(sum == 0 ? 0xFFFF : sum);
  out = Verdict{Action::kTransmit, counter_for(r.outcome), kLength};
  // A KoD carries the request's timestamps and a MAC covers the answer: neither is restamped.
  out.ntp_offset = restampable(r.outcome) ? kNtp : 0;
  out.tx_slot = r.tx_slot;
  return true;
}

template <class Now>
Verdict FrameProcessor::process(wire::MutableBytes frame, std::size_t length, hwclock::UtcTime rx, Now&& now,
                                SourceHint hint) {
  if (config_.fast_path) {
    Verdict fast;
    if (fast_ntp4(frame, length, rx, now, hint, fast)) return fast;
  }
  Ntp ntp{};
  std::size_t l3 = 0, l4 = 0;
  bool v6 = false;
  Verdict v = classify(frame, length, ntp, l3, l4, v6);
  if (ntp.payload.data() == nullptr) return v;

  // An NTP request for us: answer into the UDP payload, in place.
  wire::MutableBytes out = frame.subspan(l4 + 8);
  // The hint is about the address at an untagged IPv4 frame's fixed offset.
  const Restriction x = restriction(ntp.src, v6, ntp.src_port, !v6 && ntp.src == frame.data() + 26 ? hint : SourceHint{});
  const NtpResponse r =
      responder_.handle(NtpRequest{ntp.payload, ntp.src_port, rx, ntp.src, ntp.src_length, x.acl, x.bucket}, out, now);
  if (!answered(r.outcome)) return Verdict{Action::kDrop, counter_for(r.outcome)};
  v.counter = counter_for(r.outcome);
  v.length = static_cast<std::uint16_t>(finish_ntp(frame, l3, l4, v6, r.length));
  v.ntp_offset = restampable(r.outcome) ? static_cast<std::uint16_t>(l4 + 8) : 0;
  v.tx_slot = r.tx_slot;
  return v;
}

}  // namespace linetime::dataplane
