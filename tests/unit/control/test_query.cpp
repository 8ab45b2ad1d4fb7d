// linetimectl query against NTP responders in this process on loopback: the
// dataplane's Responder behind a UDP socket, its clock a fixed offset from
// CLOCK_REALTIME. Checks the measured offset, stratum, leap and reference id,
// several servers at once, silent and refusing servers, and the printed forms.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "control/json.h"
#include "control/query.h"
#include "dataplane/responder.h"

using namespace linetime;
using namespace linetime::control;

namespace {

hwclock::UtcTime realtime() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return hwclock::utc_from_ns(std::int64_t{ts.tv_sec} * hwclock::kNsPerSec + ts.tv_nsec);
}

int udp_socket(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  return fd;
}

// An NTP server on 127.0.0.1 whose clock runs `offset` ahead of CLOCK_REALTIME.
class LoopbackServer {
 public:
  LoopbackServer(hwclock::Duration offset, int stratum, bool synchronized = true) : offset_(offset) {
    fd_ = udp_socket(port_);
    shm::ServerState s;
    s.synchronized = synchronized ? 1 : 0;
    s.leap = synchronized ? 0 : 3;
    s.stratum = static_cast<std::uint8_t>(stratum);
    s.reference_id = 0xC6120009;  // 198.18.0.9
    s.reference_time_ns = realtime().ticks();
    s.root_delay_ns = 2'000'000;
    s.root_dispersion_ns = 1'000'000;
    responder_.update(s);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int answered() const { return answered_; }

 private:
  void run() {
    std::uint8_t buf[1024];
    std::uint8_t out[1024];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      const hwclock::UtcTime rx = realtime() + offset_;
      dataplane::NtpRequest req{wire::Bytes(buf, static_cast<std::size_t>(n)), ntohs(from.sin_port), rx};
      const dataplane::NtpResponse r =
          responder_.handle(req, wire::MutableBytes(out, sizeof out), [this] { return realtime() + offset_; });
      if (r.length == 0) continue;
      ++answered_;  // before sending: the client may finish as soon as the answer arrives
      ::sendto(fd_, out, r.length, 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  hwclock::Duration offset_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  dataplane::Responder responder_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

}  // namespace

TEST(Query, MeasuresOffsetOfOneServer) {
  LoopbackServer server(hwclock::Duration::from_ms(250), 2);
  QueryOptions o;
  o.timeout = std::chrono::milliseconds(3000);
  const auto results = query_servers({server.address()}, o);
  ASSERT_EQ(results.size(), 1u);
  const QueryResult& r = results[0];
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NEAR(r.offset_s, 0.250, 0.005);
  EXPECT_GE(r.delay_s, 0.0);
  EXPECT_LT(r.delay_s, 0.05);
  EXPECT_EQ(r.stratum, 2);
  EXPECT_EQ(r.leap, 0);
  EXPECT_EQ(r.refid, "198.18.0.9");
  EXPECT_NEAR(r.root_delay_s, 0.002, 2e-5);  // NTP short format: 1/65536 s steps
  EXPECT_EQ(r.samples, 1);
  EXPECT_EQ(r.requests, 1);
  ASSERT_TRUE(r.server.has_value());
  EXPECT_EQ(to_string(*r.server), server.address());
  EXPECT_EQ(best_server(results), 0);
}

TEST(Query, SeveralServersAtOnceWithOneSilent) {
  LoopbackServer ahead(hwclock::Duration::from_ms(250), 3);
  LoopbackServer behind(hwclock::Duration::from_ms(-100), 2);
  std::uint16_t silent_port = 0;
  const int silent = udp_socket(silent_port);  // bound, never answers
  QueryOptions o;
  o.timeout = std::chrono::milliseconds(1500);
  const auto results =
      query_servers({ahead.address(), "127.0.0.1:" + std::to_string(silent_port), behind.address()}, o);
  ::close(silent);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].error;
  EXPECT_NEAR(results[0].offset_s, 0.250, 0.005);
  EXPECT_EQ(results[0].stratum, 3);
  EXPECT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error.rfind("no reply within 1.5 s to ", 0), 0u) << results[1].error;
  EXPECT_GE(results[1].requests, 1);
  EXPECT_LE(results[1].requests, 3);  // a request a second at most
  ASSERT_TRUE(results[2].ok()) << results[2].error;
  EXPECT_NEAR(results[2].offset_s, -0.100, 0.005);
  EXPECT_EQ(best_server(results), 2);  // the lower stratum
}

TEST(Query, SeveralSamplesPerServer) {
  LoopbackServer server(hwclock::Duration::from_ms(-40), 1);
  QueryOptions o;
  o.samples = 2;
  o.timeout = std::chrono::milliseconds(4000);
  const auto results = query_servers({server.address()}, o);
  ASSERT_TRUE(results[0].ok()) << results[0].error;
  EXPECT_EQ(results[0].samples, 2);
  EXPECT_EQ(results[0].requests, 2);
  EXPECT_EQ(server.answered(), 2);
  EXPECT_NEAR(results[0].offset_s, -0.040, 0.005);
  // Stratum 1 with an address for a reference id (as chronyd's `local` sends):
  // shown as the address, not as unprintable bytes.
  EXPECT_EQ(results[0].refid, "198.18.0.9");
}

TEST(Query, UnsynchronizedServerIsRejected) {
  LoopbackServer server(hwclock::Duration{}, 2, false);
  QueryOptions o;
  o.timeout = std::chrono::milliseconds(1200);
  const auto results = query_servers({server.address()}, o);
  ASSERT_FALSE(results[0].ok());
  EXPECT_NE(results[0].error.find("rejected"), std::string::npos) << results[0].error;
  EXPECT_EQ(best_server(results), -1);
  EXPECT_NE(format_query(results).find("no server suitable for synchronization found\n"), std::string::npos);
}

TEST(Query, BadServiceNameFailsWithoutNetwork) {
  QueryOptions o;
  o.timeout = std::chrono::milliseconds(200);
  const auto results = query_servers({"127.0.0.1:no-such-service"}, o);
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error.rfind("cannot resolve '127.0.0.1:no-such-service': ", 0), 0u) << results[0].error;
  EXPECT_FALSE(results[0].server.has_value());
}

