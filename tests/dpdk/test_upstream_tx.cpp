// The control's upstream requests through a real DPDK port (net_ring): a
// request pushed on the shared-memory ring as the control does leaves as a
// frame with the right addresses, MACs and checksums, and its TX timestamp
// comes back on the completion ring. Unknown next hops wait for resolution,
// and every refusal is counted.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dataplane/counters.h"
#include "dataplane/kernel_tables.h"
#include "dataplane/upstream_tx.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/udp.h"
#include "tests/dpdk/dpdk_env.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::wire;

namespace {

class UpstreamTx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::eal_up()) GTEST_SKIP() << "DPDK EAL cannot start here (needs root)";
  }
};

const MacAddress kServerMac{{0x02, 0, 0, 0, 0, 0x42}};
const shm::NetAddress kOurIp = net_address(Ipv4Address::of(198, 18, 0, 1));
const shm::NetAddress kServerIp = net_address(Ipv4Address::of(198, 18, 0, 2));

std::uint64_t counter(const shm::Segment& seg, Counter c) { return shm::sum(seg.counters(), 1, index(c)); }

shm::UpstreamRequest request(std::uint64_t cookie, shm::NetAddress dst = kServerIp) {
  shm::UpstreamRequest r{};
  r.cookie = cookie;
  r.enqueued_mono_ns = test::clock_ns(CLOCK_MONOTONIC);
  r.dst = dst;
  r.dst_port = 123;
  r.src_port = 40000 + static_cast<std::uint16_t>(cookie % 10);
  r.length = 48;
  const auto req = test::ntp_request();
  std::memcpy(r.payload, req.data(), 48);
  r.payload[47] = static_cast<std::uint8_t>(cookie);
  return r;
}

// A sender on a fresh net_ring port, with the kernel's view of a /24 on-link.
struct Rig {
  test::RingPort port;
  test::ControlSide control;
  shm::Seqlock<hwclock::Timebase> timebase;
  KernelTables kernel;
  AddressSet ours;
  std::vector<shm::NetAddress> resolved;
  std::unique_ptr<UpstreamSender> sender;
  shm::RingProducer<shm::UpstreamRequest> requests;
  shm::RingConsumer<shm::TxCompletion> completions;

  explicit Rig(const std::string& name)
      : port(test::RingPort::create("lt_up_" + name)), control("up" + name),
        requests(control.control.upstream_tx()), completions(control.control.completions()) {
    test::fit_timebase(timebase);
    kernel.addresses = {{kOurIp, 24}};
    kernel.routes = {Route{net_address(Ipv4Address::of(198, 18, 0, 0)), 24, {}, {}, 0}};
    ours.add(Ipv4Address::of(198, 18, 0, 1));
    UpstreamSenderConfig c;
    c.port = port.port;
    c.pool = test::pool();
    c.mac = port.info.mac;
    sender = std::make_unique<UpstreamSender>(c, control.dataplane, timebase, kernel, ours,
                                              [this](const shm::NetAddress& a) { resolved.push_back(a); });
  }

  unsigned poll(std::int64_t later_ns = 0) {
    return sender->poll(hwclock::MonoTime(test::clock_ns(CLOCK_MONOTONIC) + later_ns));
  }
};

}  // namespace

TEST_F(UpstreamTx, KnownNeighbourFrameAndCompletion) {
  Rig rig("a");
  rig.kernel.neighbours = {Neighbour{kServerIp, kServerMac}};
  for (std::uint64_t c = 1; c <= 3; ++c) ASSERT_TRUE(rig.requests.push(request(c)));

  const std::int64_t before = test::clock_ns(CLOCK_REALTIME);
  EXPECT_TRUE(rig.sender->has_work());
  EXPECT_EQ(rig.poll(), 3u);
  const std::int64_t after = test::clock_ns(CLOCK_REALTIME);
  EXPECT_FALSE(rig.sender->has_work());
  EXPECT_TRUE(rig.resolved.empty());

  const auto frames = rig.port.capture();
  ASSERT_EQ(frames.size(), 3u);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    ASSERT_EQ(f.size(), 90u);
    const auto eth = parse_ethernet(Bytes(f));
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->header->dst, kServerMac);
    EXPECT_EQ(eth->header->src, rig.port.info.mac);
    const auto ip = parse_ipv4(eth->payload);  // header checksum verified
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->fields.src, ipv4_of(kOurIp));
    EXPECT_EQ(ip->fields.dst, ipv4_of(kServerIp));
    const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);  // UDP checksum verified
    ASSERT_TRUE(udp);
    EXPECT_TRUE(udp->has_checksum);
    EXPECT_EQ(udp->src_port, 40000 + i + 1);
    EXPECT_EQ(udp->dst_port, 123);
    ASSERT_EQ(udp->payload.size(), 48u);
    EXPECT_EQ(udp->payload[0], ntp_li_vn_mode(0, 4, 3));
    EXPECT_EQ(udp->payload[47], i + 1);
  }

  shm::TxCompletion c;
  for (std::uint64_t cookie = 1; cookie <= 3; ++cookie) {
    ASSERT_TRUE(rig.completions.pop_into(c));
    EXPECT_EQ(c.cookie, cookie);
    EXPECT_EQ(c.source, shm::TimestampSource::kSoftware);
    // The software TX timestamp: within the test's own clock readings.
    EXPECT_GE(c.tx_utc_ns, before - 1'000'000);
    EXPECT_LE(c.tx_utc_ns, after + 1'000'000);
  }
  EXPECT_FALSE(rig.completions.pop_into(c));
  const shm::Segment& seg = rig.control.control;
  EXPECT_EQ(counter(seg, Counter::kUpstreamSent), 3u);
  EXPECT_EQ(counter(seg, Counter::kTxFrames), 3u);
}

