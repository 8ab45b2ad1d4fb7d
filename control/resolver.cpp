#include "control/resolver.h"

#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/kernel_transport.h"
#include "hwclock/clock_read.h"

namespace linetime::control {

std::string resolve_to_text(const std::string& host, AddressFamily family) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = family == AddressFamily::kIpv4 ? AF_INET : family == AddressFamily::kIpv6 ? AF_INET6 : AF_UNSPEC;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), "123", &hints, &res);
  if (rc != 0) return std::string("E ") + gai_strerror(rc) + "\n";
  std::vector<IpAddress> seen;
  std::string out;
  for (addrinfo* p = res; p != nullptr && seen.size() < AsyncResolver::kMaxAddresses; p = p->ai_next) {
    const auto e = from_sockaddr(p->ai_addr, p->ai_addrlen);
    if (!e || std::find(seen.begin(), seen.end(), e->address) != seen.end()) continue;
    seen.push_back(e->address);
    out += std::string(e->address.is_v6 ? "6 " : "4 ") + to_string(e->address) + "\n";
  }
  ::freeaddrinfo(res);
  return out.empty() ? std::string("E no address of the requested family\n") : out;
}

void parse_resolved_text(const std::string& text, AsyncResolver::Result& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) break;  // a child that died mid-line: ignore the rest
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() < 2) continue;
    if (line[0] == 'E') {
      out.error = line.substr(2);
      continue;
    }
    const std::string conf = "server " + line.substr(2) + "\n";
    ParseResult r = parse_config(conf, "resolver", {});
    if (!r.has_errors() && r.config.sources.size() == 1 && r.config.sources[0].address) {
      out.addresses.push_back(*r.config.sources[0].address);
    }
  }
  if (out.addresses.empty() && out.error.empty()) out.error = "the lookup ended without an answer";
}

AsyncResolver::~AsyncResolver() {
  for (Lookup& l : lookups_) finish(l, true);
}

Expected<std::uint64_t, std::string> AsyncResolver::start(const std::string& host, AddressFamily family) {
  int fds[2];
  if (::pipe(fds) != 0) return unexpected(std::string("cannot create a pipe for a name lookup: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return unexpected(std::string("cannot start a name lookup: ") + std::strerror(e));
  }
  if (pid == 0) {  // the child: look up, write, leave without running the parent's exit handlers
    ::close(fds[0]);
    const std::string text = resolve_to_text(host, family);
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  Lookup l;
  l.id = next_id_++;
  l.host = host;
  l.pid = pid;
  l.fd = fds[0];
  l.started_ms = hwclock::monotonic_ms();
  lookups_.push_back(std::move(l));
  return lookups_.back().id;
}

void AsyncResolver::pollfds(std::vector<pollfd>& out) const {
  for (const Lookup& l : lookups_) out.push_back(pollfd{l.fd, POLLIN, 0});
}

void AsyncResolver::finish(Lookup& l, bool killed) {
  if (killed) ::kill(l.pid, SIGKILL);
  ::close(l.fd);
  int status = 0;
  ::waitpid(l.pid, &status, 0);  // it has exited (EOF) or was just killed
}

void AsyncResolver::service(std::int64_t now_ms, const std::function<void(const Result&)>& done) {
  for (std::size_t i = 0; i < lookups_.size();) {
    Lookup& l = lookups_[i];
    bool ended = false;
    bool timed_out = false;
    char buf[1024];
    while (true) {
      const ssize_t n = ::read(l.fd, buf, sizeof buf);
      if (n > 0) {
        l.data.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      ended = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      break;
    }
    if (!ended && now_ms - l.started_ms > std::chrono::milliseconds(kTimeout).count()) {
      ended = true;
      timed_out = true;
    }
    if (!ended) {
      ++i;
      continue;
    }
    Result r;
    r.id = l.id;
    r.host = l.host;
    if (timed_out) {
      r.error = "no answer from the resolver within " + std::to_string(kTimeout.count()) + " s";
    } else {
      parse_resolved_text(l.data, r);
    }
    finish(l, timed_out);
    lookups_.erase(lookups_.begin() + static_cast<std::ptrdiff_t>(i));
    done(r);
  }
}

}  // namespace linetime::control