TEST(Query, ResolvesNumericForms) {
  QueryOptions o;
  o.port = 1123;
  auto e = resolve_server("198.18.0.1", o);
  ASSERT_TRUE(e.has_value()) << e.error();
  EXPECT_EQ(to_string(*e), "198.18.0.1:1123");
  e = resolve_server("198.18.0.1:5", o);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(to_string(*e), "198.18.0.1:5");
  e = resolve_server("[2001:db8::1]:7", o);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(to_string(*e), "[2001:db8::1]:7");
  e = resolve_server("2001:db8::1", o);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(to_string(*e), "[2001:db8::1]:1123");
}

TEST(Query, PrintedForms) {
  std::vector<QueryResult> rs(3);
  rs[0].host = "a";
  rs[0].server = resolve_server("198.18.0.1", {}).value();
  rs[0].stratum = 2;
  rs[0].leap = 0;
  rs[0].refid = "198.18.0.9";
  rs[0].offset_s = 0.2501234;
  rs[0].delay_s = 0.000123;
  rs[0].samples = rs[0].requests = 1;
  rs[1].host = "b.example";
  rs[1].error = "cannot resolve 'b.example': Name or service not known (check the name, or give an address)";
  rs[2].host = "198.18.0.3";
  rs[2].server = resolve_server("198.18.0.3", {}).value();
  rs[2].stratum = 1;
  rs[2].leap = 1;
  rs[2].refid = ".GPS.";
  rs[2].offset_s = -0.000012;
  rs[2].delay_s = 0.0021;
  EXPECT_EQ(format_query(rs),
            "server 198.18.0.1, stratum 2, offset +0.250123, delay 0.00012, refid 198.18.0.9, no-leap\n"
            "server b.example, no measurement: cannot resolve 'b.example': Name or service not known (check the "
            "name, or give an address)\n"
            "server 198.18.0.3, stratum 1, offset -0.000012, delay 0.00210, refid .GPS., add-leap\n"
            "best: server 198.18.0.3 offset -0.000012 sec (measured only; the clock was not adjusted)\n");
  auto j = parse_json(query_json(rs));
  ASSERT_TRUE(j.has_value()) << j.error();
  ASSERT_EQ(j->find("servers")->items().size(), 3u);
  EXPECT_EQ(j->find("best")->number(), 2);
  const JsonValue& first = j->find("servers")->items()[0];
  EXPECT_EQ(first.find("address")->string(), "198.18.0.1");
  EXPECT_EQ(first.find("port")->number(), 123);
  EXPECT_NEAR(first.find("offset_s")->number(), 0.2501234, 1e-12);
  EXPECT_EQ(first.find("leap")->string(), "no-leap");
  EXPECT_TRUE(j->find("servers")->items()[1].find("address")->is_null());
  EXPECT_NE(j->find("servers")->items()[1].find("error"), nullptr);
}
