#include "hwclock/clock_read.h"
#include "control/management.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace linetime::control {


namespace {

constexpr std::int64_t kIdleMs = 2000;

Expected<sockaddr_un, std::string> unix_address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    return unexpected("management socket path '" + path + "' must be 1 to " +
                      std::to_string(sizeof sa.sun_path - 1) + " characters");
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

ManagementServer::ManagementServer(int fd, std::string path, Handler handler)
    : listen_fd_(fd), path_(std::move(path)), handler_(std::move(handler)) {}

ManagementServer::~ManagementServer() {
  for (auto& c : clients_) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

Expected<std::unique_ptr<ManagementServer>, std::string> ManagementServer::open(const std::string& path, Handler handler) {
  auto sa = unix_address(path);
  if (!sa) return unexpected(sa.error());
  // A socket file already there: in use by a running daemon, or left by a dead one.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return unexpected("management socket path '" + path + "' exists and is not a socket: remove it or choose another path");
    }
    if (ask_management(path, "ping", std::chrono::milliseconds(200))) {
      return unexpected("another linetime-control is already answering on '" + path +
                        "': stop it, or give this one another `control socket` path");
    }
    ::unlink(path.c_str());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return unexpected(std::string("cannot create the management socket: ") + std::strerror(errno));
  const mode_t old_mask = ::umask(0117);  // srw-rw----
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    ::close(fd);
    return unexpected("cannot bind the management socket '" + path + "': " + std::strerror(bind_errno) +
                      (bind_errno == ENOENT ? " (create its directory first)" : ""));
  }
  ::listen(fd, 16);
  set_nonblocking(fd);
  return std::unique_ptr<ManagementServer>(new ManagementServer(fd, path, std::move(handler)));
}

void ManagementServer::pollfds(std::vector<pollfd>& out) const {
  if (clients_.size() < kMaxClients) out.push_back(pollfd{listen_fd_, POLLIN, 0});
  for (const auto& c : clients_) {
    out.push_back(pollfd{c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
  }
}

void ManagementServer::accept_clients(std::int64_t now_ms) {
  while (clients_.size() < kMaxClients) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    set_nonblocking(fd);
    clients_.push_back(Client{fd, {}, {}, 0, false, now_ms});
  }
}

bool ManagementServer::serve(Client& c) {
  if (!c.answered) {
    char buf[kMaxRequest];
    const ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.in.append(buf, static_cast<std::size_t>(n));
    const auto eol = c.in.find('\n');
    if (eol == std::string::npos) {
      if (c.in.size() >= kMaxRequest) {
        c.out = "error: request longer than " + std::to_string(kMaxRequest) + " bytes\n";
        c.answered = true;
      }
      return true;
    }
    std::string_view command(c.in.data(), eol);
    if (!command.empty() && command.back() == '\r') command.remove_suffix(1);
    c.out = command == "ping" ? std::string("pong\n") : handler_(command);
    c.answered = true;
  }
  while (c.written < c.out.size()) {
    const ssize_t n = ::write(c.fd, c.out.data() + c.written, c.out.size() - c.written);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.written += static_cast<std::size_t>(n);
  }
  return false;
}

void ManagementServer::service(std::int64_t now_ms) {
  accept_clients(now_ms);
  for (std::size_t i = 0; i < clients_.size();) {
    Client& c = clients_[i];
    const bool keep = serve(c) && now_ms - c.since_ms < kIdleMs;
    if (keep) {
      ++i;
      continue;
    }
    ::close(c.fd);
    clients_[i] = std::move(clients_.back());
    clients_.pop_back();
  }
}

Expected<std::string, std::string> ask_management(const std::string& path, std::string_view command,
                                                  std::chrono::milliseconds timeout) {
  auto sa = unix_address(path);
  if (!sa) return unexpected(sa.error());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return unexpected(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) {
    const int err = errno;
    ::close(fd);
    std::string why = "cannot reach linetime-control at '" + path + "': " + std::strerror(err);
    if (err == ENOENT || err == ECONNREFUSED) why += " (is the daemon running? see `control socket` in its configuration)";
    if (err == EACCES) why += " (run as root or as a member of the daemon's group)";
    return unexpected(why);
  }
  set_nonblocking(fd);
  const std::string request = std::string(command) + "\n";
  const std::int64_t deadline = hwclock::monotonic_ms() + timeout.count();
  std::size_t sent = 0;
  std::string answer;
  while (true) {
    const std::int64_t left = deadline - hwclock::monotonic_ms();
    if (left <= 0) {
      ::close(fd);
      return unexpected("linetime-control at '" + path + "' did not answer within " +
                        std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd, static_cast<short>(sent < request.size() ? POLLOUT : POLLIN), 0};
    ::poll(&p, 1, static_cast<int>(left));
    if (sent < request.size()) {
      const ssize_t n = ::write(fd, request.data() + sent, request.size() - sent);
      if (n > 0) sent += static_cast<std::size_t>(n);
      continue;
    }
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) answer.append(buf, static_cast<std::size_t>(n));
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
  }
  ::close(fd);
  return answer;
}

}  // namespace linetime::control
