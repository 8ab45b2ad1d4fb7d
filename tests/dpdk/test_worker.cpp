// The dataplane worker in-process on real DPDK ports: net_ring (inject frames,
// capture answers, check every field and checksum) and net_pcap (whose RX
// timestamps exercise the hardware-timestamp path).
#include <gtest/gtest.h>

#include <rte_bus_vdev.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "dataplane/counters.h"
#include "dataplane/wire/arp.h"
#include "dataplane/wire/ethernet.h"
#include "dataplane/wire/ipv4.h"
#include "dataplane/wire/ntp.h"
#include "dataplane/wire/udp.h"
#include "tests/dpdk/dpdk_env.h"
#include "tests/support/frames.h"

using namespace linetime;
using namespace linetime::dataplane;
using namespace linetime::wire;

namespace {

class Dpdk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::eal_up()) GTEST_SKIP() << "DPDK EAL cannot start here (needs root)";
  }
};

LocalConfig local_for(const MacAddress& mac) {
  LocalConfig c;
  c.mac = mac;
  c.ipv4 = {test::kServerIp};
  return c;
}

std::uint64_t counter(const shm::Segment& seg, Counter c) { return shm::sum(seg.counters(), 1, index(c)); }

struct ParsedAnswer {
  const NtpHeader* ntp = nullptr;
  std::uint16_t dst_port = 0;
  Ipv4Address dst;
};

ParsedAnswer parse_answer(const std::vector<std::uint8_t>& f) {
  ParsedAnswer a;
  const auto eth = parse_ethernet(Bytes(f));
  if (!eth) return a;
  const auto ip = parse_ipv4(eth->payload);
  if (!ip) return a;
  const auto udp = parse_udp(ip->payload, ip->fields.src, ip->fields.dst);  // verifies the checksum
  if (!udp) return a;
  a.ntp = reinterpret_cast<const NtpHeader*>(udp->payload.data());
  a.dst_port = udp->dst_port;
  a.dst = ip->fields.dst;
  return a;
}

}  // namespace

