// The kernel transport over loopback: datagrams arrive with kernel receive
// timestamps and the local address, and every send is reported back from the
// error queue with its token and a transmit time between the send call and the
// report.
#include <gtest/gtest.h>
#include <poll.h>
#include <time.h>

#include <array>
#include <chrono>
#include <thread>
#include <vector>

#include "control/kernel_transport.h"

namespace linetime::control {
namespace {

hwclock::UtcTime now_real() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return hwclock::utc_from_ns(std::int64_t{ts.tv_sec} * hwclock::kNsPerSec + ts.tv_nsec);
}

Endpoint loopback(bool v6, std::uint16_t port) {
  Endpoint e;
  e.address.is_v6 = v6;
  if (v6) {
    e.address.v6.bytes[15] = 1;
  } else {
    e.address.v4 = wire::Ipv4Address::of(127, 0, 0, 1);
  }
  e.port = port;
  return e;
}

// Waits (bounded) until `t` has something and drains it into the vectors.
void pump(KernelTransport& t, std::vector<Datagram>& got, std::vector<std::vector<std::byte>>& payloads,
          std::vector<TxReport>& reports, std::size_t want_datagrams, std::size_t want_reports) {
  for (int round = 0; round < 200 && (got.size() < want_datagrams || reports.size() < want_reports); ++round) {
    std::vector<pollfd> fds;
    t.pollfds(fds);
    ::poll(fds.data(), fds.size(), 10);
    t.drain(
        [&](const Datagram& d) {
          got.push_back(d);
          payloads.emplace_back(d.payload.begin(), d.payload.end());
        },
        [&](const TxReport& r) { reports.push_back(r); });
  }
}

// The kernel turns receive stamping on and off system-wide, a moment after
// the first timestamping socket opens and the last one closes (a deferred
// static key). One socket kept open for the whole test run keeps it on, so
// closing the sockets of one test cannot turn it off under the next.
class KernelTransportTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    keeper_ = new KernelTransport(KernelTransportOptions{loopback(false, 0), true});
    (void)keeper_->open(false);
  }
  static void TearDownTestSuite() {
    delete keeper_;
    keeper_ = nullptr;
  }
  static KernelTransport* keeper_;
};
KernelTransport* KernelTransportTest::keeper_ = nullptr;

