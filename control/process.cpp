#include "control/process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace linetime::control {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

int capget_raw(__user_cap_header_struct* h, __user_cap_data_struct* d) {
  return static_cast<int>(::syscall(SYS_capget, h, d));
}
int capset_raw(__user_cap_header_struct* h, const __user_cap_data_struct* d) {
  return static_cast<int>(::syscall(SYS_capset, h, d));
}

int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int n = 0;
  if (in >> n && n > 0 && n < 64) return n;
  return CAP_LAST_CAP;
}

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

// Buffers for the reentrant passwd/group lookups.
std::size_t lookup_buffer_size() {
  const long n = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  return n > 0 ? static_cast<std::size_t>(n) * 4 : 16384;
}

}  // namespace

CapabilityMask capabilities_needed(bool clock_control, std::optional<int> lowest_served_port) {
  CapabilityMask m = 0;
  if (clock_control) m |= capability_bit(kCapSysTime);
  if (lowest_served_port && *lowest_served_port > 0 && *lowest_served_port < 1024) {
    m |= capability_bit(kCapNetBindService);
  }
  return m;
}

Expected<UserSpec, std::string> parse_user_spec(std::string_view spec) {
  const auto colon = spec.find(':');
  UserSpec u;
  u.user = std::string(spec.substr(0, colon));
  if (colon != std::string_view::npos) u.group = std::string(spec.substr(colon + 1));
  if (u.user.empty()) {
    return unexpected("-u '" + std::string(spec) + "': the user name is missing — write -u user or -u user:group");
  }
  if (colon != std::string_view::npos && u.group.empty()) {
    return unexpected("-u '" + std::string(spec) + "': the group after ':' is missing — write -u " + u.user +
                      " (the user's own group) or -u " + u.user + ":GROUP");
  }
  if (u.group.find(':') != std::string::npos) {
    return unexpected("-u '" + std::string(spec) + "': more than one ':' — write -u user or -u user:group");
  }
  return u;
}

std::optional<Capabilities> current_capabilities() {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (capget_raw(&h, d) < 0) return std::nullopt;
  Capabilities c;
  c.effective = (CapabilityMask{d[1].effective} << 32) | d[0].effective;
  c.permitted = (CapabilityMask{d[1].permitted} << 32) | d[0].permitted;
  c.inheritable = (CapabilityMask{d[1].inheritable} << 32) | d[0].inheritable;
  return c;
}

std::string drop_privileges(const UserSpec& who, CapabilityMask keep) {
  const std::string name = who.group.empty() ? who.user : who.user + ":" + who.group;
  std::vector<char> buf(lookup_buffer_size());
  struct passwd pw {};
  struct passwd* pwp = nullptr;
  int rc = ::getpwnam_r(who.user.c_str(), &pw, buf.data(), buf.size(), &pwp);
  if (rc != 0 || pwp == nullptr) {
    return "-u " + name + ": user '" + who.user + "' " +
           (rc != 0 ? "cannot be looked up (" + errno_text(rc) + ")" : std::string("does not exist")) +
           " — create it (adduser --system --group " + who.user + ") or name an existing user";
  }
  const uid_t uid = pw.pw_uid;
  gid_t gid = pw.pw_gid;
  if (!who.group.empty()) {
    std::vector<char> gbuf(lookup_buffer_size());
    struct group gr {};
    struct group* grp = nullptr;
    rc = ::getgrnam_r(who.group.c_str(), &gr, gbuf.data(), gbuf.size(), &grp);
    if (rc != 0 || grp == nullptr) {
      return "-u " + name + ": group '" + who.group + "' " +
             (rc != 0 ? "cannot be looked up (" + errno_text(rc) + ")" : std::string("does not exist")) +
             " — create it (addgroup --system " + who.group + ") or name an existing group";
    }
    gid = gr.gr_gid;
  }

  const bool switching = ::getuid() != uid || ::geteuid() != uid || ::getgid() != gid || ::getegid() != gid;
  if (switching && ::geteuid() != 0) {
    return "-u " + name + ": switching users needs root, and linetime-control runs as uid " +
           std::to_string(::geteuid()) + " — start it as root, or as " + who.user +
           " with the capabilities it needs (see linetime-control.service), or leave out -u";
  }

  // The bounding set first, while CAP_SETPCAP is still there. Without it (a
  // service manager already limited the set) the bounding set stays as given.
  const int last = last_capability();
  for (int cap = 0; cap <= last; ++cap) {
    if (keep & capability_bit(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && errno != EPERM) {
      return "-u " + name + ": cannot drop capability " + std::to_string(cap) + " from the bounding set: " +
             errno_text(errno);
    }
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

  if (switching) {
    // Keep the permitted set across the uid change; trimmed right after.
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return "-u " + name + ": prctl(PR_SET_KEEPCAPS): " + errno_text(errno);
    if (::setgroups(1, &gid) < 0) {
      return "-u " + name + ": setgroups: " + errno_text(errno) + " — start linetime-control as root";
    }
    if (::setresgid(gid, gid, gid) < 0) return "-u " + name + ": setresgid: " + errno_text(errno);
    if (::setresuid(uid, uid, uid) < 0) return "-u " + name + ": setresuid: " + errno_text(errno);
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }

  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  d[0].effective = d[0].permitted = static_cast<std::uint32_t>(keep);
  d[1].effective = d[1].permitted = static_cast<std::uint32_t>(keep >> 32);
  if (capset_raw(&h, d) < 0) {
    const int e = errno;
    const auto have = current_capabilities();
    char want[32], got[32];
    std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(keep));
    std::snprintf(got, sizeof got, "%016llx", have ? static_cast<unsigned long long>(have->permitted) : 0ULL);
    return "-u " + name + ": cannot keep capabilities " + want + " (permitted: " + got + "): " + errno_text(e) +
           " — grant CAP_SYS_TIME (and CAP_NET_BIND_SERVICE for port 123) to the service, or run with -x";
  }

  // Verify: no way back to root, and exactly the capabilities asked for.
  if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    std::abort();  // cannot happen after setresuid; never continue as root by accident
  }
  const auto now = current_capabilities();
  if (!now || now->effective != keep || now->permitted != keep) {
    return "-u " + name + ": capabilities after the switch differ from those asked for — refusing to run";
  }
  return {};
}

