#include "dataplane/wire/icmp.h"

#include <cstring>

#include "dataplane/wire/checksum.h"

namespace linetime::wire {

Parsed<IcmpEchoView> parse_icmp_echo(Bytes message) {
  IcmpEchoView v;
  v.header = overlay<IcmpEchoHeader>(message);
  if (v.header == nullptr) return unexpected(ParseError::kTruncated);
  if (internet_checksum(message) != 0) return unexpected(ParseError::kBadChecksum);
  const IcmpEchoHeader& h = *v.header;
  const bool echo = h.type == static_cast<std::uint8_t>(IcmpType::kEchoRequest) ||
                    h.type == static_cast<std::uint8_t>(IcmpType::kEchoReply);
  if (!echo || h.code != 0) return unexpected(ParseError::kUnsupported);

  v.type = static_cast<IcmpType>(h.type);
  v.identifier = h.identifier.get();
  v.sequence = h.sequence.get();
  v.data = message.subspan(sizeof(IcmpEchoHeader));
  return v;
}

std::size_t write_icmp_echo(MutableBytes out, IcmpType type, std::uint16_t identifier, std::uint16_t sequence,
                            Bytes data) {
  const std::size_t need = sizeof(IcmpEchoHeader) + data.size();
  if (out.size() < need) return 0;
  if (!data.empty()) std::memmove(out.data() + sizeof(IcmpEchoHeader), data.data(), data.size());
  auto* h = overlay<IcmpEchoHeader>(out);
  h->type = static_cast<std::uint8_t>(type);
  h->code = 0;
  h->checksum.set(0);
  h->identifier.set(identifier);
  h->sequence.set(sequence);
  h->checksum.set(internet_checksum(out.first(need)));
  return need;
}

bool icmp_echo_request_to_reply(MutableBytes message) {
  auto* h = overlay<IcmpEchoHeader>(message);
  if (h == nullptr || h->type != static_cast<std::uint8_t>(IcmpType::kEchoRequest)) return false;
  // Type and code form the first 16-bit word of the message.
  const auto old_word = static_cast<std::uint16_t>((h->type << 8) | h->code);
  h->type = static_cast<std::uint8_t>(IcmpType::kEchoReply);
  const auto new_word = static_cast<std::uint16_t>((h->type << 8) | h->code);
  const std::uint16_t c = checksum_update16(h->checksum.get(), old_word, new_word);
  // A reply with identifier, sequence and data all zero is all zero octets, whose
  // checksum is 0xffff; 0xffff is valid for every other reply eqn. 3 gives 0 for.
  h->checksum.set(c == 0 ? 0xffff : c);
  return true;
}

}  // namespace linetime::wire
