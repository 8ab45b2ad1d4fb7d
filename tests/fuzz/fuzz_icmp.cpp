// ICMP echo parser: never reads outside the input, and write_icmp_echo from the
// parsed fields and data gives back the message octet for octet and the same
// parse; turning a request into a reply in place keeps it valid.
//
// Input: one control octet, then the message. Control bit 0 set: the checksum is
// recomputed before parsing, so the fuzzer gets past the checksum.
#include <cstring>
#include <vector>

#include "dataplane/wire/checksum.h"
#include "dataplane/wire/icmp.h"
#include "tests/fuzz/check.h"

using namespace linetime::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  std::vector<std::uint8_t> message(data + 1, data + size);
  if (fix_checksum && message.size() >= sizeof(IcmpEchoHeader)) {
    auto* h = overlay<IcmpEchoHeader>(MutableBytes(message));
    h->checksum.set(0);
    h->checksum.set(internet_checksum(Bytes(message)));
  }

  const auto parsed = parse_icmp_echo(Bytes(message));
  if (!parsed) return 0;
  FUZZ_CHECK(sizeof(IcmpEchoHeader) + parsed->data.size() == message.size());

  std::vector<std::uint8_t> out(message.size());
  const std::size_t n =
      write_icmp_echo(MutableBytes(out), parsed->type, parsed->identifier, parsed->sequence, parsed->data);
  FUZZ_CHECK(n == message.size());
  // The checksum may differ only between its two representations of zero: a
  // sender may store 0xffff where write_icmp_echo stores 0x0000, both verify.
  const std::uint16_t sent = overlay<IcmpEchoHeader>(Bytes(message))->checksum.get();
  const std::uint16_t built = overlay<IcmpEchoHeader>(Bytes(out))->checksum.get();
  FUZZ_CHECK(sent == built || (sent == 0xffff && built == 0));
  FUZZ_CHECK(std::memcmp(out.data(), message.data(), 2) == 0);
  FUZZ_CHECK(std::memcmp(out.data() + 4, message.data() + 4, n - 4) == 0);

  const auto again = parse_icmp_echo(Bytes(out));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->type == parsed->type);
  FUZZ_CHECK(again->identifier == parsed->identifier);
  FUZZ_CHECK(again->sequence == parsed->sequence);
  FUZZ_CHECK(again->data.size() == parsed->data.size());

  if (parsed->type == IcmpType::kEchoRequest) {
    FUZZ_CHECK(icmp_echo_request_to_reply(MutableBytes(out)));
    const auto reply = parse_icmp_echo(Bytes(out));
    FUZZ_CHECK(reply.has_value());
    FUZZ_CHECK(reply->type == IcmpType::kEchoReply);
  }
  return 0;
}
