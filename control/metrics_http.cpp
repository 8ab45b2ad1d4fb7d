#include "control/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "control/kernel_transport.h"

namespace linetime::control {

namespace {

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string reply(const char* status, const char* content_type, const std::string& body, const char* extra = "") {
  return std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "Connection: close\r\n\r\n" + body;
}

}  // namespace

Endpoint default_metrics_endpoint() {
  Endpoint e;
  e.address.v4.value = 0x7f000001;
  e.port = kDefaultMetricsPort;
  return e;
}

std::optional<Endpoint> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const std::string p(port);
  char* end = nullptr;
  const long n = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end != '\0' || n < 0 || n > 65535) return std::nullopt;
  const std::string h(host);
  sockaddr_in6 sa6{};
  sockaddr_in sa4{};
  if (::inet_pton(AF_INET, h.c_str(), &sa4.sin_addr) == 1) {
    sa4.sin_family = AF_INET;
    sa4.sin_port = htons(static_cast<std::uint16_t>(n));
    return from_sockaddr(&sa4, sizeof sa4);
  }
  if (::inet_pton(AF_INET6, h.c_str(), &sa6.sin6_addr) == 1) {
    sa6.sin6_family = AF_INET6;
    sa6.sin6_port = htons(static_cast<std::uint16_t>(n));
    return from_sockaddr(&sa6, sizeof sa6);
  }
  return std::nullopt;
}

std::string http_response(std::string_view request, const std::function<std::string()>& metrics) {
  auto head_end = request.find("\r\n\r\n");
  if (head_end == std::string_view::npos) head_end = request.find("\n\n");
  if (head_end == std::string_view::npos) return {};
  const auto eol = request.find_first_of("\r\n");
  const std::string_view line = request.substr(0, eol);
  // "METHOD TARGET VERSION"
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).substr(0, 5) != "HTTP/") {
    return reply("400 Bad Request", "text/plain; charset=utf-8", "expected a request line 'GET /metrics HTTP/1.0'\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (method != "GET" && method != "HEAD") {
    return reply("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET /metrics is served\n",
                 "Allow: GET, HEAD\r\n");
  }
  if (target != "/metrics") {
    return reply("404 Not Found", "text/plain; charset=utf-8", "linetime-control serves its metrics at /metrics\n");
  }
  std::string r = reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics());
  if (method == "HEAD") r.resize(r.find("\r\n\r\n") + 4);
  return r;
}

MetricsServer::MetricsServer(int fd, Endpoint at, Source source)
    : listen_fd_(fd), endpoint_(at), source_(std::move(source)) {}

MetricsServer::~MetricsServer() {
  for (auto& c : clients_) ::close(c.fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Expected<std::unique_ptr<MetricsServer>, std::string> MetricsServer::open(const Endpoint& at, Source source) {
  const std::string where = to_string(at);
  const int fd = ::socket(at.address.is_v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected("cannot serve metrics on " + where + ": socket: " + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const SockAddr sa = to_sockaddr(at);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(sa.storage.data()), sa.length) != 0) {
    const int err = errno;
    ::close(fd);
    std::string fix = err == EADDRINUSE      ? " (another process listens there: give another address with --metrics ADDR:PORT, "
                                               "or --metrics off)"
                      : err == EADDRNOTAVAIL ? " (no interface has that address: give one of this host's with --metrics ADDR:PORT)"
                      : err == EACCES        ? " (ports below 1024 need CAP_NET_BIND_SERVICE: choose a higher port)"
                                             : "";
    return unexpected("cannot serve metrics on " + where + ": " + std::strerror(err) + fix);
  }
  if (::listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    return unexpected("cannot serve metrics on " + where + ": listen: " + std::strerror(err));
  }
  set_nonblocking(fd);
  Endpoint bound = at;
  SockAddr local;
  socklen_t len = sizeof local.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(local.storage.data()), &len) == 0) {
    if (auto e = from_sockaddr(local.storage.data(), len)) bound = *e;
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, bound, std::move(source)));
}

void MetricsServer::pollfds(std::vector<pollfd>& out) const {
  if (clients_.size() < kMaxClients) out.push_back(pollfd{listen_fd_, POLLIN, 0});
  for (const auto& c : clients_) out.push_back(pollfd{c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
}

bool MetricsServer::serve(Client& c) {
  if (!c.answered) {
    char buf[1024];
    while (true) {
      const ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > kMaxRequest) break;
    }
    c.out = http_response(c.in, source_);
    if (c.out.empty()) {
      if (c.in.size() <= kMaxRequest) return true;
      c.out = reply("431 Request Header Fields Too Large", "text/plain; charset=utf-8",
                    "requests are limited to " + std::to_string(kMaxRequest) + " bytes\n");
    }
    c.answered = true;
  }
  while (c.written < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.written += static_cast<std::size_t>(n);
  }
  return false;
}

void MetricsServer::service(std::int64_t now_ms) {
  while (clients_.size() < kMaxClients) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    clients_.push_back(Client{fd, {}, {}, 0, false, now_ms});
  }
  for (std::size_t i = 0; i < clients_.size();) {
    Client& c = clients_[i];
    if (serve(c) && now_ms - c.since_ms < kIdleMs) {
      ++i;
      continue;
    }
    ::close(c.fd);
    clients_[i] = std::move(clients_.back());
    clients_.pop_back();
  }
}

}  // namespace linetime::control
