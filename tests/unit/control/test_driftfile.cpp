// Tests of the drift file: ntpd's and chrony's formats with their exact error
// messages, atomic writes in a temporary directory, a failed write leaving the
// previous file intact, a crash's leftover temporary file, and the hourly
// schedule.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "control/driftfile.h"

namespace linetime::control {
namespace {

namespace fs = std::filesystem;
using hwclock::Duration;
using hwclock::MonoTime;

class DriftFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/linetime-driver-drift-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ntp.drift";
  }
  void TearDown() override {
    std::error_code ec;
    ::chmod(dir_.c_str(), 0700);
    fs::remove_all(dir_, ec);
  }
  static void put(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  static std::string get(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
  std::string path_;
};

TEST(ParseDrift, NtpdFormat) {
  auto d = parse_drift("12.345\n");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->frequency_ppm, 12.345);
  EXPECT_EQ(d->format, DriftFormat::kNtpd);
  EXPECT_FALSE(d->skew_ppm);
  d = parse_drift("  -3.5  ");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->frequency_ppm, -3.5);
  d = parse_drift("-499.999\r\n");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->frequency_ppm, -499.999);
}

TEST(ParseDrift, ChronyFormatHasTheOppositeSign) {
  auto d = parse_drift("-12.345678 0.456\n");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->frequency_ppm, 12.345678);
  EXPECT_EQ(d->format, DriftFormat::kChrony);
  ASSERT_TRUE(d->skew_ppm);
  EXPECT_DOUBLE_EQ(*d->skew_ppm, 0.456);
}

TEST(ParseDrift, Errors) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"", "the file is empty"},
      {" \n\n", "the file is empty"},
      {"abc\n", "'abc' is not a number"},
      {"12.5ppm", "'12.5ppm' is not a number"},
      {"nan", "'nan' is not a number"},
      {"inf", "'inf' is not a number"},
      {"1 2 3", "expected one number (ntpd's format) or two (chrony's \"frequency skew\"), found 3 words"},
      {"600.0", "frequency 600.0 ppm is beyond the kernel's ±500 ppm"},
      {"-12 -1", "'-1' is not a skew in ppm (a non-negative number)"},
      {"-12 x", "'x' is not a skew in ppm (a non-negative number)"},
  };
  for (const Case& c : cases) {
    auto d = parse_drift(c.text);
    ASSERT_FALSE(d) << c.text;
    EXPECT_EQ(d.error(), c.error) << c.text;
  }
}

TEST(ParseDrift, FormatRoundTrips) {
  EXPECT_EQ(format_drift(12.3456), "12.346\n");
  EXPECT_EQ(format_drift(-0.0004), "-0.000\n");
  for (double v : {0.0, 1.0, -17.25, 499.999, -499.999, 3.14159}) {
    auto d = parse_drift(format_drift(v));
    ASSERT_TRUE(d) << v;
    EXPECT_NEAR(d->frequency_ppm, v, 0.0005) << v;
  }
}

TEST_F(DriftFileTest, MissingFileIsNormalOnTheFirstStart) {
  const DriftRead r = read_drift_file(path_);
  EXPECT_TRUE(r.missing);
  EXPECT_FALSE(r.drift);
  EXPECT_EQ(r.message, "drift file " + path_ +
                           " does not exist yet; starting at 0 ppm (normal on the first start: it is written once "
                           "the clock has been synchronized for an hour)");
}

TEST_F(DriftFileTest, BadContentNamesTheFileTheProblemAndTheOutcome) {
  put(path_, "garbage\n");
  const DriftRead r = read_drift_file(path_);
  EXPECT_FALSE(r.missing);
  EXPECT_FALSE(r.drift);
  EXPECT_EQ(r.message, "drift file " + path_ +
                           ": 'garbage' is not a number; starting at 0 ppm — the file is rewritten once the clock has "
                           "been synchronized for an hour, or delete it now");
}

TEST_F(DriftFileTest, ADirectoryIsNotADriftFile) {
  fs::create_directory(path_);
  const DriftRead r = read_drift_file(path_);
  EXPECT_FALSE(r.drift);
  EXPECT_NE(r.message.find("cannot read drift file " + path_ + ": Is a directory; starting at 0 ppm"),
            std::string::npos)
      << r.message;
}

TEST_F(DriftFileTest, WriteThenRead) {
  EXPECT_EQ(write_drift_file(path_, -23.4567), "");
  EXPECT_EQ(get(path_), "-23.457\n");
  EXPECT_FALSE(fs::exists(drift_temp_path(path_)));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  const DriftRead r = read_drift_file(path_);
  ASSERT_TRUE(r.drift);
  EXPECT_DOUBLE_EQ(r.drift->frequency_ppm, -23.457);
  EXPECT_EQ(r.message, "");
  // Replaces the previous value.
  EXPECT_EQ(write_drift_file(path_, 7), "");
  EXPECT_EQ(get(path_), "7.000\n");
}