TEST_F(UpstreamTx, GatewayRouteUsesTheGatewaysMac) {
  Rig rig("b");
  const shm::NetAddress gateway = net_address(Ipv4Address::of(198, 18, 0, 254));
  const shm::NetAddress far = net_address(Ipv4Address::of(203, 0, 113, 7));
  rig.kernel.routes.push_back(Route{net_address(Ipv4Address{0}), 0, gateway, {}, 0});
  rig.kernel.neighbours = {Neighbour{gateway, kServerMac}};
  ASSERT_TRUE(rig.requests.push(request(9, far)));
  EXPECT_EQ(rig.poll(), 1u);
  const auto frames = rig.port.capture();
  ASSERT_EQ(frames.size(), 1u);
  const auto eth = parse_ethernet(Bytes(frames[0]));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->header->dst, kServerMac);
  const auto ip = parse_ipv4(eth->payload);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->fields.dst, ipv4_of(far));  // the gateway only gives the MAC
}

TEST_F(UpstreamTx, UnknownNeighbourWaitsForResolution) {
  Rig rig("c");
  ASSERT_TRUE(rig.requests.push(request(1)));
  ASSERT_TRUE(rig.requests.push(request(2)));
  EXPECT_EQ(rig.poll(), 0u);
  EXPECT_EQ(rig.sender->pending(), 2u);
  ASSERT_EQ(rig.resolved.size(), 1u);  // one question for the one next hop
  EXPECT_EQ(rig.resolved[0], kServerIp);
  EXPECT_TRUE(rig.port.capture().empty());
  EXPECT_EQ(rig.poll(), 0u);
  EXPECT_EQ(rig.resolved.size(), 1u);  // not asked again before the retry interval
  EXPECT_EQ(rig.poll(UpstreamSender::kResolveRetryNs + 1'000'000), 0u);
  EXPECT_EQ(rig.resolved.size(), 2u);  // asked again, still once

  rig.kernel.neighbours = {Neighbour{kServerIp, kServerMac}};  // the kernel's answer came
  EXPECT_TRUE(rig.sender->has_work());
  EXPECT_EQ(rig.poll(), 2u);
  EXPECT_EQ(rig.sender->pending(), 0u);
  const auto frames = rig.port.capture();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0][89], 1);  // in the order they came
  EXPECT_EQ(frames[1][89], 2);
  shm::TxCompletion c;
  ASSERT_TRUE(rig.completions.pop_into(c));
  EXPECT_EQ(c.cookie, 1u);
  ASSERT_TRUE(rig.completions.pop_into(c));
  EXPECT_EQ(c.cookie, 2u);
  EXPECT_EQ(counter(rig.control.control, Counter::kUpstreamUnresolved), 0u);
}

TEST_F(UpstreamTx, RefusalsAreCounted) {
  Rig rig("d");
  // Never resolved: dropped once the wait is over.
  ASSERT_TRUE(rig.requests.push(request(1)));
  EXPECT_EQ(rig.poll(), 0u);
  EXPECT_EQ(rig.poll(2'000'000'000), 0u);
  EXPECT_EQ(rig.sender->pending(), 0u);
  // Queued long ago (the dataplane was not running).
  shm::UpstreamRequest stale = request(2);
  stale.enqueued_mono_ns -= 5'000'000'000;
  ASSERT_TRUE(rig.requests.push(stale));
  // No route: nothing but the /24 is known.
  ASSERT_TRUE(rig.requests.push(request(3, net_address(Ipv4Address::of(192, 0, 2, 1)))));
  // No address family, and a length beyond the payload.
  ASSERT_TRUE(rig.requests.push(request(4, shm::NetAddress{})));
  shm::UpstreamRequest long_one = request(5);
  long_one.length = shm::kMaxRingPayload + 1;
  ASSERT_TRUE(rig.requests.push(long_one));
  EXPECT_EQ(rig.poll(), 0u);
  EXPECT_TRUE(rig.port.capture().empty());
  shm::TxCompletion c;
  EXPECT_FALSE(rig.completions.pop_into(c));
  const shm::Segment& seg = rig.control.control;
  EXPECT_EQ(counter(seg, Counter::kUpstreamUnresolved), 1u);
  EXPECT_EQ(counter(seg, Counter::kUpstreamStale), 1u);
  EXPECT_EQ(counter(seg, Counter::kUpstreamNoRoute), 1u);
  EXPECT_EQ(counter(seg, Counter::kUpstreamInvalid), 2u);
  EXPECT_EQ(counter(seg, Counter::kUpstreamSent), 0u);
  EXPECT_FALSE(rig.sender->has_work());
}
