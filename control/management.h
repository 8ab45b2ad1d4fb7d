// The management socket: a UNIX stream socket (mode 0660, so only root and the
// daemon's group can talk to it) where `linetimectl` asks the daemon one
// question per connection ("status", "peers", ...) and reads one answer, which
// ends when the daemon closes the connection.
//
// Non-blocking and driven from the daemon's poll() loop: a slow or stuck client
// can never stall timekeeping (answers are written as the socket accepts them,
// at most kMaxClients connections are served at once, idle ones are dropped).
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hwclock/expected.h"

namespace linetime::control {

class ManagementServer {
 public:
  using Handler = std::function<std::string(std::string_view command)>;
  static constexpr std::size_t kMaxClients = 16;
  static constexpr std::size_t kMaxRequest = 256;

  // Binds `path` (replacing a stale socket file nobody listens on; refusing
  // when another daemon answers there).
  static Expected<std::unique_ptr<ManagementServer>, std::string> open(const std::string& path, Handler handler);
  ~ManagementServer();
  ManagementServer(const ManagementServer&) = delete;
  ManagementServer& operator=(const ManagementServer&) = delete;

  void pollfds(std::vector<pollfd>& out) const;
  // Accepts, reads and writes whatever is ready; `now_ms` is a monotonic clock
  // for dropping idle clients.
  void service(std::int64_t now_ms);
  const std::string& path() const { return path_; }

 private:
  ManagementServer(int fd, std::string path, Handler handler);
  struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t written = 0;
    bool answered = false;
    std::int64_t since_ms = 0;
  };
  void accept_clients(std::int64_t now_ms);
  bool serve(Client& c);  // false when the connection is finished

  int listen_fd_ = -1;
  std::string path_;
  Handler handler_;
  std::vector<Client> clients_;
};

// One question to a daemon's management socket; the whole answer, or why not.
Expected<std::string, std::string> ask_management(const std::string& path, std::string_view command,
                                                  std::chrono::milliseconds timeout);

}  // namespace linetime::control
