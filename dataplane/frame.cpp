#include "dataplane/frame.h"

#include <algorithm>
#include <cstring>

#include "dataplane/wire/arp.h"
#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/icmp.h"
#include "dataplane/wire/icmpv6.h"
#include "dataplane/wire/ip.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::dataplane {

using namespace linetime::wire;

bool LocalConfig::has(const Ipv6Address& a) const { return std::find(ipv6.begin(), ipv6.end(), a) != ipv6.end(); }

namespace {

Verdict drop(Counter c) { return Verdict{Action::kDrop, c}; }
Verdict drop(ParseError e) { return drop(counter_for(e)); }
Verdict exception() { return Verdict{Action::kException, Counter::kException}; }
Verdict transmit(Counter c, std::size_t length) { return Verdict{Action::kTransmit, c, length}; }

// Answers go back where the request came from, from our MAC.
void turn_ethernet(MutableBytes frame, const MacAddress& ours) {
  auto* eth = overlay<EthernetHeader>(frame);
  eth->dst = eth->src;
  eth->src = ours;
}

// Pads an answer to the Ethernet minimum where the buffer allows.
std::size_t pad(MutableBytes frame, std::size_t length) {
  if (length >= kMinFrame || frame.size() < kMinFrame) return length;
  std::memset(frame.data() + length, 0, kMinFrame - length);
  return kMinFrame;
}

}  // namespace

