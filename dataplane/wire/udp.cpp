#include "dataplane/wire/udp.h"

#include <cstring>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ip.h"

namespace linetime::wire {

namespace {

// Checks everything but the checksum; on success `v` holds the header and payload
// and `length` the datagram length from the header.
Parsed<UdpView> parse_common(Bytes datagram, std::size_t& length) {
  UdpView v;
  v.header = overlay<UdpHeader>(datagram);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  length = v.header->length.get();
  if (length < sizeof(UdpHeader)) return unexpected(ParseError::kBadLength);
  if (length > datagram.size()) return unexpected(ParseError::kTruncated);
  v.src_port = v.header->src_port.get();
  v.dst_port = v.header->dst_port.get();
  v.has_checksum = v.header->checksum.get() != 0;
  v.payload = datagram.subspan(sizeof(UdpHeader), length - sizeof(UdpHeader));
  return v;
}

// Moves the payload behind the header and fills the header but the checksum.
std::size_t write_common(MutableBytes out, std::uint16_t src_port, std::uint16_t dst_port, Bytes payload) {
  const std::size_t need = sizeof(UdpHeader) + payload.size();
  if (out.size() < need || need > kUdpMaxLength) return 0;
  if (!payload.empty()) std::memmove(out.data() + sizeof(UdpHeader), payload.data(), payload.size());
  auto* h = overlay<UdpHeader>(out);
  h->src_port.set(src_port);
  h->dst_port.set(dst_port);
  h->length.set(static_cast<std::uint16_t>(need));
  h->checksum.set(0);
  return need;
}

// A computed checksum of zero goes on the wire as its other representation.
std::uint16_t wire_checksum(std::uint16_t c) { return c == 0 ? 0xffff : c; }

}  // namespace

Parsed<UdpView> parse_udp(Bytes datagram, Ipv4Address src, Ipv4Address dst) {
  std::size_t length = 0;
  auto v = parse_common(datagram, length);
  if (!v) return v;
  if (v->has_checksum && transport_checksum(src, dst, kIpProtoUdp, datagram.first(length)) != 0) {
    return unexpected(ParseError::kBadChecksum);
  }
  return v;
}

Parsed<UdpView> parse_udp(Bytes datagram, const Ipv6Address& src, const Ipv6Address& dst) {
  std::size_t length = 0;
  auto v = parse_common(datagram, length);
  if (!v) return v;
  if (!v->has_checksum || transport_checksum(src, dst, kIpProtoUdp, datagram.first(length)) != 0) {
    return unexpected(ParseError::kBadChecksum);
  }
  return v;
}

std::size_t write_udp(MutableBytes out, Ipv4Address src, Ipv4Address dst, std::uint16_t src_port,
                      std::uint16_t dst_port, Bytes payload) {
  const std::size_t n = write_common(out, src_port, dst_port, payload);
  if (n == 0) return 0;
  overlay<UdpHeader>(out)->checksum.set(wire_checksum(transport_checksum(src, dst, kIpProtoUdp, out.first(n))));
  return n;
}

std::size_t write_udp(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, std::uint16_t src_port,
                      std::uint16_t dst_port, Bytes payload) {
  const std::size_t n = write_common(out, src_port, dst_port, payload);
  if (n == 0) return 0;
  overlay<UdpHeader>(out)->checksum.set(wire_checksum(transport_checksum(src, dst, kIpProtoUdp, out.first(n))));
  return n;
}

}  // namespace linetime::wire
