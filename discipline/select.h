// Source selection, clustering and combining (RFC 5905 sections 11.2.1-11.2.3).
//
// This module decides which sources tell the truth. Each candidate offers a
// correctness interval [offset - root distance, offset + root distance]; the
// intersection algorithm (Marzullo's, as refined by the RFC) finds the smallest
// interval containing points of a majority of them, and whoever does not reach
// it is a falseticker. The clustering algorithm then prunes the survivors with
// the largest selection jitter while that exceeds the smallest peer jitter (and
// more than `min_clock` remain), and combining averages the survivors' offsets
// weighted by the inverse of their root distance. All functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace linetime::discipline {

struct Candidate {
  std::uint32_t id = 0;
  double offset_s = 0;         // hwclock/time.h convention
  double root_distance_s = 0;  // lambda: half the correctness interval
  double jitter_s = 0;         // peer jitter from the clock filter
  std::uint8_t stratum = 1;
  bool prefer = false;
};

struct Intersection {
  double low_s = 0;
  double high_s = 0;
  int falsetickers = 0;               // how many the interval was allowed to leave out
  std::vector<std::size_t> truechimers;  // indices into the candidates
};

// Empty when no majority agrees (more than half would have to be falsetickers).
std::optional<Intersection> intersect(const std::vector<Candidate>& candidates);

// Clusters `survivors` (indices into `candidates`) and returns them ordered by
// merit (stratum, then root distance), the system peer first: the prefer peer if
// it survived, otherwise the best by merit.
std::vector<std::size_t> cluster(const std::vector<Candidate>& candidates, std::vector<std::size_t> survivors,
                                 int min_clock);

struct Combined {
  double offset_s = 0;           // weighted by 1 / root distance
  double selection_jitter_s = 0;  // RMS of survivors' offsets around the system peer's
  double system_jitter_s = 0;     // sqrt(peer jitter^2 + selection jitter^2) of the system peer
};

// `ordered` as cluster() returns it (system peer first); must not be empty.
Combined combine(const std::vector<Candidate>& candidates, const std::vector<std::size_t>& ordered);

}  // namespace linetime::discipline