Verdict FrameProcessor::classify(MutableBytes frame, std::size_t length, Ntp& ntp, std::size_t& l3, std::size_t& l4,
                                 bool& v6) {
  const Bytes in(frame.data(), length);
  const auto eth = parse_ethernet(in);
  if (!eth) return drop(eth.error());
  const MacAddress& dst_mac = eth->header->dst;
  const bool to_us = dst_mac == config_.mac;
  if (!to_us && !dst_mac.is_multicast()) return drop(Counter::kDropNotForUs);  // broadcast is multicast too
  if (eth->vlan_count > 0) {
    const std::uint16_t vid = eth->vlans[eth->vlan_count - 1].vid;
    if (std::find(config_.vlans.begin(), config_.vlans.end(), vid) == config_.vlans.end()) return drop(Counter::kDropVlan);
  }
  l3 = eth->header_length;
  MutableBytes l3_bytes = frame.subspan(l3);

  switch (eth->ethertype) {
    case kEtherTypeArp: {
      const auto arp = parse_arp(eth->payload);
      if (!arp) return drop(arp.error());
      if (arp->op != ArpOp::kRequest || !has(arp->target_ip)) return exception();
      const MacAddress asker = arp->sender_mac;
      const Ipv4Address asker_ip = arp->sender_ip, our_ip = arp->target_ip;
      turn_ethernet(frame, config_.mac);
      const std::size_t n = write_arp(l3_bytes, ArpOp::kReply, config_.mac, our_ip, asker, asker_ip);
      return transmit(Counter::kArpReplied, pad(frame, l3 + n));
    }

    case kEtherTypeIpv4: {
      const auto ip = parse_ipv4(eth->payload);
      if (!ip) return drop(ip.error());
      if (!has(ip->fields.dst)) {
        return ip->fields.dst.is_broadcast() || ip->fields.dst.is_multicast() ? exception() : drop(Counter::kDropNotForUs);
      }
      if (!to_us) return exception();  // ours by IP but sent to a group MAC: the kernel's business
      if (const Counter c = bad_source(ip->fields.src); c != Counter::kRxFrames) return drop(c);
      l4 = l3 + sizeof(Ipv4Header);
      if (ip->fields.protocol == kIpProtoIcmp) {
        if (ip->payload.size() < 1 || ip->payload[0] != static_cast<std::uint8_t>(IcmpType::kEchoRequest)) return exception();
        const auto echo = parse_icmp_echo(ip->payload);
        if (!echo) return drop(echo.error());
        MutableBytes icmp = frame.subspan(l4, ip->payload.size());
        icmp_echo_request_to_reply(icmp);
        Ipv4Fields f = ip->fields;
        std::swap(f.src, f.dst);
        f.ttl = kIpv4DefaultTtl;
        write_ipv4(l3_bytes, f, icmp.size());
        turn_ethernet(frame, config_.mac);
        return transmit(Counter::kIcmpEchoReplied, pad(frame, l4 + icmp.size()));
      }
      if (ip->fields.protocol != kIpProtoUdp) return exception();
      const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);
      if (!udp) return drop(udp.error());
      return dispatch_udp(*udp, ip->header->src.b, ip->header->dst.b, 4, ntp);
    }

    case kEtherTypeIpv6: {
      const auto ip = parse_ipv6(eth->payload);
      // Extension headers (hop-by-hop MLD reports and the like) are the kernel's.
      if (!ip) return ip.error() == ParseError::kUnsupported ? exception() : drop(ip.error());
      v6 = true;
      l4 = l3 + sizeof(Ipv6Header);
      const Ipv6Fields& f = ip->fields;
      if (f.next_header == kIpProtoIcmpv6 && !ip->payload.empty()) {
        const auto type = static_cast<Icmpv6Type>(ip->payload[0]);
        if (type != Icmpv6Type::kEchoRequest && type != Icmpv6Type::kNeighborSolicitation) return exception();
        const auto icmp = parse_icmpv6(ip->payload, f.src, f.dst, f.hop_limit);
        if (!icmp) return drop(icmp.error());
        if (!has(icmp->type == Icmpv6Type::kNeighborSolicitation ? icmp->target : f.dst)) {
          return f.dst.is_multicast() ? exception() : drop(Counter::kDropNotForUs);
        }
        Ipv6Fields out = f;
        out.src = icmp->type == Icmpv6Type::kNeighborSolicitation ? icmp->target : f.dst;
        out.dst = f.src;
        MutableBytes l4_bytes = frame.subspan(l4);
        std::size_t n = 0;
        Counter c = Counter::kIcmpv6EchoReplied;
        if (icmp->type == Icmpv6Type::kEchoRequest) {
          if (f.dst.is_multicast()) return exception();
          out.hop_limit = kIpv6DefaultHopLimit;
          n = write_icmpv6_echo(l4_bytes, out.src, out.dst, Icmpv6Type::kEchoReply, icmp->identifier, icmp->sequence,
                                icmp->data);
        } else {
          // RFC 4861 7.2.4: solicited + override to a unicast asker; a
          // duplicate-address probe (from ::) is answered to all-nodes.
          std::uint32_t flags = kNaFlagOverride | kNaFlagSolicited;
          if (f.src.is_unspecified()) {
            out.dst = Ipv6Address{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
            flags = kNaFlagOverride;
          }
          out.hop_limit = kNdHopLimit;
          n = write_neighbor_advertisement(l4_bytes, out.src, out.dst, icmp->target, flags, config_.mac);
          c = Counter::kNdAdvertised;
          if (f.src.is_unspecified()) {
            auto* eth_out = overlay<EthernetHeader>(frame);
            eth_out->src = config_.mac;
            eth_out->dst = multicast_mac(out.dst);
            write_ipv6(l3_bytes, out, n);
            return transmit(c, pad(frame, l4 + n));
          }
        }
        if (n == 0) return drop(ParseError::kTruncated);
        write_ipv6(l3_bytes, out, n);
        turn_ethernet(frame, config_.mac);
        return transmit(c, pad(frame, l4 + n));
      }
      if (!has(f.dst)) return f.dst.is_multicast() ? exception() : drop(Counter::kDropNotForUs);
      if (!to_us || f.next_header != kIpProtoUdp) return exception();
      if (const Counter c = bad_source(f.src); c != Counter::kRxFrames) return drop(c);
      const auto udp = parse_udp(ip->payload, f.src, f.dst);
      if (!udp) return drop(udp.error());
      // Addresses from the frame itself: the responder reads the source after
      // this function returns (the parsed fields are a local copy).
      return dispatch_udp(*udp, ip->header->src.bytes.data(), ip->header->dst.bytes.data(), 16, ntp);
    }

    default:
      return exception();
  }
}