TEST_F(DriftFileTest, ReadsChronysFile) {
  put(path_, "          -8.123456             0.012345\n");
  const DriftRead r = read_drift_file(path_);
  ASSERT_TRUE(r.drift);
  EXPECT_DOUBLE_EQ(r.drift->frequency_ppm, 8.123456);
  EXPECT_EQ(r.drift->format, DriftFormat::kChrony);
}

TEST_F(DriftFileTest, OutOfRangeValuesAreSavedAsTheLimitAndNanIsRefused) {
  EXPECT_EQ(write_drift_file(path_, 812), "");
  EXPECT_EQ(get(path_), "500.000\n");
  const std::string err = write_drift_file(path_, std::nan(""));
  EXPECT_NE(err.find("the frequency is not a number"), std::string::npos) << err;
  EXPECT_EQ(get(path_), "500.000\n");
}

TEST_F(DriftFileTest, FailedWriteLeavesThePreviousFileIntact) {
  ASSERT_EQ(write_drift_file(path_, 11.5), "");
  // Something in the way of the temporary file: its creation fails.
  fs::create_directory(drift_temp_path(path_));
  const std::string err = write_drift_file(path_, 99);
  EXPECT_EQ(err, "cannot write drift file " + path_ + " (creating the temporary file): Is a directory — make " +
                     dir_ + " writable by the daemon's user (the previous drift file, if any, is unchanged)");
  EXPECT_EQ(get(path_), "11.500\n");
}

TEST_F(DriftFileTest, MissingDirectoryIsReported) {
  const std::string p = dir_ + "/no-such-dir/drift";
  const std::string err = write_drift_file(p, 1);
  EXPECT_NE(err.find("cannot write drift file " + p + " (creating the temporary file): No such file or directory"),
            std::string::npos)
      << err;
}

// Permissions bind only unprivileged users: as root the write is tried in a
// child that switched to nobody.
TEST_F(DriftFileTest, UnwritableDirectoryLeavesThePreviousFileIntact) {
  ASSERT_EQ(write_drift_file(path_, -4.25), "");
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // nobody may enter, not write
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);  // nor would writing the file in place help it
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
      ::_exit(2);
    }
    if (::geteuid() != 0) ::chmod(dir_.c_str(), 0555);
    const std::string err = write_drift_file(path_, 300);
    if (::write(fds[1], err.data(), err.size()) < 0) ::_exit(3);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(err, "cannot write drift file " + path_ +
                     " (creating the temporary file): Permission denied — make " + dir_ +
                     " writable by the daemon's user (the previous drift file, if any, is unchanged)");
  EXPECT_EQ(get(path_), "-4.250\n");
  EXPECT_FALSE(fs::exists(drift_temp_path(path_)));
}

// A crash between writing the temporary file and the rename leaves the old file
// in place; the next start reads it, and the next write replaces both.
TEST_F(DriftFileTest, CrashBeforeRenameKeepsTheOldValue) {
  ASSERT_EQ(write_drift_file(path_, 3.5), "");
  put(drift_temp_path(path_), "12");  // a half-written temporary file
  const DriftRead r = read_drift_file(path_);
  ASSERT_TRUE(r.drift);
  EXPECT_DOUBLE_EQ(r.drift->frequency_ppm, 3.5);
  EXPECT_EQ(write_drift_file(path_, 4.5), "");
  EXPECT_EQ(get(path_), "4.500\n");
  EXPECT_FALSE(fs::exists(drift_temp_path(path_)));
}

TEST_F(DriftFileTest, WrittenHourlyAndAtShutdown) {
  DriftFile f(path_);
  const MonoTime t0(1'000 * hwclock::kNsPerSec);
  EXPECT_EQ(f.update(t0, 1.0), "");
  EXPECT_EQ(f.update(t0 + Duration::from_s(3599), 2.0), "");
  EXPECT_EQ(f.writes(), 0);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(f.update(t0 + Duration::from_s(3600), 3.0), "");
  EXPECT_EQ(f.writes(), 1);
  EXPECT_EQ(get(path_), "3.000\n");
  EXPECT_EQ(f.update(t0 + Duration::from_s(7199), 4.0), "");
  EXPECT_EQ(f.writes(), 1);
  EXPECT_EQ(f.update(t0 + Duration::from_s(7200), 5.0), "");
  EXPECT_EQ(f.writes(), 2);
  EXPECT_EQ(get(path_), "5.000\n");
  EXPECT_EQ(f.update(t0 + Duration::from_s(7300), 6.0), "");
  EXPECT_EQ(f.flush(), "");
  EXPECT_EQ(get(path_), "6.000\n");
  EXPECT_EQ(f.flush(-2.0), "");
  EXPECT_EQ(get(path_), "-2.000\n");
  EXPECT_EQ(f.writes(), 4);
}

TEST_F(DriftFileTest, FlushWithoutAValueWritesNothing) {
  DriftFile f(path_);
  EXPECT_EQ(f.flush(), "");
  EXPECT_FALSE(fs::exists(path_));
}

}  // namespace
}  // namespace linetime::control
