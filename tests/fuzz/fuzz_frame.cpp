// The dataplane's frame processor on arbitrary frames: never reads or writes
// outside the buffer, never answers with more than the request (but for the
// Ethernet minimum), and every answer it builds parses back with valid
// lengths and checksums.
#include <cstring>

#include "dataplane/frame.h"
#include "dataplane/wire/arp.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/icmp.h"
#include "dataplane/wire/icmpv6.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ipv6.h"
#include "dataplane/wire/udp.h"
#include "tests/fuzz/check.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::wire;

namespace {

FrameProcessor make() {
  LocalConfig c;
  c.mac = MacAddress{{0x02, 0, 0, 0, 0, 0x01}};
  c.ipv4 = {Ipv4Address::of(198, 18, 0, 1)};
  c.ipv6 = {*parse_ipv6_address("fd00::1")};
  c.vlans = {100};
  c.upstream_port_min = 40000;
  c.upstream_port_max = 40009;
  FrameProcessor p(c);
  p.responder().update(shm::local_reference_state(hwclock::UtcTime(1'800'000'000LL * hwclock::kNsPerSec), 2, -20));
  return p;
}

// The answer's network layer verifies (lengths and checksums).
bool answer_parses(Bytes frame) {
  const auto eth = parse_ethernet(frame);
  if (!eth) return false;
  if (eth->ethertype == kEtherTypeArp) return parse_arp(eth->payload).has_value();
  if (eth->ethertype == kEtherTypeIpv4) {
    const auto ip = parse_ipv4(eth->payload);
    if (!ip) return false;
    if (ip->fields.protocol == 17) return parse_udp(ip->payload, ip->fields.src, ip->fields.dst).has_value();
    return parse_icmp_echo(ip->payload).has_value();
  }
  if (eth->ethertype == kEtherTypeIpv6) {
    const auto ip = parse_ipv6(eth->payload);
    if (!ip) return false;
    if (ip->fields.next_header == 17) return parse_udp(ip->payload, ip->fields.src, ip->fields.dst).has_value();
    return parse_icmpv6(ip->payload, ip->fields.src, ip->fields.dst, ip->fields.hop_limit).has_value();
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FrameProcessor p = make();
  if (size > 1500) return 0;
  std::uint8_t buf[1600];
  std::memcpy(buf, data, size);
  const hwclock::UtcTime rx(1'800'000'100LL * hwclock::kNsPerSec);
  const Verdict v = p.process(MutableBytes(buf, sizeof buf), size, rx, [rx] { return rx; });
  if (v.action != Action::kTransmit) return 0;
  FUZZ_CHECK(v.length <= (size < kMinFrame ? kMinFrame : size));
  FUZZ_CHECK(answer_parses(Bytes(buf, v.length)));
  return 0;
}