TEST_F(Dpdk, RingPortAnswersNtpArpAndCountsEverything) {
  test::WorkerRig rig("a");
  auto& [port, control, timebase, wc] = rig;
  ASSERT_EQ(port.info.driver, "net_ring");
  Worker worker(wc, local_for(port.info.mac), control.dataplane, timebase, hwclock::Duration::from_s(300));

  // A burst: 20 NTP requests from distinct ports, one ARP request, one mode-7
  // request, one frame for another MAC, one TCP segment (no exception port).
  const auto req = test::ntp_request();
  for (std::uint16_t i = 0; i < 20; ++i) {
    auto f = test::udp4(req, static_cast<std::uint16_t>(50000 + i), 123, test::kClientIp, test::kServerIp, port.info.mac);
    ASSERT_TRUE(port.inject(f.buf.data(), f.length));
  }
  test::Frame arp;
  arp.length = write_ethernet(arp.bytes(), MacAddress::broadcast(), test::kClientMac, kEtherTypeArp);
  arp.length += write_arp(arp.bytes().subspan(arp.length), ArpOp::kRequest, test::kClientMac, test::kClientIp, MacAddress{},
                          test::kServerIp);
  ASSERT_TRUE(port.inject(arp.buf.data(), arp.length));
  const auto mode7 = test::ntp_request(7);
  auto bad = test::udp4(mode7, 40000, 123, test::kClientIp, test::kServerIp, port.info.mac);
  ASSERT_TRUE(port.inject(bad.buf.data(), bad.length));
  auto other = test::udp4(req, 40000, 123, test::kClientIp, test::kServerIp, MacAddress{{2, 9, 9, 9, 9, 9}});
  ASSERT_TRUE(port.inject(other.buf.data(), other.length));
  auto tcp = test::udp4(req, 40000, 22, test::kClientIp, test::kServerIp, port.info.mac);
  ASSERT_TRUE(port.inject(tcp.buf.data(), tcp.length));

  const std::int64_t before = test::clock_ns(CLOCK_REALTIME);
  unsigned received = 0;
  for (int i = 0; i < 4; ++i) received += worker.poll_once();
  const std::int64_t after = test::clock_ns(CLOCK_REALTIME);
  EXPECT_EQ(received, 24u);

  const auto out = port.capture();
  ASSERT_EQ(out.size(), 21u);  // 20 NTP answers + 1 ARP reply
  std::uint16_t next_port = 50000;
  for (const auto& f : out) {
    if (f.size() == 60) {  // the ARP reply, padded
      const auto eth = parse_ethernet(Bytes(f));
      ASSERT_TRUE(eth);
      const auto a = parse_arp(eth->payload);
      ASSERT_TRUE(a);
      EXPECT_EQ(a->op, ArpOp::kReply);
      EXPECT_EQ(a->sender_mac, port.info.mac);
      continue;
    }
    ASSERT_EQ(f.size(), 90u);
    const ParsedAnswer a = parse_answer(f);
    ASSERT_NE(a.ntp, nullptr) << "answer did not parse (bad checksum?)";
    EXPECT_EQ(a.dst_port, next_port++);
    EXPECT_EQ(a.dst, test::kClientIp);
    EXPECT_EQ(a.ntp->mode(), 4u);
    EXPECT_EQ(a.ntp->stratum, 2);
    EXPECT_EQ(a.ntp->reference_id.get(), 0xC6120063u);
    EXPECT_EQ(a.ntp->origin_ts.get(), 0xA0A1A2A3A4A5A6A7ULL);
    // Receive and transmit are software timestamps from the TSC timebase:
    // within the test's own clock readings, transmit not before receive.
    const auto rx = load_ts(a.ntp->receive_ts).to_utc(hwclock::UtcTime(before)).ticks();
    const auto tx = load_ts(a.ntp->transmit_ts).to_utc(hwclock::UtcTime(before)).ticks();
    EXPECT_GE(rx, before - 1'000'000);
    EXPECT_LE(tx, after + 1'000'000);
    EXPECT_GE(tx, rx);
  }
  const shm::Segment& seg = control.control;
  EXPECT_EQ(counter(seg, Counter::kRxFrames), 24u);
  EXPECT_EQ(counter(seg, Counter::kTxFrames), 21u);
  EXPECT_EQ(counter(seg, counter_for(NtpOutcome::kAnswered)), 20u);
  EXPECT_EQ(counter(seg, Counter::kTxTimestampSoftware), 20u);
  EXPECT_EQ(counter(seg, Counter::kArpReplied), 1u);
  EXPECT_EQ(counter(seg, counter_for(NtpOutcome::kDropPrivate)), 1u);
  EXPECT_EQ(counter(seg, Counter::kDropNotForUs), 1u);
  EXPECT_EQ(counter(seg, Counter::kException), 1u);
  EXPECT_EQ(counter(seg, Counter::kExceptionNoPort), 1u);
}

