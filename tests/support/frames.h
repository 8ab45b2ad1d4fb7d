// Frames built with the wire builders, for tests and benchmarks.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "dataplane/wire/address.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"

namespace linetime::test {

inline const wire::MacAddress kServerMac{{0x02, 0, 0, 0, 0, 0x01}};
inline const wire::MacAddress kClientMac{{0x02, 0, 0, 0, 0, 0x02}};
inline const wire::Ipv4Address kServerIp = wire::Ipv4Address::of(198, 18, 0, 1);
inline const wire::Ipv4Address kClientIp = wire::Ipv4Address::of(198, 18, 0, 2);

struct Frame {
  std::array<std::uint8_t, 256> buf{};
  std::size_t length = 0;
  wire::MutableBytes bytes() { return wire::MutableBytes(buf); }
  wire::Bytes view() const { return wire::Bytes(buf.data(), length); }
};

// A client request: version 4, mode `mode`, poll 6, transmit A0 A1 ... A7.
inline std::array<std::uint8_t, 48> ntp_request(unsigned mode = 3) {
  std::array<std::uint8_t, 48> b{};
  b[0] = wire::ntp_li_vn_mode(0, 4, mode);
  b[2] = 6;
  for (int i = 0; i < 8; ++i) b[40 + i] = static_cast<std::uint8_t>(0xA0 + i);
  return b;
}

inline Frame udp4(wire::Bytes payload, std::uint16_t sport, std::uint16_t dport,
                  wire::Ipv4Address src = kClientIp, wire::Ipv4Address dst = kServerIp,
                  wire::MacAddress dst_mac = kServerMac, std::vector<wire::VlanTag> vlans = {}) {
  Frame f;
  const std::size_t n = wire::write_ethernet(f.bytes(), dst_mac, kClientMac, wire::kEtherTypeIpv4, vlans);
  const std::size_t u = wire::write_udp(f.bytes().subspan(n + 20), src, dst, sport, dport, payload);
  wire::Ipv4Fields ip;
  ip.src = src;
  ip.dst = dst;
  wire::write_ipv4(f.bytes().subspan(n), ip, u);
  f.length = n + 20 + u;
  return f;
}

inline Frame udp6(wire::Bytes payload, std::uint16_t sport, std::uint16_t dport, const wire::Ipv6Address& src,
                  const wire::Ipv6Address& dst) {
  Frame f;
  const std::size_t n = wire::write_ethernet(f.bytes(), kServerMac, kClientMac, wire::kEtherTypeIpv6);
  const std::size_t u = wire::write_udp(f.bytes().subspan(n + 40), src, dst, sport, dport, payload);
  wire::Ipv6Fields ip;
  ip.src = src;
  ip.dst = dst;
  wire::write_ipv6(f.bytes().subspan(n), ip, u);
  f.length = n + 40 + u;
  return f;
}

}  // namespace linetime::test
