// Vocabulary shared by the discipline algorithms: RFC 5905 constants, one
// measurement (Sample) and what a server says about itself (SourceHeader).
//
// Offsets follow the convention of hwclock/time.h (offset = reference - local,
// positive = local clock behind). Frequencies in this folder are corrections
// applied to the local clock in ppm: positive makes the local clock run faster.
#pragma once

#include <cstdint>

#include "hwclock/time.h"

namespace linetime::discipline {

using hwclock::Duration;
using hwclock::UtcTime;

// RFC 5905 section 7.2 and appendix A.1.1.
inline constexpr double kPhiSPerS = 15e-6;   // frequency tolerance: dispersion growth, s/s
inline constexpr int kNStage = 8;            // clock filter stages
inline constexpr double kMaxDispS = 16.0;    // dispersion of an empty stage
inline constexpr double kSGate = 3.0;        // popcorn spike gate, in jitters
inline constexpr double kMinDispS = 0.005;   // RFC MINDISP (only for the root-distance floor)
inline constexpr std::uint8_t kMaxStratum = 16;
inline constexpr double kNsToS = 1e-9;

// The leap indicator of the NTP header.
enum class Leap : std::uint8_t { kNone = 0, kInsert = 1, kDelete = 2, kUnsync = 3 };

// What the server said about itself in the reply header.
struct SourceHeader {
  std::uint8_t stratum = 1;
  Leap leap = Leap::kNone;
  std::int8_t precision_log2 = -20;
  std::uint32_t reference_id = 0;
  Duration root_delay;       // server to its primary reference
  Duration root_dispersion;  // server's own error bound
};

// One on-wire measurement of a source, expressed against the local clock.
struct Sample {
  UtcTime time;         // local clock at the measurement (midpoint of T1 and T4)
  Duration offset;      // reference - local, hwclock/time.h convention
  Duration delay;       // round trip, never negative
  Duration dispersion;  // precision of both ends + PHI * delay
};

// RFC 5905 section 8: offset and delay from the four timestamps of an exchange
// (T1 client transmit, T2 server receive, T3 server transmit, T4 client
// receive; T1 and T4 on the local clock, T2 and T3 on the server's).
// `precision` is the sum of both ends' timestamp precisions.
constexpr Sample measure(UtcTime t1, UtcTime t2, UtcTime t3, UtcTime t4, Duration precision) {
  Sample s;
  s.offset = ((t2 - t1) + (t3 - t4)) / 2;
  const Duration delay = (t4 - t1) - (t3 - t2);
  s.delay = delay < Duration{} ? Duration{} : delay;
  s.time = t1 + (t4 - t1) / 2;
  s.dispersion = precision + Duration::from_seconds(kPhiSPerS * (t4 - t1).seconds());
  return s;
}

inline constexpr double log2_seconds(std::int8_t p) {
  double v = 1.0;
  if (p >= 0) {
    for (int i = 0; i < p; ++i) v *= 2;
  } else {
    for (int i = 0; i < -p; ++i) v /= 2;
  }
  return v;
}

}  // namespace linetime::discipline
