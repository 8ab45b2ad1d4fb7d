// ARP parser: never reads outside the input, and write_arp from the parsed fields
// gives back the packet's 28 octets and the same parse.
#include <cstring>
#include <vector>

#include "dataplane/wire/arp.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse_arp(Bytes(data, size));
  if (!parsed) return 0;
  FUZZ_CHECK(size >= sizeof(ArpHeader));

  std::vector<std::uint8_t> out(sizeof(ArpHeader));
  const std::size_t n = write_arp(MutableBytes(out), parsed->op, parsed->sender_mac, parsed->sender_ip,
                                  parsed->target_mac, parsed->target_ip);
  FUZZ_CHECK(n == sizeof(ArpHeader));
  FUZZ_CHECK(std::memcmp(out.data(), data, n) == 0);

  const auto again = parse_arp(Bytes(out));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->op == parsed->op);
  FUZZ_CHECK(again->sender_mac == parsed->sender_mac);
  FUZZ_CHECK(again->sender_ip == parsed->sender_ip);
  FUZZ_CHECK(again->target_mac == parsed->target_mac);
  FUZZ_CHECK(again->target_ip == parsed->target_ip);
  return 0;
}
