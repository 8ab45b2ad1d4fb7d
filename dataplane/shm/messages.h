// Messages that cross the shared-memory rings between control and dataplane.
// Fixed-size, trivially copyable; addresses in network byte order, times in
// UTC or MONO nanoseconds (hwclock/time.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace linetime::shm {

// An IPv4 or IPv6 address as it appears on the wire.
struct NetAddress {
  std::uint8_t family = 0;  // 4 or 6; 0 = none
  std::uint8_t reserved[3] = {};
  std::uint8_t bytes[16] = {};  // IPv4 uses the first 4

  bool operator==(const NetAddress&) const = default;
};

// Where a timestamp came from, so counters and statistics can tell them apart.
enum class TimestampSource : std::uint8_t {
  kNone = 0,
  kSoftware = 1,   // TSC at burst return / before tx_burst, mapped to UTC
  kHardware = 2,   // NIC clock, mapped to UTC
  kPredicted = 3,  // expected transmit time, not measured
};

// Largest NTP payload carried: header, a MAC and a few extension fields.
inline constexpr std::size_t kMaxRingPayload = 448;

// control -> dataplane: send this NTP request to an upstream server.
struct UpstreamRequest {
  std::uint64_t cookie = 0;          // echoed in the TX completion
  std::int64_t enqueued_mono_ns = 0; // requests older than a poll are stale: dropped, counted
  NetAddress dst;
  std::uint16_t dst_port = 0;
  std::uint16_t src_port = 0;        // one of the control's upstream client ports
  std::uint16_t length = 0;          // bytes of payload used
  std::uint8_t reserved[2] = {};
  std::uint8_t payload[kMaxRingPayload];
};

// dataplane -> control: an NTP reply arrived for one of the control's ports.
struct UpstreamReply {
  NetAddress src;
  NetAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t length = 0;
  TimestampSource rx_source = TimestampSource::kNone;
  std::uint8_t reserved = 0;
  std::int64_t rx_utc_ns = 0;
  std::uint8_t payload[kMaxRingPayload];
};

// dataplane -> control: when an upstream request actually left (its real T1).
struct TxCompletion {
  std::uint64_t cookie = 0;
  std::int64_t tx_utc_ns = 0;
  TimestampSource source = TimestampSource::kNone;
  std::uint8_t reserved[7] = {};
};

static_assert(std::is_trivially_copyable_v<UpstreamRequest> && sizeof(UpstreamRequest) <= 512);
static_assert(std::is_trivially_copyable_v<UpstreamReply> && sizeof(UpstreamReply) <= 512);
static_assert(std::is_trivially_copyable_v<TxCompletion> && sizeof(TxCompletion) == 24);

}  // namespace linetime::shm
