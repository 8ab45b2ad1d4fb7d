// The responder on arbitrary requests: never answers with more bytes than the
// request, answers only client requests, and an answer is a well-formed mode 4
// reply carrying the request's transmit timestamp as its origin; one with a
// MAC is signed with the request's key (two trusted keys, MD5 and AES), a
// crypto-NAK is the header and four zero octets.
#include <cstring>

#include "dataplane/responder.h"
#include "tests/fuzz/check.h"

using namespace linetime;
using namespace linetime::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  // First octets choose the state: synchronized or not, stratum, source port.
  shm::ServerState s = shm::local_reference_state(hwclock::UtcTime(1'800'000'000LL * hwclock::kNsPerSec), data[0] % 17, -20);
  s.synchronized = data[0] & 0x80 ? 1 : 0;
  const std::uint16_t port = static_cast<std::uint16_t>(data[1] << 8 | data[2]);
  data += 3;
  size -= 3;
  static const auth::KeyTable keys(
      auth::parse_keys("1 MD5 fuzz-md5\n2 AES 000102030405060708090a0b0c0d0e0f\n").keys, {1, 2});
  Responder r;
  r.update(s);
  r.set_keys(&keys);
  std::uint8_t out[2048];
  const hwclock::UtcTime rx(1'800'000'100LL * hwclock::kNsPerSec);
  const auto res = r.handle(NtpRequest{wire::Bytes(data, size), port, rx}, wire::MutableBytes(out, sizeof out),
                            [rx] { return rx + hwclock::Duration::from_ns(500); });
  if (!answered(res.outcome)) {
    FUZZ_CHECK(res.length == 0);
    return 0;
  }
  FUZZ_CHECK(res.length <= size);
  constexpr std::size_t kHeader = sizeof(wire::NtpHeader);
  if (res.outcome == NtpOutcome::kAnsweredNakUnknownKey || res.outcome == NtpOutcome::kAnsweredNakBadMac) {
    FUZZ_CHECK(res.length == kHeader + 4);
    FUZZ_CHECK((out[48] | out[49] | out[50] | out[51]) == 0);
  } else if (res.outcome == NtpOutcome::kAnsweredAuthenticated) {
    const std::uint32_t id = std::uint32_t{out[48]} << 24 | std::uint32_t{out[49]} << 16 | std::uint32_t{out[50]} << 8 | out[51];
    const auth::Mac* mac = keys.find(id);
    FUZZ_CHECK(mac != nullptr);
    FUZZ_CHECK(res.length == kHeader + 4 + mac->length());
    FUZZ_CHECK(mac->verify(out, kHeader, out + kHeader + 4, mac->length()));
  } else {
    FUZZ_CHECK(res.length == kHeader);
  }
  FUZZ_CHECK(port != 0);
  const auto* q = reinterpret_cast<const wire::NtpHeader*>(data);
  const auto* a = reinterpret_cast<const wire::NtpHeader*>(out);
  FUZZ_CHECK(q->mode() == 3);
  FUZZ_CHECK(a->mode() == 4);
  FUZZ_CHECK(a->version() == q->version());
  FUZZ_CHECK(std::memcmp(&a->origin_ts, &q->transmit_ts, 8) == 0);
  FUZZ_CHECK(a->stratum >= 1 && a->stratum <= 16);
  FUZZ_CHECK((a->stratum == 16) == (a->leap() == 3));
  return 0;
}
