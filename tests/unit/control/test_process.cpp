// Tests of process setup: -u parsing, the capabilities kept, the privilege drop
// (each in a forked child that reports what it sees in /proc/self/status, so
// this process keeps its privileges), the pid file and detaching.
#include <gtest/gtest.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "control/process.h"

namespace linetime::control {
namespace {

namespace fs = std::filesystem;

// Runs `body` in a forked child and returns what it returned ("" = all good),
// or a description of how the child died.
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    const std::string out = body();
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 3);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " [child ended abnormally]";
  return out;
}

// A line of /proc/self/status, e.g. "CapEff" -> "0000000002000000".
std::string proc_status(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

std::string hex16(CapabilityMask m) {
  char b[32];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(m));
  return b;
}

// What a dropped process must look like; "" when it does.
// The bounding set is `bounding` when given (a process without CAP_SETPCAP
// cannot shrink it).
std::string check_dropped(uid_t uid, gid_t gid, CapabilityMask keep,
                          std::optional<CapabilityMask> bounding = std::nullopt) {
  std::string bad;
  auto expect = [&](const std::string& what, const std::string& got, const std::string& want) {
    if (got != want) bad += what + "=" + got + " (want " + want + "); ";
  };
  expect("uid", std::to_string(::getuid()) + "/" + std::to_string(::geteuid()),
         std::to_string(uid) + "/" + std::to_string(uid));
  expect("gid", std::to_string(::getgid()) + "/" + std::to_string(::getegid()),
         std::to_string(gid) + "/" + std::to_string(gid));
  gid_t groups[8];
  const int ng = ::getgroups(8, groups);
  expect("groups", ng == 1 ? std::to_string(groups[0]) : "count " + std::to_string(ng), std::to_string(gid));
  expect("CapEff", proc_status("CapEff"), hex16(keep));
  expect("CapPrm", proc_status("CapPrm"), hex16(keep));
  expect("CapInh", proc_status("CapInh"), hex16(0));
  expect("CapAmb", proc_status("CapAmb"), hex16(0));
  expect("CapBnd", proc_status("CapBnd"), hex16(bounding.value_or(keep)));
  if (::setuid(0) == 0) bad += "setuid(0) succeeded; ";
  return bad;
}

bool root() { return ::geteuid() == 0; }

struct Ids {
  uid_t uid;
  gid_t gid;
};
std::optional<Ids> ids_of(const char* user) {
  const struct passwd* p = ::getpwnam(user);
  if (p == nullptr) return std::nullopt;
  return Ids{p->pw_uid, p->pw_gid};
}

TEST(ParseUserSpec, UserAndGroup) {
  auto u = parse_user_spec("ntp:ntp");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (UserSpec{"ntp", "ntp"}));
  u = parse_user_spec("ntp");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (UserSpec{"ntp", ""}));
}

TEST(ParseUserSpec, Errors) {
  EXPECT_EQ(parse_user_spec("").error(), "-u '': the user name is missing — write -u user or -u user:group");
  EXPECT_EQ(parse_user_spec(":ntp").error(), "-u ':ntp': the user name is missing — write -u user or -u user:group");
  EXPECT_EQ(parse_user_spec("ntp:").error(),
            "-u 'ntp:': the group after ':' is missing — write -u ntp (the user's own group) or -u ntp:GROUP");
  EXPECT_EQ(parse_user_spec("a:b:c").error(), "-u 'a:b:c': more than one ':' — write -u user or -u user:group");
}

TEST(Capabilities, WhatTheDaemonKeeps) {
  const CapabilityMask time = capability_bit(25);
  const CapabilityMask bind = capability_bit(10);
  EXPECT_EQ(time, 0x2000000u);
  EXPECT_EQ(capabilities_needed(true, 123), time | bind);
  EXPECT_EQ(capabilities_needed(true, std::nullopt), time);
  EXPECT_EQ(capabilities_needed(true, 1123), time);
  EXPECT_EQ(capabilities_needed(false, 123), bind);
  EXPECT_EQ(capabilities_needed(false, 1024), 0u);
}

