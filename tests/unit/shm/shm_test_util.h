// Helpers shared by the shared-memory tests and their peer processes.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <string>

#include "dataplane/shm/messages.h"
#include "dataplane/shm/segment.h"
#include "dataplane/shm/server_state.h"

namespace linetime::shm::test {

// A segment name unique to this process and call, unlinked when it goes out
// of scope (also when the test fails).
class ShmName {
 public:
  ShmName() {
    static std::atomic<int> n{0};
    name_ = "/linetime-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    Segment::unlink(name_);
  }
  ~ShmName() { Segment::unlink(name_); }
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;
  const std::string& str() const { return name_; }

 private:
  std::string name_;
};

// A ServerState whose every field is derived from k, so a reader can tell a
// torn copy (fields from two different stores) from a whole one.
inline ServerState state_for(std::int64_t k) {
  ServerState s;
  s.leap = static_cast<std::uint8_t>(k & 3);
  s.stratum = static_cast<std::uint8_t>(1 + k % 15);
  s.precision = static_cast<std::int8_t>(-(k % 30));
  s.min_poll = static_cast<std::int8_t>(k % 7);
  s.max_poll = static_cast<std::int8_t>(10 + k % 7);
  s.synchronized = static_cast<std::uint8_t>(k & 1);
  s.leap_pending = static_cast<std::uint8_t>((k >> 1) & 1);
  s.reference_id = static_cast<std::uint32_t>(k * 2654435761u);
  s.reference_time_ns = k;
  s.root_delay_ns = k * 3;
  s.root_dispersion_ns = ~k;
  s.dispersion_rate = static_cast<double>(k) * 0.5;
  return s;
}

inline bool consistent(const ServerState& s) {
  const ServerState want = state_for(s.reference_time_ns);
  return s.leap == want.leap && s.stratum == want.stratum && s.precision == want.precision &&
         s.min_poll == want.min_poll && s.max_poll == want.max_poll && s.synchronized == want.synchronized &&
         s.leap_pending == want.leap_pending && s.reference_id == want.reference_id &&
         s.root_delay_ns == want.root_delay_ns && s.root_dispersion_ns == want.root_dispersion_ns &&
         s.dispersion_rate == want.dispersion_rate;
}

// Ring message number `seq`: its length and every payload byte follow from
// seq, and a checksum covers them, so loss, duplication, reordering and torn
// slots are all detectable.
inline std::uint8_t payload_byte(std::uint64_t seq, std::size_t i) {
  return static_cast<std::uint8_t>((seq * 131 + i * 7) ^ (seq >> 8));
}
inline std::uint16_t length_for(std::uint64_t seq) { return static_cast<std::uint16_t>(48 + seq % 400); }
inline std::uint32_t checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}
inline void fill(UpstreamRequest& m, std::uint64_t seq) {
  m.cookie = seq;
  m.length = length_for(seq);
  for (std::size_t i = 0; i < m.length; ++i) m.payload[i] = payload_byte(seq, i);
  const std::uint32_t c = checksum(m.payload, m.length);
  std::memcpy(&m.dst.bytes[0], &c, sizeof c);
}
// Empty string when the message is whole and is number `seq`.
inline std::string verify(const UpstreamRequest& m, std::uint64_t seq) {
  if (m.cookie != seq) return "sequence " + std::to_string(m.cookie) + ", expected " + std::to_string(seq);
  if (m.length != length_for(seq)) return "length " + std::to_string(m.length) + " at " + std::to_string(seq);
  std::uint32_t c;
  std::memcpy(&c, &m.dst.bytes[0], sizeof c);
  if (c != checksum(m.payload, m.length)) return "checksum mismatch at " + std::to_string(seq);
  for (std::size_t i = 0; i < m.length; ++i) {
    if (m.payload[i] != payload_byte(seq, i)) return "payload byte " + std::to_string(i) + " at " + std::to_string(seq);
  }
  return {};
}

}  // namespace linetime::shm::test