Counter FrameProcessor::bad_source(Ipv4Address src) const {
  if (src.is_multicast() || src.is_broadcast()) return Counter::kDropSourceMulticast;
  const std::uint32_t first_octet = src.value >> 24;
  if (first_octet == 0 || first_octet == 127 || first_octet >= 240) return Counter::kDropSourceMartian;
  if (has(src)) return Counter::kDropSourceOwn;
  return Counter::kRxFrames;
}

Counter FrameProcessor::bad_source(const Ipv6Address& src) const {
  if (src.is_multicast()) return Counter::kDropSourceMulticast;
  if (src.is_unspecified() || src.is_loopback()) return Counter::kDropSourceMartian;
  if (has(src)) return Counter::kDropSourceOwn;
  return Counter::kRxFrames;
}

// Turns the request's headers around in place. Swapping addresses and ports
// leaves both checksums' sums unchanged, so the IPv4 header checksum needs only
// an incremental update for the TTL (and the length when the answer is shorter
// than the request), and the UDP checksum is computed once over the new
// datagram.
// A UDP datagram for one of our addresses: an NTP request for the responder,
// an NTP reply for one of the control's client ports, or the kernel's (mode 6
// control messages included).
Verdict FrameProcessor::dispatch_udp(const UdpView& udp, const std::uint8_t* src, const std::uint8_t* dst,
                                     std::size_t address_length, Ntp& ntp) {
  if (udp.dst_port == kNtpPort) {
    // Mode 6 (ntpq) is the control's: the kernel behind the TAP hands it over.
    if (!udp.payload.empty() && (udp.payload[0] & 7) == 6) return exception();
    ntp = Ntp{udp.payload, udp.src_port, src, static_cast<std::uint8_t>(address_length)};
    return transmit(counter_for(NtpOutcome::kAnswered), 0);
  }
  if (udp.src_port == kNtpPort && config_.upstream_port_max != 0 && udp.dst_port >= config_.upstream_port_min &&
      udp.dst_port <= config_.upstream_port_max) {
    upstream_ = UpstreamInfo{};
    upstream_.ipv6 = address_length == 16;
    std::memcpy(upstream_.src, src, address_length);
    std::memcpy(upstream_.dst, dst, address_length);
    upstream_.src_port = udp.src_port;
    upstream_.dst_port = udp.dst_port;
    upstream_.payload = udp.payload;
    return Verdict{Action::kUpstream, Counter::kUpstreamReply};
  }
  return exception();
}

std::size_t FrameProcessor::finish_ntp(MutableBytes frame, std::size_t l3, std::size_t l4, bool v6, std::size_t ntp_length) {
  auto* udp = overlay<UdpHeader>(frame.subspan(l4));
  std::swap(udp->src_port, udp->dst_port);
  const auto udp_length = static_cast<std::uint16_t>(sizeof(UdpHeader) + ntp_length);
  udp->length.set(udp_length);
  udp->checksum.set(0);
  const Bytes datagram(frame.data() + l4, udp_length);
  std::uint16_t sum;
  if (v6) {
    auto* ip = overlay<Ipv6Header>(frame.subspan(l3));
    std::swap(ip->src, ip->dst);
    ip->payload_length.set(udp_length);
    ip->hop_limit = kIpv6DefaultHopLimit;
    sum = transport_checksum(ip->src, ip->dst, kIpProtoUdp, datagram);
  } else {
    auto* ip = overlay<Ipv4Header>(frame.subspan(l3));
    turn_ipv4(*ip, static_cast<std::uint16_t>(sizeof(Ipv4Header) + udp_length));
    sum = transport_checksum(Ipv4Address::from(ip->src), Ipv4Address::from(ip->dst), kIpProtoUdp, datagram);
  }
  udp->checksum.set(sum == 0 ? 0xFFFF : sum);  // zero would mean "no checksum"
  turn_ethernet(frame, config_.mac);
  return pad(frame, l4 + udp_length);
}

}  // namespace linetime::dataplane
