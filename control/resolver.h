// Name resolution that never stalls timekeeping: each lookup runs
// getaddrinfo() in a short-lived child process that writes the addresses to a
// pipe and exits, and the daemon's poll() loop reads the pipe when it becomes
// readable. No threads (node mode stays single-threaded and runs under
// LD_PRELOAD clock and network simulators); a lookup that takes longer than
// kTimeout is killed and reported as such.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "control/config.h"
#include "hwclock/expected.h"

namespace linetime::control {

class AsyncResolver {
 public:
  static constexpr std::chrono::seconds kTimeout{30};
  static constexpr std::size_t kMaxAddresses = 16;

  struct Result {
    std::uint64_t id = 0;
    std::string host;
    std::vector<IpAddress> addresses;  // empty on failure
    std::string error;                 // why, when empty
  };

  AsyncResolver() = default;
  ~AsyncResolver();  // stops and reaps lookups still running
  AsyncResolver(const AsyncResolver&) = delete;
  AsyncResolver& operator=(const AsyncResolver&) = delete;

  // Starts looking up `host` (addresses of `family`). Returns the lookup's id.
  Expected<std::uint64_t, std::string> start(const std::string& host, AddressFamily family);

  void pollfds(std::vector<pollfd>& out) const;
  // Delivers the lookups that finished (or timed out); `now_ms` is monotonic.
  void service(std::int64_t now_ms, const std::function<void(const Result&)>& done);

  std::size_t running() const { return lookups_.size(); }

 private:
  struct Lookup {
    std::uint64_t id = 0;
    std::string host;
    pid_t pid = -1;
    int fd = -1;
    std::string data;
    std::int64_t started_ms = 0;
  };
  static void finish(Lookup& l, bool killed);

  std::vector<Lookup> lookups_;
  std::uint64_t next_id_ = 1;
};

// The child's side, exposed for tests: the text a lookup writes ("4 ADDR" or
// "6 ADDR" lines, or one "E message" line) and how the parent reads it back.
std::string resolve_to_text(const std::string& host, AddressFamily family);
void parse_resolved_text(const std::string& text, AsyncResolver::Result& out);

}  // namespace linetime::control
