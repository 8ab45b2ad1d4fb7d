// ICMPv6 parser: never reads outside the input, and rebuilding the message from
// the parsed fields (write_icmpv6_echo, write_neighbor_solicitation,
// write_neighbor_advertisement) gives a message that parses to the same fields;
// echo messages come back octet for octet.
//
// Input: a control octet (bit 0 set: recompute the checksum before parsing, so
// the fuzzer gets past it), the hop limit, the 16-octet source and destination
// addresses of the pseudo-header, then the message.
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/icmpv6.h"
#include "dataplane/wire/ip.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

namespace {

constexpr std::size_t kPrefix = 2 + 16 + 16;

bool same_fields(const Icmpv6View& a, const Icmpv6View& b) {
  return a.type == b.type && a.identifier == b.identifier && a.sequence == b.sequence &&
         a.data.size() == b.data.size() && a.target == b.target && a.na_flags == b.na_flags &&
         a.link_layer == b.link_layer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kPrefix) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  const std::uint8_t hop_limit = data[1];
  Ipv6Address src;
  Ipv6Address dst;
  std::memcpy(src.bytes.data(), data + 2, 16);
  std::memcpy(dst.bytes.data(), data + 18, 16);
  std::vector<std::uint8_t> message(data + kPrefix, data + size);
  if (fix_checksum && message.size() >= sizeof(Icmpv6Header)) {
    auto* h = overlay<Icmpv6Header>(MutableBytes(message));
    h->checksum.set(0);
    h->checksum.set(transport_checksum(src, dst, kIpProtoIcmpv6, Bytes(message)));
  }

  const auto parsed = parse_icmpv6(Bytes(message), src, dst, hop_limit);
  if (!parsed) return 0;

  std::vector<std::uint8_t> out(sizeof(NdHeader) + sizeof(NdLinkLayerOption) + message.size());
  std::size_t n = 0;
  switch (parsed->type) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply: {
      n = write_icmpv6_echo(MutableBytes(out), src, dst, parsed->type, parsed->identifier, parsed->sequence,
                            parsed->data);
      FUZZ_CHECK(n == message.size());
      // The checksum may differ only between its two representations of zero.
      const std::uint16_t sent = overlay<Icmpv6Header>(Bytes(message))->checksum.get();
      const std::uint16_t built = overlay<Icmpv6Header>(Bytes(out))->checksum.get();
      FUZZ_CHECK(sent == built || (sent == 0xffff && built == 0));
      FUZZ_CHECK(std::memcmp(out.data(), message.data(), 2) == 0);
      FUZZ_CHECK(std::memcmp(out.data() + 4, message.data() + 4, n - 4) == 0);
      break;
    }
    case Icmpv6Type::kNeighborSolicitation:
      FUZZ_CHECK(parsed->na_flags == 0);
      n = write_neighbor_solicitation(MutableBytes(out), src, dst, parsed->target, parsed->link_layer);
      break;
    case Icmpv6Type::kNeighborAdvertisement:
      FUZZ_CHECK((parsed->na_flags & ~kNaFlagMask) == 0);
      n = write_neighbor_advertisement(MutableBytes(out), src, dst, parsed->target, parsed->na_flags,
                                       parsed->link_layer);
      break;
  }
  FUZZ_CHECK(n != 0);

  const auto again = parse_icmpv6(Bytes(out).first(n), src, dst, hop_limit);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(same_fields(*again, *parsed));
  return 0;
}