TEST(DropPrivileges, ToNobodyKeepingOnlySysTime) {
  if (!root()) GTEST_SKIP() << "needs root to switch users";
  const auto nobody = ids_of("nobody");
  if (!nobody) GTEST_SKIP() << "no user 'nobody' on this host";
  const CapabilityMask keep = capabilities_needed(true, std::nullopt);
  EXPECT_EQ(in_child([&] {
              const std::string err = drop_privileges({"nobody", ""}, keep);
              if (!err.empty()) return err;
              return check_dropped(nobody->uid, nobody->gid, keep);
            }),
            "");
}

TEST(DropPrivileges, ToNobodyWithAGroupKeepingSysTimeAndPort123) {
  if (!root()) GTEST_SKIP() << "needs root to switch users";
  const auto nobody = ids_of("nobody");
  const struct group* g = ::getgrnam("nogroup");
  if (!nobody || g == nullptr) GTEST_SKIP() << "no user 'nobody' or group 'nogroup' on this host";
  const gid_t gid = g->gr_gid;
  const CapabilityMask keep = capabilities_needed(true, 123);
  EXPECT_EQ(in_child([&] {
              const std::string err = drop_privileges({"nobody", "nogroup"}, keep);
              if (!err.empty()) return err;
              return check_dropped(nobody->uid, gid, keep);
            }),
            "");
}

TEST(DropPrivileges, NoClockControlKeepsNothing) {
  if (!root()) GTEST_SKIP() << "needs root to switch users";
  const auto nobody = ids_of("nobody");
  if (!nobody) GTEST_SKIP() << "no user 'nobody' on this host";
  EXPECT_EQ(in_child([&] {
              const std::string err = drop_privileges({"nobody", ""}, 0);
              if (!err.empty()) return err;
              return check_dropped(nobody->uid, nobody->gid, 0);
            }),
            "");
}

TEST(DropPrivileges, AlreadyTheUserOnlyTrimsCapabilities) {
  if (!root()) GTEST_SKIP() << "needs root to switch users";
  const auto nobody = ids_of("nobody");
  if (!nobody) GTEST_SKIP() << "no user 'nobody' on this host";
  const CapabilityMask both = capabilities_needed(true, 123);
  const CapabilityMask time = capabilities_needed(true, std::nullopt);
  EXPECT_EQ(in_child([&] {
              std::string err = drop_privileges({"nobody", ""}, both);
              if (!err.empty()) return "first: " + err;
              err = drop_privileges({"nobody", ""}, time);
              if (!err.empty()) return "second: " + err;
              return check_dropped(nobody->uid, nobody->gid, time, both);
            }),
            "");
}

TEST(DropPrivileges, SwitchingWithoutRootIsExplained) {
  if (!root()) GTEST_SKIP() << "needs root to set up an unprivileged child";
  EXPECT_EQ(in_child([] {
              std::string err = drop_privileges({"nobody", ""}, 0);
              if (!err.empty()) return "first: " + err;
              return drop_privileges({"root", ""}, capability_bit(25));
            }),
            "-u root: switching users needs root, and linetime-control runs as uid 65534 — start it as root, or as "
            "root with the capabilities it needs (see linetime-control.service), or leave out -u");
}

TEST(DropPrivileges, UnknownUserOrGroup) {
  // Fails at the look-up, before anything changes; still run in a child.
  EXPECT_EQ(in_child([] { return drop_privileges({"linetime-no-such-user", ""}, 0); }),
            "-u linetime-no-such-user: user 'linetime-no-such-user' does not exist — create it (adduser --system "
            "--group linetime-no-such-user) or name an existing user");
  EXPECT_EQ(in_child([] { return drop_privileges({"root", "linetime-no-such-group"}, 0); }),
            "-u root:linetime-no-such-group: group 'linetime-no-such-group' does not exist — create it (addgroup "
            "--system linetime-no-such-group) or name an existing group");
}

TEST(Capabilities, CurrentMatchesProcStatus) {
  const auto c = current_capabilities();
  ASSERT_TRUE(c);
  EXPECT_EQ(hex16(c->effective), proc_status("CapEff"));
  EXPECT_EQ(hex16(c->permitted), proc_status("CapPrm"));
}

// --- pid file --------------------------------------------------------------------------

class PidFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/linetime-driver-pid-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/linetime-control.pid";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static void put(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  static std::string get(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
  std::string path_;
};

