#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "hwclock/phc.h"

using namespace linetime::hwclock;

namespace {

ptp_clock_time pt(std::int64_t ns) {
  ptp_clock_time t{};
  t.sec = ns / kNsPerSec;
  t.nsec = static_cast<std::uint32_t>(ns % kNsPerSec);
  return t;
}

// A PHC 25 s ahead of the system clock, running 10 ppm fast; the system
// clock advances 10 ms per ioctl.
struct FakePhc {
  bool precise = true;
  bool extended = true;
  int open_errno = 0;
  std::int64_t sys = 1'700'000'000LL * kNsPerSec;
  const std::int64_t sys0 = 1'700'000'000LL * kNsPerSec;
  int closes = 0;
  int calls = 0;
  std::int64_t phc_at(std::int64_t s) const { return s + 25 * kNsPerSec + (s - sys0) / 100'000; }

  PhcOps ops() {
    PhcOps o;
    o.open = [this](const char*, int) {
      if (open_errno != 0) {
        errno = open_errno;
        return -1;
      }
      return 42;
    };
    o.close = [this](int fd) {
      EXPECT_EQ(fd, 42);
      ++closes;
      return 0;
    };
    o.ioctl = [this](int, unsigned long req, void* arg) {
      ++calls;
      sys += 10'000'000;
      if (req == PTP_SYS_OFFSET_PRECISE) {
        if (!precise) {
          errno = EOPNOTSUPP;
          return -1;
        }
        auto* p = static_cast<ptp_sys_offset_precise*>(arg);
        p->device = pt(phc_at(sys));
        p->sys_realtime = pt(sys);
        return 0;
      }
      if (req == PTP_SYS_OFFSET_EXTENDED) {
        if (!extended) {
          errno = EOPNOTSUPP;
          return -1;
        }
        auto* x = static_cast<ptp_sys_offset_extended*>(arg);
        for (unsigned i = 0; i < x->n_samples; ++i) {
          // Sample 0 is slow (an interrupt between the reads); the rest take 1 us.
          const std::int64_t width = i == 0 ? 40'000 : 1'000;
          x->ts[i][0] = pt(sys);
          x->ts[i][1] = pt(phc_at(sys + width / 2));
          x->ts[i][2] = pt(sys + width);
          sys += width + 200;
        }
        return 0;
      }
      errno = ENOTTY;
      return -1;
    };
    return o;
  }
};

}  // namespace

TEST(Phc, UsesCrossTimestampsWhenTheDriverHasThem) {
  FakePhc fake;
  {
    auto phc = PhcReader::open("/dev/ptp7", fake.ops());
    ASSERT_TRUE(phc.has_value());
    EXPECT_EQ((*phc)->method(), PhcMethod::kPrecise);
    NicClockEstimator est;
    for (int i = 0; i < 5; ++i) {
      auto r = (*phc)->round(est);
      ASSERT_TRUE(r.has_value());
      EXPECT_TRUE(*r);
    }
    const std::int64_t at = fake.sys + 5'000'000;
    EXPECT_LE(std::llabs(est.mapping().to_utc(NicTime(fake.phc_at(at))).ticks() - at), 2);
  }
  EXPECT_EQ(fake.closes, 1);
}

TEST(Phc, FallsBackToExtendedReadsAndKeepsTheTightest) {
  FakePhc fake;
  fake.precise = false;
  auto phc = PhcReader::open("/dev/ptp0", fake.ops());
  ASSERT_TRUE(phc.has_value());
  EXPECT_EQ((*phc)->method(), PhcMethod::kExtended);
  EXPECT_STREQ(phc_method_name((*phc)->method()), "PTP_SYS_OFFSET_EXTENDED");
  NicClockEstimator est;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*phc)->round(est).has_value());
  const std::int64_t at = fake.sys;
  EXPECT_LE(std::llabs(est.mapping().to_utc(NicTime(fake.phc_at(at))).ticks() - at), 10);
  EXPECT_LE(est.mapping().error_ns, 1'000);  // the 1 us brackets, not the 40 us one
}

TEST(Phc, ErrorsNameTheDeviceAndTheFix) {
  FakePhc none;
  none.precise = none.extended = false;
  auto a = PhcReader::open("/dev/ptp3", none.ops());
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(none.closes, 1);
  const std::string m = a.error().message();
  EXPECT_NE(m.find("/dev/ptp3"), std::string::npos) << m;
  EXPECT_NE(m.find("PTP_SYS_OFFSET_EXTENDED"), std::string::npos) << m;
  EXPECT_NE(m.find("software timestamps"), std::string::npos) << m;

  FakePhc missing;
  missing.open_errno = ENOENT;
  auto b = PhcReader::open("/dev/ptp9", missing.ops());
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message().find("ethtool -T"), std::string::npos) << b.error().message();
}

TEST(Phc, ReadsARealDevice) {
  const auto devices = phc_devices();
  if (devices.empty()) GTEST_SKIP() << "no /dev/ptp* on this machine (no NIC with a PTP hardware clock)";
  auto phc = PhcReader::open(devices.front());
  if (!phc) GTEST_SKIP() << phc.error().message();
  NicClockEstimator est;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*phc)->round(est).has_value());
  EXPECT_TRUE(est.mapping().valid());
}
