// IPv4 parser: never reads outside the input, and write_ipv4 from the parsed
// fields followed by the payload gives back the datagram octet for octet (the
// input up to its total length) and the same parse.
//
// Input: one control octet, then the packet. Control bit 0 set: the header
// checksum is recomputed before parsing, so the fuzzer gets past the checksum.
#include <cstddef>
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/ipv4.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  // An exact-size heap copy: the sanitizer sees any read past its end.
  std::vector<std::uint8_t> packet(data + 1, data + size);
  if (fix_checksum && packet.size() >= sizeof(Ipv4Header)) {
    auto* h = overlay<Ipv4Header>(MutableBytes(packet));
    h->checksum.set(ipv4_header_checksum(Bytes(packet).first(sizeof(Ipv4Header))));
  }

  const auto parsed = parse_ipv4(Bytes(packet));
  if (!parsed) return 0;
  const std::size_t total = sizeof(Ipv4Header) + parsed->payload.size();
  FUZZ_CHECK(total == parsed->header->total_length.get());
  FUZZ_CHECK(total <= packet.size());

  std::vector<std::uint8_t> out(total);
  const std::size_t n = write_ipv4(MutableBytes(out), parsed->fields, parsed->payload.size());
  FUZZ_CHECK(n == sizeof(Ipv4Header));
  if (!parsed->payload.empty()) std::memcpy(out.data() + n, parsed->payload.data(), parsed->payload.size());
  // The checksum may differ only between its two representations of zero: a
  // sender may store 0xffff where write_ipv4 stores 0x0000, both verify.
  const std::uint16_t sent = parsed->header->checksum.get();
  const std::uint16_t built = overlay<Ipv4Header>(Bytes(out))->checksum.get();
  FUZZ_CHECK(sent == built || (sent == 0xffff && built == 0));
  FUZZ_CHECK(std::memcmp(out.data(), packet.data(), offsetof(Ipv4Header, checksum)) == 0);
  FUZZ_CHECK(std::memcmp(out.data() + offsetof(Ipv4Header, src), packet.data() + offsetof(Ipv4Header, src),
                         total - offsetof(Ipv4Header, src)) == 0);

  const auto again = parse_ipv4(Bytes(out));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->fields == parsed->fields);
  FUZZ_CHECK(again->payload.size() == parsed->payload.size());
  return 0;
}
