// IPv6 parser: never reads outside the input, and write_ipv6 from the parsed
// fields followed by the payload gives back the packet octet for octet (the input
// up to its payload length) and the same parse.
#include <cstring>
#include <vector>

#include "dataplane/wire/ipv6.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse_ipv6(Bytes(data, size));
  if (!parsed) return 0;
  const std::size_t total = sizeof(Ipv6Header) + parsed->payload.size();
  FUZZ_CHECK(parsed->payload.size() == parsed->header->payload_length.get());
  FUZZ_CHECK(total <= size);

  std::vector<std::uint8_t> out(total);
  const std::size_t n = write_ipv6(MutableBytes(out), parsed->fields, parsed->payload.size());
  FUZZ_CHECK(n == sizeof(Ipv6Header));
  if (!parsed->payload.empty()) std::memcpy(out.data() + n, parsed->payload.data(), parsed->payload.size());
  FUZZ_CHECK(std::memcmp(out.data(), data, total) == 0);

  const auto again = parse_ipv6(Bytes(out));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->fields == parsed->fields);
  FUZZ_CHECK(again->payload.size() == parsed->payload.size());
  return 0;
}
