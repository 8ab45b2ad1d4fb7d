// PTP hardware clock (/dev/ptpN) of a kernel NIC, for node mode.
//
// In node mode the kernel stamps NTP packets with the NIC's hardware clock
// (SO_TIMESTAMPING raw hardware stamps), which is not the system clock. This
// module relates the two: each round asks the kernel for simultaneous
// readings of the PHC and CLOCK_REALTIME and feeds them to a
// NicClockEstimator, whose mapping turns a hardware stamp into system time.
//  - PTP_SYS_OFFSET_PRECISE: the hardware cross-timestamps both clocks at one
//    instant (PCIe PTM, ART on Intel NICs): one exact pair per round.
//  - PTP_SYS_OFFSET_EXTENDED: the driver reads the PHC between two system
//    clock reads, n times: n bracketed samples, the tightest wins.
// The method is chosen when the device is opened: precise when the driver
// offers it, extended otherwise. The system calls go through PhcOps so tests
// run against a fake device.
#pragma once

#include <linux/ptp_clock.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hwclock/expected.h"
#include "hwclock/nic_clock.h"

namespace linetime::hwclock {

struct PhcOps {
  std::function<int(const char* path, int flags)> open;
  std::function<int(int fd, unsigned long request, void* arg)> ioctl;
  std::function<int(int fd)> close;
  // The real system calls.
  static PhcOps system();
};

enum class PhcMethod { kPrecise, kExtended };
const char* phc_method_name(PhcMethod m);

// A failed PHC operation: the device, the call, errno; message() adds the fix.
struct PhcError {
  std::string device;
  std::string operation;
  int error = 0;
  std::string message() const;
};

// Nanoseconds of a ptp_clock_time.
constexpr std::int64_t ptp_time_ns(const ptp_clock_time& t) { return t.sec * kNsPerSec + t.nsec; }

class PhcReader {
 public:
  // Samples per extended read (the kernel allows up to PTP_MAX_SAMPLES).
  static constexpr unsigned kExtendedSamples = 9;

  // Opens the device read-only and chooses the method.
  static Expected<std::unique_ptr<PhcReader>, PhcError> open(const std::string& path, PhcOps ops = PhcOps::system());
  ~PhcReader();
  PhcReader(const PhcReader&) = delete;
  PhcReader& operator=(const PhcReader&) = delete;

  PhcMethod method() const { return method_; }
  const std::string& path() const { return path_; }
  // Reads one round into `est` and closes the round. Returns whether the
  // mapping was refitted, or the failed call.
  Expected<bool, PhcError> round(NicClockEstimator& est);

 private:
  PhcReader(std::string path, PhcOps ops, int fd, PhcMethod method)
      : path_(std::move(path)), ops_(std::move(ops)), fd_(fd), method_(method) {}
  std::string path_;
  PhcOps ops_;
  int fd_;
  PhcMethod method_;
};

// The PHC devices present (/dev/ptp0, /dev/ptp1, ...), for tests and tools.
std::vector<std::string> phc_devices();

}  // namespace linetime::hwclock
