// Checksum helpers at the sizes the dataplane sums: an IPv4 header (20), an
// NTP-over-UDP datagram with pseudo-header (56), a full frame (1500), and the
// inline incremental update used to restamp a transmit timestamp.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/wire/checksum.h"

using namespace linetime::wire;

namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::mt19937 rng(1071);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

void BM_OnesSum(benchmark::State& st) {
  const auto data = random_bytes(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(ones_sum(Bytes(data)));
  st.SetBytesProcessed(st.iterations() * st.range(0));
}
BENCHMARK(BM_OnesSum)->Arg(20)->Arg(56)->Arg(1500);

void BM_Ipv4HeaderChecksum(benchmark::State& st) {
  const auto data = random_bytes(20);
  for (auto _ : st) benchmark::DoNotOptimize(ipv4_header_checksum(Bytes(data)));
}
BENCHMARK(BM_Ipv4HeaderChecksum);

void BM_UdpChecksumNtp(benchmark::State& st) {
  const auto data = random_bytes(56);
  const Ipv4Address a = Ipv4Address::of(198, 18, 0, 1), b = Ipv4Address::of(198, 18, 0, 2);
  for (auto _ : st) benchmark::DoNotOptimize(transport_checksum(a, b, 17, Bytes(data)));
}
BENCHMARK(BM_UdpChecksumNtp);

void BM_IncrementalUpdate64(benchmark::State& st) {
  std::uint16_t c = 0x1234;
  std::uint64_t old_value = 0x0123456789abcdefULL, new_value = 0xfedcba9876543210ULL;
  for (auto _ : st) {
    c = checksum_update64(c, old_value, new_value);
    benchmark::DoNotOptimize(c);
    std::swap(old_value, new_value);
  }
}
BENCHMARK(BM_IncrementalUpdate64);

}  // namespace

BENCHMARK_MAIN();
