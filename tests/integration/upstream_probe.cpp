// lt-upstream-probe: plays the control's upstream side of the shared memory
// for the integration tests. It queues NTP client requests for one server on
// the UpstreamRequest ring, then waits (bounded) for the dataplane's
// TxCompletion of each and for the server's replies on the lcores' reply
// rings, and checks that every reply answers one of its requests (origin
// timestamp = the request's transmit timestamp) and came after it left.
//
//   lt-upstream-probe --shm NAME --server ADDR [--port 123] [--src-port 40000]
//                     [--count 3] [--timeout SECONDS]
//
// Prints one line per event and a summary "sent=N completions=C replies=R";
// exits 0 when every request was completed and answered.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/kernel_tables.h"
#include "dataplane/shm/segment.h"
#include "dataplane/wire/ntp.h"
#include "hwclock/ntp_time.h"

using namespace linetime;

namespace {

std::int64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "lt-upstream-probe: %s\n", msg.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = shm::kDefaultName, server;
  unsigned port = 123, src_port = 40000, count = 3;
  double timeout_s = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) fail(a + " needs a value");
    const char* v = argv[++i];
    if (a == "--shm") name = v;
    else if (a == "--server") server = v;
    else if (a == "--port") port = static_cast<unsigned>(std::atoi(v));
    else if (a == "--src-port") src_port = static_cast<unsigned>(std::atoi(v));
    else if (a == "--count") count = static_cast<unsigned>(std::atoi(v));
    else if (a == "--timeout") timeout_s = std::atof(v);
    else fail("unknown option " + a);
  }
  shm::NetAddress dst;
  if (auto v4 = wire::parse_ipv4_address(server)) {
    dst = dataplane::net_address(*v4);
  } else if (auto v6 = wire::parse_ipv6_address(server)) {
    dst = dataplane::net_address(*v6);
  } else {
    fail("--server '" + server + "' is not an IPv4 or IPv6 address");
  }
  if (count == 0 || count > 64) fail("--count takes 1 to 64");

  auto seg = shm::Segment::open(name, shm::Side::kControl, shm::OpenOptions{.create = false});
  if (!seg) fail(seg.error().message);
  seg->drain_stale();
  const std::uint32_t lcores = seg->header().dataplane.lcores.load();
  shm::RingProducer<shm::UpstreamRequest> requests(seg->upstream_tx());
  shm::RingConsumer<shm::TxCompletion> completions(seg->completions());
  std::vector<shm::RingConsumer<shm::UpstreamReply>> replies;
  for (std::uint32_t l = 0; l < (lcores == 0 ? 1 : lcores); ++l) replies.emplace_back(seg->upstream_rx(l));

  // One request at a time, each with its own transmit timestamp as cookie.
  std::vector<std::uint64_t> sent_ts;
  std::vector<std::int64_t> tx_ns(count, 0);
  unsigned completed = 0, answered = 0, mismatched = 0;
  const std::int64_t deadline = clock_ns(CLOCK_MONOTONIC) + static_cast<std::int64_t>(timeout_s * 1e9);
  std::int64_t next_send = 0;
  while (clock_ns(CLOCK_MONOTONIC) < deadline && (completed < count || answered < count)) {
    const std::int64_t now = clock_ns(CLOCK_MONOTONIC);
    if (sent_ts.size() < count && now >= next_send && answered == sent_ts.size()) {
      shm::UpstreamRequest r{};
      const std::uint64_t t1 = hwclock::NtpTimestamp::from_utc(hwclock::UtcTime(clock_ns(CLOCK_REALTIME))).raw();
      r.cookie = t1;
      r.enqueued_mono_ns = now;
      r.dst = dst;
      r.dst_port = static_cast<std::uint16_t>(port);
      r.src_port = static_cast<std::uint16_t>(src_port);
      r.length = 48;
      std::memset(r.payload, 0, 48);
      r.payload[0] = wire::ntp_li_vn_mode(0, 4, 3);
      r.payload[2] = 6;
      for (int b = 0; b < 8; ++b) r.payload[40 + b] = static_cast<std::uint8_t>(t1 >> (56 - 8 * b));
      if (!requests.push(r)) fail("the request ring is full: is the dataplane consuming it?");
      sent_ts.push_back(t1);
      next_send = now + 200'000'000;
      std::printf("request %zu queued to %s:%u from port %u\n", sent_ts.size(), server.c_str(), port, src_port);
    }
    shm::TxCompletion c;
    while (completions.pop_into(c)) {
      for (std::size_t i = 0; i < sent_ts.size(); ++i) {
        if (sent_ts[i] == c.cookie && tx_ns[i] == 0) {
          tx_ns[i] = c.tx_utc_ns;
          ++completed;
          std::printf("completion %zu: left at %lld ns UTC (source %u)\n", i + 1, static_cast<long long>(c.tx_utc_ns),
                      static_cast<unsigned>(c.source));
        }
      }
    }
    for (auto& ring : replies) {
      shm::UpstreamReply rep;
      while (ring.pop_into(rep)) {
        if (rep.length < 48 || rep.src_port != port || rep.dst_port != src_port) continue;
        std::uint64_t origin = 0;
        for (int b = 0; b < 8; ++b) origin = origin << 8 | rep.payload[24 + b];
        bool ours = false;
        for (std::size_t i = 0; i < sent_ts.size(); ++i) {
          if (sent_ts[i] != origin) continue;
          ours = true;
          const bool after = tx_ns[i] == 0 || rep.rx_utc_ns >= tx_ns[i];
          std::printf("reply to request %zu from %s: mode %u stratum %u, received %lld ns after it left%s\n", i + 1,
                      dataplane::to_string(rep.src).c_str(), rep.payload[0] & 7u, rep.payload[1],
                      static_cast<long long>(tx_ns[i] == 0 ? 0 : rep.rx_utc_ns - tx_ns[i]),
                      after ? "" : " (BEFORE it left)");
          if (after) ++answered; else ++mismatched;
        }
        if (!ours) ++mismatched;
      }
    }
    usleep(1000);
  }
  std::printf("sent=%zu completions=%u replies=%u mismatched=%u\n", sent_ts.size(), completed, answered, mismatched);
  return completed == count && answered == count && mismatched == 0 ? 0 : 1;
}
