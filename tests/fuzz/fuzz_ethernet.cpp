// Ethernet/VLAN parser: never reads outside the input, and rebuilding the header
// from the parsed fields with write_ethernet, followed by the payload, gives back
// the input octet for octet and the same parse.
#include <cstring>
#include <vector>

#include "dataplane/wire/ethernet.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse_ethernet(Bytes(data, size));
  if (!parsed) return 0;
  FUZZ_CHECK(parsed->header_length + parsed->payload.size() == size);
  FUZZ_CHECK(parsed->vlan_count <= kMaxVlanTags);

  std::vector<std::uint8_t> out(size);
  const std::size_t n = write_ethernet(MutableBytes(out), parsed->header->dst, parsed->header->src,
                                       parsed->ethertype, std::span(parsed->vlans, parsed->vlan_count));
  FUZZ_CHECK(n == parsed->header_length);
  if (!parsed->payload.empty()) std::memcpy(out.data() + n, parsed->payload.data(), parsed->payload.size());
  FUZZ_CHECK(std::memcmp(out.data(), data, size) == 0);

  const auto again = parse_ethernet(Bytes(out));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->ethertype == parsed->ethertype);
  FUZZ_CHECK(again->vlan_count == parsed->vlan_count);
  for (std::size_t i = 0; i < again->vlan_count; ++i) FUZZ_CHECK(again->vlans[i] == parsed->vlans[i]);
  FUZZ_CHECK(again->payload.size() == parsed->payload.size());
  return 0;
}
