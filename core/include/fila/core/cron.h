#pragma once

#include <bitset>
#include <cstdint>
#include <string>

namespace fila {

// A cron expression evaluated in an IANA time zone.
//
// Five fields (minute hour day-of-month month day-of-week) as in crontab(5),
// or six with a leading seconds field; lists, ranges, steps (`*/15`,
// `1-5/2`), month and day names (JAN, MON-FRI), 7 as Sunday, and the macros
// @yearly @monthly @weekly @daily @hourly. When both day-of-month and
// day-of-week are restricted, a day matching either fires (Vixie cron).
// Local times skipped by a DST change fire at the change; repeated local
// times fire once (the first). Immutable; thread-safe.
class CronSchedule final {
 public:
  // Throws PermanentError naming the field ("cron" or "timezone").
  static CronSchedule Parse(const std::string& expression, const std::string& timezone);

  // The first slot strictly after `after_ms` (Unix ms), or -1 when none
  // within the next eight years (e.g. 30 February).
  int64_t NextAfter(int64_t after_ms) const;

  const std::string& Expression() const { return expression_; }
  const std::string& Timezone() const { return timezone_; }

 private:
  CronSchedule() = default;
  std::string expression_;
  std::string timezone_;
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace fila
