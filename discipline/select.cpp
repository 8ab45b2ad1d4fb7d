#include "discipline/select.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace linetime::discipline {

std::optional<Intersection> intersect(const std::vector<Candidate>& candidates) {
  const int n = static_cast<int>(candidates.size());
  if (n == 0) return std::nullopt;
  struct Edge {
    double at_s;
    int type;  // -1 lower end, 0 midpoint, +1 upper end
  };
  std::vector<Edge> edges;
  edges.reserve(3 * candidates.size());
  for (const Candidate& c : candidates) {
    edges.push_back({c.offset_s - c.root_distance_s, -1});
    edges.push_back({c.offset_s, 0});
    edges.push_back({c.offset_s + c.root_distance_s, +1});
  }
  // Ties: lower ends before midpoints before upper ends, so touching intervals
  // count as overlapping.
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    return a.at_s != b.at_s ? a.at_s < b.at_s : a.type < b.type;
  });

  for (int allow = 0; 2 * allow < n; ++allow) {
    int found = 0;
    int chime = 0;
    double low = std::numeric_limits<double>::infinity();
    for (const Edge& e : edges) {
      chime -= e.type;
      if (chime >= n - allow) {
        low = e.at_s;
        break;
      }
      if (e.type == 0) ++found;
    }
    chime = 0;
    double high = -std::numeric_limits<double>::infinity();
    for (auto it = edges.rbegin(); it != edges.rend(); ++it) {
      chime += it->type;
      if (chime >= n - allow) {
        high = it->at_s;
        break;
      }
      if (it->type == 0) ++found;
    }
    // Midpoints outside the interval belong to falsetickers: no more than allowed.
    if (found > allow) continue;
    if (high < low) continue;
    Intersection r;
    r.low_s = low;
    r.high_s = high;
    r.falsetickers = allow;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const Candidate& c = candidates[i];
      if (c.offset_s + c.root_distance_s >= low && c.offset_s - c.root_distance_s <= high) r.truechimers.push_back(i);
    }
    return r;
  }
  return std::nullopt;
}

namespace {
// RFC 5905 merit: stratum first (in units of MAXDIST), then root distance.
double merit(const Candidate& c) { return c.stratum * 1.5 + c.root_distance_s; }
}  // namespace

std::vector<std::size_t> cluster(const std::vector<Candidate>& candidates, std::vector<std::size_t> survivors,
                                 int min_clock) {
  std::sort(survivors.begin(), survivors.end(),
            [&](std::size_t a, std::size_t b) { return merit(candidates[a]) < merit(candidates[b]); });
  while (static_cast<int>(survivors.size()) > std::max(min_clock, 1)) {
    double max_sel = -1;
    std::size_t worst = 0;
    double min_peer = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < survivors.size(); ++i) {
      const Candidate& ci = candidates[survivors[i]];
      double sum = 0;
      for (std::size_t j = 0; j < survivors.size(); ++j) {
        const double d = candidates[survivors[j]].offset_s - ci.offset_s;
        sum += d * d;
      }
      const double sel = std::sqrt(sum / static_cast<double>(survivors.size() - 1));
      if (sel > max_sel) {
        max_sel = sel;
        worst = i;
      }
      min_peer = std::min(min_peer, ci.jitter_s);
    }
    if (max_sel <= min_peer) break;
    survivors.erase(survivors.begin() + static_cast<std::ptrdiff_t>(worst));
  }
  const auto pref = std::find_if(survivors.begin(), survivors.end(),
                                 [&](std::size_t i) { return candidates[i].prefer; });
  if (pref != survivors.end()) std::rotate(survivors.begin(), pref, pref + 1);
  return survivors;
}

Combined combine(const std::vector<Candidate>& candidates, const std::vector<std::size_t>& ordered) {
  Combined r;
  if (ordered.empty()) return r;
  const Candidate& peer = candidates[ordered.front()];
  double y = 0, z = 0, w = 0;
  for (std::size_t i : ordered) {
    const Candidate& c = candidates[i];
    const double x = std::max(c.root_distance_s, 1e-9);
    y += 1 / x;
    z += c.offset_s / x;
    w += (c.offset_s - peer.offset_s) * (c.offset_s - peer.offset_s) / x;
  }
  r.offset_s = z / y;
  r.selection_jitter_s = std::sqrt(w / y);
  r.system_jitter_s = std::sqrt(peer.jitter_s * peer.jitter_s + r.selection_jitter_s * r.selection_jitter_s);
  return r;
}

}  // namespace linetime::discipline