TEST_P(KernelTransportTest, ExchangeWithStampsAndTokens) {
  const bool v6 = GetParam();
  KernelTransport server(KernelTransportOptions{loopback(v6, 0), true});
  auto opened = server.open(v6);
  if (!opened && v6) GTEST_SKIP() << "no IPv6 loopback here: " << opened.error();
  ASSERT_TRUE(opened) << opened.error();
  const std::uint16_t port = server.local_port(v6);
  ASSERT_NE(port, 0);

  KernelTransport client;
  std::array<std::byte, 48> request{};
  // The kernel switches receive stamping on system-wide a moment after the
  // first socket asks (a deferred static key): warm up until a stamped one
  // arrives, as a daemon's first packet may also come without.
  bool kernel_seen = false;
  for (int i = 0; i < 200 && !kernel_seen; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the kernel's deferred work
    ASSERT_TRUE(client.send(loopback(v6, port), request));
    std::vector<Datagram> warm;
    std::vector<std::vector<std::byte>> warm_payloads;
    std::vector<TxReport> warm_reports;
    pump(server, warm, warm_payloads, warm_reports, 1, 0);
    pump(client, warm, warm_payloads, warm_reports, 1, 1);
    kernel_seen = !warm.empty() && warm[0].rx_source == StampSource::kKernel;
  }
  EXPECT_TRUE(kernel_seen) << "no kernel receive timestamp within 2 s";
  request[0] = std::byte{0x23};
  const hwclock::UtcTime before = now_real();
  auto sent1 = client.send(loopback(v6, port), request);
  ASSERT_TRUE(sent1) << sent1.error();
  request[1] = std::byte{7};
  auto sent2 = client.send(loopback(v6, port), request);
  ASSERT_TRUE(sent2) << sent2.error();
  EXPECT_EQ(sent2->token, sent1->token + 1);
  EXPECT_GE(sent1->sent_at, before);

  std::vector<Datagram> got;
  std::vector<std::vector<std::byte>> payloads;
  std::vector<TxReport> unused;
  pump(server, got, payloads, unused, 2, 0);
  const hwclock::UtcTime after = now_real();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(payloads[0].size(), 48u);
  EXPECT_EQ(payloads[0][0], std::byte{0x23});
  EXPECT_EQ(payloads[1][1], std::byte{7});
  // Kernel stamps as a rule; the kernel occasionally delivers one without
  // (the daemon's clock read stands in), which must still be in range.
  EXPECT_NE(got[0].rx_source, StampSource::kNone);
  EXPECT_GE(got[0].rx, before);
  EXPECT_LE(got[0].rx, after);
  EXPECT_EQ(got[0].from.address, loopback(v6, 0).address);
  EXPECT_EQ(got[0].from.port, client.local_port(v6));
  EXPECT_EQ(got[0].to, loopback(v6, port));  // the local address from the packet info

  std::vector<Datagram> none;
  std::vector<std::vector<std::byte>> none_payloads;
  std::vector<TxReport> reports;
  pump(client, none, none_payloads, reports, 0, 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].token, sent1->token);
  EXPECT_EQ(reports[1].token, sent2->token);
  EXPECT_EQ(reports[0].source, StampSource::kKernel);
  EXPECT_GE(reports[0].tx, sent1->sent_at);
  EXPECT_LE(reports[0].tx, got[0].rx);  // left before it arrived
  EXPECT_NE(client.describe().find("kernel software RX and TX timestamps"), std::string::npos);

  // The answer goes back to where the request came from.
  auto back = server.send(got[0].from, request);
  ASSERT_TRUE(back) << back.error();
  std::vector<TxReport> client_reports;
  pump(client, none, none_payloads, client_reports, 1, 0);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].from, loopback(v6, port));
}

INSTANTIATE_TEST_SUITE_P(Families, KernelTransportTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "IPv6" : "IPv4"; });

TEST(KernelTransport, WithoutTimestampingTheDaemonReadsTheClock) {
  KernelTransport server(KernelTransportOptions{loopback(false, 0), false});
  ASSERT_TRUE(server.open(false));
  KernelTransport client(KernelTransportOptions{std::nullopt, false});
  std::array<std::byte, 48> request{};
  ASSERT_TRUE(client.send(loopback(false, server.local_port(false)), request));
  std::vector<Datagram> got;
  std::vector<std::vector<std::byte>> payloads;
  std::vector<TxReport> reports;
  pump(server, got, payloads, reports, 1, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rx_source, StampSource::kDaemon);
  EXPECT_NE(server.describe().find("read by the daemon"), std::string::npos);
}

TEST(KernelTransport, BindErrorsNameTheCause) {
  KernelTransport first(KernelTransportOptions{loopback(false, 0), true});
  ASSERT_TRUE(first.open(false));
  KernelTransport second(KernelTransportOptions{loopback(false, first.local_port(false)), true});
  auto r = second.open(false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("Address already in use"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("stop it first"), std::string::npos) << r.error();

  Endpoint foreign = loopback(false, 0);
  foreign.address.v4 = wire::Ipv4Address::of(198, 18, 255, 254);  // not configured here
  KernelTransport third(KernelTransportOptions{foreign, true});
  auto r3 = third.open(false);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().find("not configured on any interface"), std::string::npos) << r3.error();
}

TEST(Endpoint, Formats) {
  EXPECT_EQ(to_string(loopback(false, 123)), "127.0.0.1:123");
  EXPECT_EQ(to_string(loopback(true, 123)), "[::1]:123");
}

}  // namespace
}  // namespace linetime::control
