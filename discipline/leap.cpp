#include "discipline/leap.h"

#include <charconv>
#include <limits>

#include "hwclock/ntp_time.h"

namespace linetime::discipline {

// Howard Hinnant's days_from_civil / civil_from_days (public domain
// algorithms), written out for int64 days.
CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<int>(y + (m <= 2)), static_cast<int>(m), static_cast<int>(d)};
}

std::int64_t days_from_civil(CivilDate c) {
  const std::int64_t y = c.year - (c.month <= 2);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = c.month > 2 ? c.month - 3 : c.month + 9;
  const std::int64_t doy = (153 * mp + 2) / 5 + c.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

UtcTime start_of_next_month(UtcTime t) {
  const std::int64_t ns = t.ticks();
  const std::int64_t day_ns = std::int64_t{86400} * hwclock::kNsPerSec;
  const std::int64_t days = ns >= 0 ? ns / day_ns : (ns - day_ns + 1) / day_ns;
  CivilDate c = civil_from_days(days);
  c.day = 1;
  if (++c.month > 12) {
    c.month = 1;
    ++c.year;
  }
  return UtcTime(days_from_civil(c) * day_ns);
}

const char* to_string(LeapFileError e) {
  switch (e) {
    case LeapFileError::kNone: return "no error";
    case LeapFileError::kBadLine: return "a data line is not '<NTP seconds> <TAI-UTC>'";
    case LeapFileError::kNotIncreasing: return "entries are not in increasing time order";
    case LeapFileError::kEmpty: return "no entries";
  }
  return "?";
}

namespace {
UtcTime utc_from_ntp_seconds(std::int64_t s) {
  return UtcTime((s - hwclock::kNtpUnixEpochOffsetS) * hwclock::kNsPerSec);
}

bool parse_int(std::string_view& text, std::int64_t& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
  return true;
}
}  // namespace

Expected<LeapTable, LeapFileError> LeapTable::parse(std::string_view text) {
  std::vector<LeapEntry> entries;
  UtcTime expires{std::numeric_limits<std::int64_t>::max()};
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.starts_with("#@")) {
      line.remove_prefix(2);
      std::int64_t s = 0;
      if (!parse_int(line, s)) return unexpected(LeapFileError::kBadLine);
      expires = utc_from_ntp_seconds(s);
      continue;
    }
    const std::size_t hash = line.find('#');
    std::string_view data = line.substr(0, hash);
    while (!data.empty() && (data.back() == ' ' || data.back() == '\t' || data.back() == '\r')) data.remove_suffix(1);
    while (!data.empty() && (data.front() == ' ' || data.front() == '\t')) data.remove_prefix(1);
    if (data.empty()) continue;
    std::int64_t ntp_s = 0, tai = 0;
    if (!parse_int(data, ntp_s) || !parse_int(data, tai)) return unexpected(LeapFileError::kBadLine);
    const UtcTime at = utc_from_ntp_seconds(ntp_s);
    if (!entries.empty() && at <= entries.back().at) return unexpected(LeapFileError::kNotIncreasing);
    entries.push_back(LeapEntry{at, static_cast<int>(tai)});
  }
  if (entries.empty()) return unexpected(LeapFileError::kEmpty);
  return LeapTable(std::move(entries), expires);
}

int LeapTable::tai_minus_utc_at(UtcTime t) const {
  int v = 0;
  for (const LeapEntry& e : entries_) {
    if (e.at > t) break;
    v = e.tai_minus_utc_s;
  }
  return v;
}

LeapDecision decide_leap(UtcTime now, const LeapTable* table, LeapVotes votes) {
  LeapDecision d;
  const UtcTime month_end = start_of_next_month(now);
  if (table != nullptr && table->valid_at(now)) {
    d.from_table = true;
    for (const LeapEntry& e : table->entries()) {
      if (e.at <= now) continue;
      if (e.at == month_end) {
        const int before = table->tai_minus_utc_at(now);
        if (e.tai_minus_utc_s != before) d.kind = e.tai_minus_utc_s > before ? Leap::kInsert : Leap::kDelete;
      }
      break;
    }
  } else if (votes.total > 0) {
    if (2 * votes.insert > votes.total) d.kind = Leap::kInsert;
    else if (2 * votes.remove > votes.total) d.kind = Leap::kDelete;
  }
  if (d.kind == Leap::kNone) return LeapDecision{};
  d.at = month_end;
  d.announce = true;
  d.arm = (month_end - now) <= Duration::from_s(86400);
  return d;
}

}  // namespace linetime::discipline
