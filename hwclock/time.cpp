// Out-of-line checks of the time types' compile-time properties.
#include "hwclock/ntp_time.h"
#include "hwclock/time.h"

namespace linetime::hwclock {

static_assert(sizeof(UtcTime) == 8 && sizeof(Duration) == 8 && sizeof(NtpTimestamp) == 8);
static_assert(NtpTimestamp::from_utc(UtcTime(0)).seconds() == kNtpUnixEpochOffsetS);
// 2036-02-07T06:28:16Z is the first NTP era rollover.
static_assert(NtpDate::from_utc(UtcTime(2'085'978'496LL * kNsPerSec)).era == 1);
static_assert(NtpDate::from_utc(UtcTime(2'085'978'496LL * kNsPerSec)).era_offset_s == 0);

}  // namespace linetime::hwclock
