// UDP parser over IPv4 and IPv6: never reads outside the input, and write_udp
// from the parsed ports and payload gives back the datagram octet for octet (the
// input up to its length field; over IPv4 a zero "no checksum" field is the one
// octet pair allowed to differ) and the same parse.
//
// Input: a control octet (bit 0: IPv6; bit 1: recompute the checksum before
// parsing, so the fuzzer gets past it), the source and destination addresses
// (4 or 16 octets each), then the datagram.
#include <algorithm>
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ip.h"
#include "dataplane/wire/udp.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

namespace {

template <class Address>
void round_trip(Address src, Address dst, bool fix_checksum, std::vector<std::uint8_t>& datagram) {
  if (fix_checksum && datagram.size() >= sizeof(UdpHeader)) {
    auto* h = overlay<UdpHeader>(MutableBytes(datagram));
    const std::size_t length = std::min<std::size_t>(h->length.get(), datagram.size());
    h->checksum.set(0);
    const std::uint16_t c = transport_checksum(src, dst, kIpProtoUdp, Bytes(datagram).first(length));
    h->checksum.set(c == 0 ? 0xffff : c);
  }

  const auto parsed = parse_udp(Bytes(datagram), src, dst);
  if (!parsed) return;
  const std::size_t length = sizeof(UdpHeader) + parsed->payload.size();
  FUZZ_CHECK(length == parsed->header->length.get());
  FUZZ_CHECK(length <= datagram.size());

  std::vector<std::uint8_t> out(length);
  const std::size_t n =
      write_udp(MutableBytes(out), src, dst, parsed->src_port, parsed->dst_port, parsed->payload);
  FUZZ_CHECK(n == length);
  if (parsed->has_checksum) {
    FUZZ_CHECK(std::memcmp(out.data(), datagram.data(), n) == 0);
  } else {
    FUZZ_CHECK(std::memcmp(out.data(), datagram.data(), 6) == 0);
    FUZZ_CHECK(std::memcmp(out.data() + 8, datagram.data() + 8, n - 8) == 0);
  }

  const auto again = parse_udp(Bytes(out), src, dst);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->has_checksum);
  FUZZ_CHECK(again->src_port == parsed->src_port);
  FUZZ_CHECK(again->dst_port == parsed->dst_port);
  FUZZ_CHECK(again->payload.size() == parsed->payload.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool v6 = (data[0] & 1) != 0;
  const bool fix_checksum = (data[0] & 2) != 0;
  const std::size_t address_size = v6 ? 16 : 4;
  if (size < 1 + 2 * address_size) return 0;
  std::vector<std::uint8_t> datagram(data + 1 + 2 * address_size, data + size);
  if (v6) {
    Ipv6Address src;
    Ipv6Address dst;
    std::memcpy(src.bytes.data(), data + 1, 16);
    std::memcpy(dst.bytes.data(), data + 17, 16);
    round_trip(src, dst, fix_checksum, datagram);
  } else {
    Be32 src;
    Be32 dst;
    std::memcpy(src.b, data + 1, 4);
    std::memcpy(dst.b, data + 5, 4);
    round_trip(Ipv4Address::from(src), Ipv4Address::from(dst), fix_checksum, datagram);
  }
  return 0;
}
