// Leap second decisions: when to insert or delete a second, and when to say so.
//
// This module decides from a leap-second table (the IETF/NIST leap-seconds.list
// file) and from the leap indicators of the selected sources whether the current
// UTC month ends with an inserted (23:59:60) or deleted (23:59:59 skipped)
// second. A table that has not expired is authoritative; without one, a strict
// majority of the selected sources decides. Leap seconds happen only at the end
// of a UTC month (in practice June and December); the decision names the instant
// (00:00:00 of the next month), whether to announce it to clients (the whole
// month, as ntpd does) and whether to arm the kernel (the last day only, as the
// kernel's STA_INS/STA_DEL act at the next midnight). Pure functions of `now`.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "discipline/types.h"
#include "hwclock/expected.h"

namespace linetime::discipline {

// Days since 1970-01-01 to a civil date and back (proleptic Gregorian).
struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};
CivilDate civil_from_days(std::int64_t days);
std::int64_t days_from_civil(CivilDate d);
// 00:00:00 UTC of the first day of the month after the one containing `t`.
UtcTime start_of_next_month(UtcTime t);

struct LeapEntry {
  UtcTime at;                  // first instant at which the new TAI - UTC holds
  int tai_minus_utc_s = 0;
};

enum class LeapFileError : std::uint8_t { kNone, kBadLine, kNotIncreasing, kEmpty };
const char* to_string(LeapFileError e);

class LeapTable {
 public:
  LeapTable() = default;
  LeapTable(std::vector<LeapEntry> entries, UtcTime expires) : entries_(std::move(entries)), expires_(expires) {}

  // Parses the leap-seconds.list format: "#@ <NTP seconds>" gives the expiry,
  // other '#' lines are comments, data lines are "<NTP seconds> <TAI-UTC> [# ...]".
  static Expected<LeapTable, LeapFileError> parse(std::string_view text);

  const std::vector<LeapEntry>& entries() const { return entries_; }
  UtcTime expires() const { return expires_; }
  bool valid_at(UtcTime t) const { return !entries_.empty() && t < expires_; }
  // TAI - UTC in force at `t` (0 before the first entry).
  int tai_minus_utc_at(UtcTime t) const;

 private:
  std::vector<LeapEntry> entries_;
  UtcTime expires_{};
};

struct LeapVotes {
  int insert = 0;
  int remove = 0;
  int total = 0;  // selected sources that voted (including "no leap")
};

struct LeapDecision {
  Leap kind = Leap::kNone;  // kNone, kInsert or kDelete
  UtcTime at{};             // the instant after the leap: 00:00:00 of the next month
  bool announce = false;    // set LI in what we serve
  bool arm = false;         // within the last day: arm the kernel / the stepper
  bool from_table = false;
  bool operator==(const LeapDecision&) const = default;
};

LeapDecision decide_leap(UtcTime now, const LeapTable* table, LeapVotes votes);

}  // namespace linetime::discipline
