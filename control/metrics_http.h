// The daemon's Prometheus endpoint: a tiny HTTP/1.0 responder on a TCP socket
// that answers `GET /metrics` with the text exposition (control/format.h) and
// closes the connection. Bound to loopback by default (127.0.0.1:9123): the
// metrics tell anyone who can read them which servers the host trusts, so
// exposing them further is the operator's choice (--metrics ADDR:PORT).
//
// Non-blocking and driven from the daemon's poll() loop like the management
// socket: at most kMaxClients connections at once, requests capped at
// kMaxRequest bytes, idle connections dropped after kIdleMs, and the
// exposition is built only when a complete request asks for it.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/transport.h"
#include "hwclock/expected.h"

namespace linetime::control {

inline constexpr std::uint16_t kDefaultMetricsPort = 9123;
Endpoint default_metrics_endpoint();  // 127.0.0.1:9123

// "ADDR:PORT" or "[V6ADDR]:PORT" with a numeric address; port 0 asks the
// kernel for a free one (tests).
std::optional<Endpoint> parse_host_port(std::string_view text);

// The answer to one HTTP request (status line, headers and body), or an empty
// string when `request` is not complete yet. Pure, for the tests.
std::string http_response(std::string_view request, const std::function<std::string()>& metrics);

class MetricsServer {
 public:
  using Source = std::function<std::string()>;  // the exposition text
  static constexpr std::size_t kMaxClients = 16;
  static constexpr std::size_t kMaxRequest = 4096;
  static constexpr std::int64_t kIdleMs = 5000;

  static Expected<std::unique_ptr<MetricsServer>, std::string> open(const Endpoint& at, Source source);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void pollfds(std::vector<pollfd>& out) const;
  // Accepts, reads and writes whatever is ready; `now_ms` is a monotonic clock.
  void service(std::int64_t now_ms);
  // Where it listens (the kernel's port when 0 was asked for).
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  MetricsServer(int fd, Endpoint at, Source source);
  struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t written = 0;
    bool answered = false;
    std::int64_t since_ms = 0;
  };
  bool serve(Client& c);  // false when the connection is finished

  int listen_fd_ = -1;
  Endpoint endpoint_;
  Source source_;
  std::vector<Client> clients_;
};

}  // namespace linetime::control
