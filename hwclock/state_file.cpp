#include "hwclock/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace linetime::hwclock {

namespace {

bool write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

StateFileRead read_state_file(const std::string& path, std::size_t max_bytes) {
  StateFileRead r;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      r.missing = true;
    } else {
      r.error = errno;
    }
    return r;
  }
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      break;
    }
    if (n == 0) break;
    r.text.append(buf, static_cast<std::size_t>(n));
    if (r.text.size() > max_bytes) {
      r.too_big = true;
      break;
    }
  }
  ::close(fd);
  return r;
}

std::vector<std::string> state_file_words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !space(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<double> state_file_number(const std::string& w) {
  if (w.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(w.c_str(), &end);
  if (end != w.c_str() + w.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string write_state_file(const std::string& path, const std::string& tmp, std::string_view content,
                             const std::string& what) {
  const std::string dir = directory_of(path);
  auto fail = [&](const char* step, int e, bool remove_tmp) {
    if (remove_tmp) ::unlink(tmp.c_str());
    return "cannot write " + what + " " + path + " (" + step + "): " + std::strerror(e) + " — make " + dir +
           " writable by the daemon's user (the previous " + what + ", if any, is unchanged)";
  };
  // One daemon writes a given file (its pid file sees to it), so a temporary
  // file left by a crash is simply truncated.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return fail("creating the temporary file", errno, false);
  if (!write_all(fd, content)) {
    const int e = errno;
    ::close(fd);
    return fail("writing", e, true);
  }
  if (::fsync(fd) < 0) {
    const int e = errno;
    ::close(fd);
    return fail("fsync", e, true);
  }
  if (::close(fd) < 0) return fail("close", errno, true);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return fail("rename", errno, true);
  // The rename is durable once the directory is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail("opening the directory to fsync it", errno, false);
  const int rc = ::fsync(dfd);
  const int e = errno;
  ::close(dfd);
  if (rc < 0 && e != EINVAL) return fail("fsync of the directory", e, false);
  return {};
}

}  // namespace linetime::hwclock