TEST_F(Dpdk, HoldoverAndRecoveryFollowTheControl) {
  test::WorkerRig rig("b");
  auto& [port, control, timebase, wc] = rig;
  Worker worker(wc, local_for(port.info.mac), control.dataplane, timebase, hwclock::Duration::from_ms(200));
  const auto req = test::ntp_request();
  auto f = test::udp4(req, 50000, 123, test::kClientIp, test::kServerIp, port.info.mac);

  auto ask = [&] {
    port.inject(f.buf.data(), f.length);
    worker.poll_once();
    const auto out = port.capture();
    return out.size() == 1 ? parse_answer(out[0]).ntp->stratum : -1;
  };
  EXPECT_EQ(ask(), 2);
  usleep(300'000);  // the control stops beating for longer than the holdover
  EXPECT_EQ(ask(), 16);
  EXPECT_TRUE(worker.state().control_silent());
  control.publish(3);  // back, with a new state
  EXPECT_EQ(ask(), 3);
}

TEST_F(Dpdk, PcapPortTimestampsAreUsedAsReceiveTime) {
  // A pcap (nanosecond format) with one request at a known instant.
  const std::string dir = "/tmp/lt-pcap-" + std::to_string(::getpid());
  std::remove((dir + "-in.pcap").c_str());
  const std::int64_t when_ns = 1'893'456'000'123'456'789LL;  // 2030-01-01T00:00:00.123456789Z
  const auto req = test::ntp_request();
  const auto frame = test::udp4(req, 50000, 123);
  {
    std::ofstream out(dir + "-in.pcap", std::ios::binary);
    const std::uint32_t gh[] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, 1};  // magic (ns), v2.4, zone, sigfigs, snaplen, Ethernet
    out.write(reinterpret_cast<const char*>(gh), 24);
    const std::uint32_t rh[] = {static_cast<std::uint32_t>(when_ns / 1'000'000'000), static_cast<std::uint32_t>(when_ns % 1'000'000'000),
                                static_cast<std::uint32_t>(frame.length), static_cast<std::uint32_t>(frame.length)};
    out.write(reinterpret_cast<const char*>(rh), 16);
    out.write(reinterpret_cast<const char*>(frame.buf.data()), static_cast<std::streamsize>(frame.length));
  }
  const std::string args = "rx_pcap=" + dir + "-in.pcap,tx_pcap=" + dir + "-out.pcap";
  ASSERT_EQ(rte_vdev_init("net_pcap_lt", args.c_str()), 0) << "net_pcap driver not available";
  std::uint16_t id = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_pcap_lt", &id), 0);
  auto info = start_port(PortRequest{id, 1, test::pool()});
  ASSERT_TRUE(info) << info.error();
  test::ControlSide control("c");
  shm::Seqlock<hwclock::Timebase> timebase;
  test::fit_timebase(timebase);
  WorkerConfig wc;
  wc.port = id;
  wc.rx_ts = info->rx_ts;
  // The pcap frame is addressed to the test MAC, not to the pcap port's.
  Worker worker(wc, local_for(test::kServerMac), control.dataplane, timebase, hwclock::Duration::from_s(300));
  unsigned got = 0;
  for (int i = 0; i < 100 && got == 0; ++i) got += worker.poll_once();
  ASSERT_EQ(got, 1u);
  rte_eth_dev_stop(id);
  rte_eth_dev_close(id);
  rte_vdev_uninit("net_pcap_lt");

  std::ifstream in(dir + "-out.pcap", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove((dir + "-in.pcap").c_str());
  std::remove((dir + "-out.pcap").c_str());
  ASSERT_GE(bytes.size(), 24u + 16 + 90);
  const std::vector<std::uint8_t> answer(bytes.begin() + 40, bytes.begin() + 40 + 90);
  const ParsedAnswer a = parse_answer(answer);
  ASSERT_NE(a.ntp, nullptr);
  const std::int64_t rx = load_ts(a.ntp->receive_ts).to_utc(hwclock::UtcTime(when_ns)).ticks();
  if (info->hw_rx_timestamps) {
    // net_pcap reads records at microsecond precision.
    EXPECT_EQ(rx, when_ns / 1000 * 1000) << "receive timestamp must be the pcap record's time";
    EXPECT_EQ(info->rx_ts.dynfield_offset >= 0, true);
  } else {
    GTEST_SKIP() << "this net_pcap build does not offer RX timestamps";
  }
}

TEST_F(Dpdk, RingPortInterleavedExchangeCarriesPostSendTimestamp) {
  test::WorkerRig rig("x");
  auto& [port, control, timebase, wc] = rig;
  auto table = ClientTable::create(1024, 7);
  ASSERT_TRUE(table) << table.error();
  Worker worker(wc, local_for(port.info.mac), control.dataplane, timebase, hwclock::Duration::from_s(300),
                std::move(*table));
  const std::uint8_t client_ip[4] = {198, 18, 0, 2};  // test::kClientIp
  const ClientKey client = ClientKey::from_ipv4(client_ip);

  // One request as a client in interleaved mode sends it, through the port;
  // the answer's NTP header.
  auto exchange = [&](std::uint64_t origin, std::uint64_t receive, std::uint64_t transmit) {
    auto req = test::ntp_request();
    auto* h = reinterpret_cast<NtpHeader*>(req.data());
    h->origin_ts.set(origin);
    h->receive_ts.set(receive);
    h->transmit_ts.set(transmit);
    auto f = test::udp4(req, 50000, 123, test::kClientIp, test::kServerIp, port.info.mac);
    EXPECT_TRUE(port.inject(f.buf.data(), f.length));
    EXPECT_EQ(worker.poll_once(), 1u);
    const auto out = port.capture();
    NtpHeader answer{};
    EXPECT_EQ(out.size(), 1u);
    if (out.size() == 1) {
      const ParsedAnswer a = parse_answer(out[0]);  // checks the UDP checksum
      EXPECT_NE(a.ntp, nullptr) << "answer did not parse (bad checksum?)";
      if (a.ntp != nullptr) std::memcpy(&answer, a.ntp, sizeof answer);
    }
    return answer;
  };

  // 1: basic, nothing remembered (origin zero).
  const NtpHeader a1 = exchange(0, 0, 0x1111'0000'0000'0010ULL);
  EXPECT_EQ(a1.origin_ts.get(), 0x1111'0000'0000'0010ULL);
  EXPECT_EQ(a1.receive_ts.get() & kRxFlag, kRxFlag);
  EXPECT_EQ(a1.transmit_ts.get() & kRxFlag, 0u);
  EXPECT_EQ(worker.clients().find(client), nullptr);

  // 2: origin = our receive timestamp: basic (nothing saved yet), and the
  // answer's post-send time lands in the client's entry.
  const NtpHeader a2 = exchange(a1.receive_ts.get(), 0x1111'0000'8000'0000ULL, 0x1111'0001'0000'0020ULL);
  EXPECT_EQ(a2.origin_ts.get(), 0x1111'0001'0000'0020ULL);
  const ClientTimes* e = worker.clients().find(client);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->rx, a2.receive_ts.get());
  const std::uint64_t precise2 = e->tx;
  ASSERT_NE(precise2, 0u);
  EXPECT_EQ(precise2 & kRxFlag, 0u);
  // Taken after tx_burst returned: not before the pre-send stamp in the packet.
  const auto pivot = hwclock::UtcTime(test::clock_ns(CLOCK_REALTIME));
  const std::int64_t pre_send = load_ts(a2.transmit_ts).to_utc(pivot).ticks();
  const std::int64_t post_send = hwclock::NtpTimestamp::from_raw(precise2).to_utc(pivot).ticks();
  EXPECT_GE(post_send, pre_send);
  EXPECT_LT(post_send - pre_send, 1'000'000'000) << "post-send stamp more than 1 s after the pre-send one";

  // 3: interleaved: origin = the client's receive time of answer 2,
  // receive = this request's, transmit = answer 2's post-send time.
  const NtpHeader a3 = exchange(a2.receive_ts.get(), 0x1111'0001'8000'0000ULL, 0x1111'0002'0000'0030ULL);
  EXPECT_EQ(a3.origin_ts.get(), 0x1111'0001'8000'0000ULL);
  EXPECT_EQ(a3.transmit_ts.get(), precise2);
  EXPECT_EQ(a3.receive_ts.get() & kRxFlag, kRxFlag);
  EXPECT_GT(load_ts(a3.receive_ts).to_utc(pivot).ticks(), load_ts(a2.receive_ts).to_utc(pivot).ticks());
  EXPECT_EQ(a3.mode(), 4u);
  EXPECT_EQ(a3.stratum, 2);
  // ... and answer 3's own post-send time is saved for request 4.
  EXPECT_EQ(worker.clients().find(client)->rx, a3.receive_ts.get());
  EXPECT_NE(worker.clients().find(client)->tx, 0u);

  const shm::Segment& seg = control.control;
  EXPECT_EQ(counter(seg, counter_for(NtpOutcome::kAnswered)), 2u);
  EXPECT_EQ(counter(seg, counter_for(NtpOutcome::kAnsweredInterleaved)), 1u);
  EXPECT_EQ(counter(seg, Counter::kTxStampHit), 2u);
  EXPECT_EQ(counter(seg, Counter::kTxStampMiss), 0u);
  EXPECT_EQ(counter(seg, Counter::kTxTimestampSoftware), 2u) << "the interleaved answer is not stamped again";
  EXPECT_EQ(counter(seg, Counter::kTxFrames), 3u);
}