TEST_F(PidFileTest, HoldsOurPidAndIsRemovedAtTheEnd) {
  {
    auto p = PidFile::create(path_);
    ASSERT_TRUE(p) << p.error();
    EXPECT_TRUE(p->active());
    EXPECT_EQ(get(path_), std::to_string(::getpid()) + "\n");
    EXPECT_EQ(read_pid_file(path_), ::getpid());
  }
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(PidFileTest, ALiveHolderBlocksASecondInstance) {
  auto first = PidFile::create(path_);
  ASSERT_TRUE(first);
  // The holder is this very process; as seen from a child it is another, live one.
  const std::string self = std::to_string(::getpid());
  const std::string err = in_child([&] {
    auto second = PidFile::create(path_);
    return second ? std::string("created") : second.error();
  });
  EXPECT_EQ(err.rfind("pid file " + path_ + " names process " + self + " (", 0), 0u) << err;
  EXPECT_NE(err.find("which is running: another linetime-control is probably running — stop it first, or give this "
                     "instance its own pid file with -p"),
            std::string::npos)
      << err;
  EXPECT_EQ(get(path_), self + "\n");
}

TEST_F(PidFileTest, AStaleFileIsReplaced) {
  // A pid that is certainly gone: a child that has exited and been reaped.
  const pid_t gone = ::fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  put(path_, std::to_string(gone) + "\n");
  auto p = PidFile::create(path_);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(read_pid_file(path_), ::getpid());
}

TEST_F(PidFileTest, GarbageIsReplaced) {
  put(path_, "not a pid");
  auto p = PidFile::create(path_);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(read_pid_file(path_), ::getpid());
  put(path_, "");
  EXPECT_FALSE(read_pid_file(path_));
}

TEST_F(PidFileTest, AFileNamingSomeoneElseIsLeftAlone) {
  {
    auto p = PidFile::create(path_);
    ASSERT_TRUE(p);
    put(path_, "1\n");  // taken over (by hand, or by a newer instance)
  }
  EXPECT_EQ(get(path_), "1\n");
}

TEST_F(PidFileTest, MovedFromDoesNotRemove) {
  auto p = PidFile::create(path_);
  ASSERT_TRUE(p);
  PidFile owner = std::move(*p);
  { PidFile moved_from = std::move(*p); }  // empty: removes nothing
  EXPECT_TRUE(fs::exists(path_));
  owner.remove();
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(owner.active());
}

TEST_F(PidFileTest, AForkedChildDoesNotRemoveItsParentsFile) {
  auto p = PidFile::create(path_);
  ASSERT_TRUE(p);
  EXPECT_EQ(in_child([&] {
              p->remove();
              return std::string();
            }),
            "");
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(PidFileTest, MissingDirectoryIsExplained) {
  const std::string path = dir_ + "/no-such-dir/x.pid";
  auto p = PidFile::create(path);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), "cannot create pid file " + path +
                           ": No such file or directory — make its directory writable for linetime-control or choose "
                           "another with -p");
}

// --- detaching -------------------------------------------------------------------------

TEST(Daemonize, TheDaemonHasItsOwnSessionNoTerminalAndRootAsCwd) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t starter = ::fork();
  ASSERT_GE(starter, 0);
  if (starter == 0) {
    ::close(fds[0]);
    const std::string err = daemonize();  // the starter exits 0 inside
    // The daemon: report and leave.
    std::string report = err;
    if (report.empty()) {
      char cwd[256] = {};
      const char* c = ::getcwd(cwd, sizeof cwd);
      char in[256] = {};
      const ssize_t n = ::readlink("/proc/self/fd/0", in, sizeof in - 1);
      report = std::to_string(::getpid()) + " " + std::to_string(::getsid(0)) + " " + (c ? c : "?") + " " +
               (n > 0 ? in : "?");
    }
    if (::write(fds[1], report.data(), report.size()) < 0) ::_exit(2);
    ::_exit(0);
  }
  ::close(fds[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(starter, &status, 0), starter);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  std::istringstream in(report);
  long pid = 0, sid = 0;
  std::string cwd, stdin_target;
  ASSERT_TRUE(in >> pid >> sid >> cwd >> stdin_target) << report;
  EXPECT_NE(pid, starter);
  EXPECT_NE(sid, ::getsid(0));  // a new session
  EXPECT_NE(sid, pid);          // but not its leader: it can never get a terminal
  EXPECT_EQ(cwd, "/");
  EXPECT_EQ(stdin_target, "/dev/null");
}

}  // namespace
}  // namespace linetime::control
