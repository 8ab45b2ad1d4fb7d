// NTP packet parser: never reads outside the input, and parse -> serialize ->
// parse gives back the same bytes and the same structure.
#include <cstring>

#include "dataplane/wire/ntp.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse_ntp(Bytes(data, size));
  if (!parsed) return 0;
  std::uint8_t out[2048];
  if (size > sizeof out) return 0;
  const std::size_t n = serialize_ntp(*parsed, MutableBytes(out, sizeof out));
  FUZZ_CHECK(n == size);
  FUZZ_CHECK(std::memcmp(out, data, n) == 0);
  const auto again = parse_ntp(Bytes(out, n));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->extension_count == parsed->extension_count);
  FUZZ_CHECK(again->has_mac == parsed->has_mac);
  FUZZ_CHECK(again->authenticated.size() == parsed->authenticated.size());
  return 0;
}
