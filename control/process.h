// Process setup of the control daemon: privileges, pid file, detaching.
//
// This module does what ntpd's `-u user:group`, `-p pidfile` and forking do.
// drop_privileges() switches to an unprivileged user and keeps only the
// capabilities the daemon still needs: CAP_SYS_TIME to steer the clock (none in
// no-clock-control mode) and CAP_NET_BIND_SERVICE when a transport serves a
// port below 1024. It uses the raw capget/capset system calls, so linetime
// needs no libcap. PidFile creates the pid file exclusively, replaces a stale
// one (its process is gone) and removes it on destruction. daemonize() detaches
// from the terminal when the daemon is not run with -n.
//
// Every function returns an operator-facing error message (empty on success)
// that names the problem and the fix.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hwclock/expected.h"

namespace linetime::control {

// A capability set as the kernel's bit mask (bit N = capability N of
// <linux/capability.h>).
using CapabilityMask = std::uint64_t;
constexpr CapabilityMask capability_bit(int cap) { return CapabilityMask{1} << cap; }
inline constexpr int kCapNetBindService = 10;  // CAP_NET_BIND_SERVICE
inline constexpr int kCapSysTime = 25;          // CAP_SYS_TIME

// What the daemon keeps: CAP_SYS_TIME when it controls the clock, and
// CAP_NET_BIND_SERVICE when it serves a port below 1024 (123, normally) on
// kernel sockets.
CapabilityMask capabilities_needed(bool clock_control, std::optional<int> lowest_served_port);

// `-u user[:group]`. An empty group means the user's primary group.
struct UserSpec {
  std::string user;
  std::string group;
  bool operator==(const UserSpec&) const = default;
};
Expected<UserSpec, std::string> parse_user_spec(std::string_view spec);

// Switches uid, gid and supplementary groups to `who` and reduces the
// permitted, effective and bounding capability sets to `keep` (inheritable and
// ambient sets emptied). Started as root, it needs nothing else; started as
// `who` already (systemd's User= with AmbientCapabilities=), it only trims the
// capabilities. Afterwards the process cannot regain root. Affects the whole
// process: call it before starting threads.
std::string drop_privileges(const UserSpec& who, CapabilityMask keep);

// The effective and permitted sets of this process (capget).
struct Capabilities {
  CapabilityMask effective = 0;
  CapabilityMask permitted = 0;
  CapabilityMask inheritable = 0;
};
std::optional<Capabilities> current_capabilities();

// The pid file, created exclusively. If the file exists and names a live
// process, creation fails (another instance runs); if that process is gone (a
// crash, a reboot) the stale file is replaced. The destructor removes the file
// if it still holds this process's pid.
class PidFile {
 public:
  PidFile() = default;
  static Expected<PidFile, std::string> create(const std::string& path);
  PidFile(PidFile&& o) noexcept;
  PidFile& operator=(PidFile&& o) noexcept;
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  ~PidFile();

  const std::string& path() const { return path_; }
  bool active() const { return !path_.empty(); }
  // Removes the file now (if it still holds our pid).
  void remove();

 private:
  PidFile(std::string path, pid_t pid) : path_(std::move(path)), pid_(pid) {}
  std::string path_;
  pid_t pid_ = 0;
};

// The pid a pid file names, if it holds one.
std::optional<pid_t> read_pid_file(const std::string& path);

// Detaches from the terminal (fork, setsid, fork; cwd /, umask 022, stdin,
// stdout and stderr on /dev/null). Returns only in the detached process, with
// an empty string, or in the caller with the error when a fork failed. The
// calling process exits with status 0 once the daemon process exists.
std::string daemonize();

}  // namespace linetime::control
