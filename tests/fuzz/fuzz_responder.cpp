// The responder on arbitrary requests: never answers with more bytes than the
// request, answers only client requests, and an answer is a well-formed mode 4
// reply carrying the request's transmit timestamp as its origin.
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
  Responder r;
  r.update(s);
  std::uint8_t out[2048];
  const hwclock::UtcTime rx(1'800'000'100LL * hwclock::kNsPerSec);
  const auto res = r.handle(NtpRequest{wire::Bytes(data, size), port, rx}, wire::MutableBytes(out, sizeof out),
                            [rx] { return rx + hwclock::Duration::from_ns(500); });
  if (!answered(res.outcome)) {
    FUZZ_CHECK(res.length == 0);
    return 0;
  }
  FUZZ_CHECK(res.length == sizeof(wire::NtpHeader));
  FUZZ_CHECK(res.length <= size);
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
