// Runs numbered simulation scenarios and prints one table row each.
//
//   sim_scenarios [--long] [--list] [--header] [--seed N] [ID...]   (no ID: all)
//
// --seed N runs the scenarios with their seed mixed with N (other noise,
// same setting).
//
// Exits 1 if any scenario fails its limits. Figures are from virtual time; the
// wall time a run took is printed but never judged.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/sim.h"

int main(int argc, char** argv) {
  using namespace linetime::sim;
  bool long_run = false, list = false, header = false;
  unsigned long long seed_mix = 0;
  std::vector<std::string> ids;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--long") == 0) long_run = true;
    else if (std::strcmp(argv[i], "--list") == 0) list = true;
    else if (std::strcmp(argv[i], "--header") == 0) header = true;
    else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed_mix = std::strtoull(argv[++i], nullptr, 10);
    else ids.emplace_back(argv[i]);
  }
  const auto all = scenarios();
  if (list) {
    for (const Scenario& s : all) std::printf("%-6s %s\n", s.id.c_str(), s.title.c_str());
    return 0;
  }
  if (header) {
    std::printf("%-6s %8s %11s %11s %12s %10s %9s %6s %8s  %s\n", "scen", "days", "rms_off_us", "max_off_us",
                "rms_freq_ppm", "conv_s", "poll_s", "steps", "wall_s", "result");
  }
  int failed = 0, ran = 0;
  for (Scenario s : all) {
    s.seed ^= seed_mix * 0x9E3779B97F4A7C15ULL;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), s.id) == ids.end()) continue;
    ++ran;
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = run(s, long_run);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-6s %8.2f %11.2f %11.2f %12.4f %10.0f %9.0f %6llu %8.2f  %s%s%s\n", s.id.c_str(), r.simulated_s / 86400,
                r.rms_offset_s * 1e6, r.max_offset_s * 1e6, r.rms_freq_ppm, r.converge_s, r.mean_poll_s,
                static_cast<unsigned long long>(r.steps), wall, r.pass ? "PASS" : "FAIL",
                r.failure.empty() ? "" : ": ", r.failure.c_str());
    if (!r.pass) ++failed;
  }
  if (ran == 0) {
    std::fprintf(stderr, "sim_scenarios: no scenario matches (see --list)\n");
    return 2;
  }
  return failed ? 1 : 0;
}
