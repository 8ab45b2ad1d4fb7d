#include "hwclock/phc.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace linetime::hwclock {

PhcOps PhcOps::system() {
  PhcOps ops;
  ops.open = [](const char* path, int flags) { return ::open(path, flags); };
  ops.ioctl = [](int fd, unsigned long request, void* arg) { return ::ioctl(fd, request, arg); };
  ops.close = [](int fd) { return ::close(fd); };
  return ops;
}

const char* phc_method_name(PhcMethod m) {
  return m == PhcMethod::kPrecise ? "PTP_SYS_OFFSET_PRECISE" : "PTP_SYS_OFFSET_EXTENDED";
}

std::string PhcError::message() const {
  std::string m = "PHC " + device + ": " + operation + " failed: " + std::strerror(error);
  switch (error) {
    case ENOENT:
      m += " — no such device: check the interface's PHC with `ethtool -T IFACE` (\"PTP Hardware Clock: N\" is /dev/ptpN)";
      break;
    case EACCES:
    case EPERM:
      m += " — the daemon's user cannot open it: grant read access to the device (udev rule or group)";
      break;
    case EOPNOTSUPP:
    case ENOTTY:
    case EINVAL:
      m += " — the driver offers neither cross-timestamping nor extended offset reads (kernel >= 5.0 and a driver "
           "with gettimex64 are needed); use software timestamps for this interface";
      break;
    default:
      m += " — check the NIC and its driver (dmesg)";
      break;
  }
  return m;
}

namespace {
bool unsupported(int e) { return e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ENODEV; }
}  // namespace

Expected<std::unique_ptr<PhcReader>, PhcError> PhcReader::open(const std::string& path, PhcOps ops) {
  const int fd = ops.open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected(PhcError{path, "open", errno});
  ptp_sys_offset_precise precise{};
  if (ops.ioctl(fd, PTP_SYS_OFFSET_PRECISE, &precise) == 0) {
    return std::unique_ptr<PhcReader>(new PhcReader(path, std::move(ops), fd, PhcMethod::kPrecise));
  }
  if (!unsupported(errno)) {
    const int e = errno;
    ops.close(fd);
    return unexpected(PhcError{path, "ioctl(PTP_SYS_OFFSET_PRECISE)", e});
  }
  ptp_sys_offset_extended ext{};
  ext.n_samples = 1;
  if (ops.ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &ext) != 0) {
    const int e = errno;
    ops.close(fd);
    return unexpected(PhcError{path, "ioctl(PTP_SYS_OFFSET_EXTENDED)", e});
  }
  return std::unique_ptr<PhcReader>(new PhcReader(path, std::move(ops), fd, PhcMethod::kExtended));
}

PhcReader::~PhcReader() {
  if (fd_ >= 0) ops_.close(fd_);
}

Expected<bool, PhcError> PhcReader::round(NicClockEstimator& est) {
  if (method_ == PhcMethod::kPrecise) {
    ptp_sys_offset_precise p{};
    if (ops_.ioctl(fd_, PTP_SYS_OFFSET_PRECISE, &p) != 0) {
      return unexpected(PhcError{path_, "ioctl(PTP_SYS_OFFSET_PRECISE)", errno});
    }
    est.sample_exact(UtcTime(ptp_time_ns(p.sys_realtime)), NicTime(ptp_time_ns(p.device)));
  } else {
    ptp_sys_offset_extended x{};
    x.n_samples = kExtendedSamples;
    if (ops_.ioctl(fd_, PTP_SYS_OFFSET_EXTENDED, &x) != 0) {
      return unexpected(PhcError{path_, "ioctl(PTP_SYS_OFFSET_EXTENDED)", errno});
    }
    const unsigned n = x.n_samples <= PTP_MAX_SAMPLES ? x.n_samples : PTP_MAX_SAMPLES;
    for (unsigned i = 0; i < n; ++i) {
      est.sample(UtcTime(ptp_time_ns(x.ts[i][0])), NicTime(ptp_time_ns(x.ts[i][1])), UtcTime(ptp_time_ns(x.ts[i][2])));
    }
  }
  return est.end_round();
}

std::vector<std::string> phc_devices() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ptp", 0) == 0 && name.size() > 3) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace linetime::hwclock