// --- pid file ------------------------------------------------------------------------

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || errno != 0 || v <= 0 || v > 0x3fffffff) return std::nullopt;
  while (*end == ' ' || *end == '\n') ++end;
  if (*end != '\0') return std::nullopt;
  return static_cast<pid_t>(v);
}

Expected<PidFile, std::string> PidFile::create(const std::string& path) {
  const pid_t self = ::getpid();
  // Two rounds at most: the second after removing a stale file.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      const std::string text = std::to_string(self) + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      const int e = errno;
      ::close(fd);
      if (!ok) {
        ::unlink(path.c_str());
        return unexpected("cannot write pid file " + path + ": " + errno_text(e) + " — check the disk and -p");
      }
      return PidFile(path, self);
    }
    if (errno != EEXIST) {
      return unexpected("cannot create pid file " + path + ": " + errno_text(errno) +
                        " — make its directory writable for linetime-control or choose another with -p");
    }
    const auto other = read_pid_file(path);
    if (other && *other != self && (::kill(*other, 0) == 0 || errno == EPERM)) {
      const std::string comm = comm_of(*other);
      return unexpected("pid file " + path + " names process " + std::to_string(*other) +
                        (comm.empty() ? std::string() : " (" + comm + ")") +
                        ", which is running: another linetime-control is probably running — stop it first, or "
                        "give this instance its own pid file with -p");
    }
    // Stale: its process is gone, or the file holds no pid (a crash mid-write).
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
      return unexpected("cannot remove stale pid file " + path + ": " + errno_text(errno) +
                        " — remove it by hand");
    }
  }
  return unexpected("pid file " + path + " keeps reappearing — is another linetime-control starting right now?");
}

PidFile::PidFile(PidFile&& o) noexcept : path_(std::move(o.path_)), pid_(o.pid_) { o.path_.clear(); }

PidFile& PidFile::operator=(PidFile&& o) noexcept {
  if (this != &o) {
    remove();
    path_ = std::move(o.path_);
    pid_ = o.pid_;
    o.path_.clear();
  }
  return *this;
}

PidFile::~PidFile() { remove(); }

void PidFile::remove() {
  if (path_.empty()) return;
  // Only our own file: after a fork or a takeover the file may name someone else.
  const auto holder = read_pid_file(path_);
  if (holder && *holder == pid_ && ::getpid() == pid_) ::unlink(path_.c_str());
  path_.clear();
}

// --- detaching -------------------------------------------------------------------------

std::string daemonize() {
  pid_t pid = ::fork();
  if (pid < 0) return "cannot fork to detach: " + errno_text(errno) + " — run with -n to stay in the foreground";
  if (pid > 0) ::_exit(0);
  ::setsid();
  // A second fork: the daemon is no session leader, so it never gets a terminal.
  pid = ::fork();
  if (pid < 0) ::_exit(1);
  if (pid > 0) ::_exit(0);
  ::umask(022);
  if (::chdir("/") < 0) {
    // "/" always exists; nothing to do if it somehow fails.
  }
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
  return {};
}

}  // namespace linetime::control
