#include "fila/core/cron.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <map>
#include <sstream>
#include <vector>

#include "fila/core/errors.h"

namespace fila {
namespace {

[[noreturn]] void Bad(const std::string& expression, const std::string& why) {
  throw PermanentError("cron expression '" + expression.substr(0, 100) + "': " + why, "cron");
}

int ParseNumber(const std::string& text, const std::map<std::string, int>& names,
                const std::string& expression) {
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (auto it = names.find(upper); it != names.end()) return it->second;
  if (text.empty() || text.size() > 4 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    Bad(expression, "'" + text + "' is not a number or a name");
  }
  return std::stoi(text);
}

// One field into the set of values it allows, each in [lo, hi].
template <size_t N>
std::bitset<N> ParseField(const std::string& field, int lo, int hi, const char* what,
                          const std::map<std::string, int>& names, const std::string& expression) {
  std::bitset<N> set;
  std::stringstream parts(field);
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part.empty()) Bad(expression, std::string("empty list item in ") + what);
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      step = ParseNumber(part.substr(slash + 1), {}, expression);
      if (step < 1) Bad(expression, std::string("step 0 in ") + what);
      part = part.substr(0, slash);
    }
    int first = lo;
    int last = hi;
    if (part != "*" && part != "?") {
      if (auto dash = part.find('-'); dash != std::string::npos) {
        first = ParseNumber(part.substr(0, dash), names, expression);
        last = ParseNumber(part.substr(dash + 1), names, expression);
      } else {
        first = ParseNumber(part, names, expression);
        // "5/15" means from 5 to the end, every 15.
        last = field.find('/') != std::string::npos ? hi : first;
      }
    }
    if (first < lo || last > hi || first > last) {
      Bad(expression, std::string(what) + " " + part + " is outside " + std::to_string(lo) + "-" +
                          std::to_string(hi));
    }
    for (int v = first; v <= last; v += step) set.set(static_cast<size_t>(v));
  }
  return set;
}

const std::map<std::string, int> kMonthNames{{"JAN", 1}, {"FEB", 2},  {"MAR", 3},  {"APR", 4},
                                             {"MAY", 5}, {"JUN", 6},  {"JUL", 7},  {"AUG", 8},
                                             {"SEP", 9}, {"OCT", 10}, {"NOV", 11}, {"DEC", 12}};
const std::map<std::string, int> kDayNames{{"SUN", 0}, {"MON", 1}, {"TUE", 2}, {"WED", 3},
                                           {"THU", 4}, {"FRI", 5}, {"SAT", 6}};

int Weekday(const cctz::civil_day& d) {
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::sunday: return 0;
    case cctz::weekday::monday: return 1;
    case cctz::weekday::tuesday: return 2;
    case cctz::weekday::wednesday: return 3;
    case cctz::weekday::thursday: return 4;
    case cctz::weekday::friday: return 5;
    case cctz::weekday::saturday: return 6;
  }
  return 0;
}

}  // namespace

CronSchedule CronSchedule::Parse(const std::string& expression, const std::string& timezone) {
  static const std::map<std::string, std::string> kMacros{
      {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  CronSchedule s;
  s.expression_ = expression;
  s.timezone_ = timezone.empty() ? "UTC" : timezone;
  cctz::time_zone tz;
  if (!cctz::load_time_zone(s.timezone_, &tz)) {
    throw PermanentError("unknown time zone '" + s.timezone_.substr(0, 64) +
                             "' (an IANA name such as America/Sao_Paulo)",
                         "timezone");
  }
  std::string text = expression;
  if (auto it = kMacros.find(text); it != kMacros.end()) text = it->second;
  std::vector<std::string> fields;
  std::stringstream in(text);
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() == 5) fields.insert(fields.begin(), "0");
  if (fields.size() != 6) Bad(expression, "needs 5 fields (or 6 with seconds first)");
  s.seconds_ = ParseField<60>(fields[0], 0, 59, "second", {}, expression);
  s.minutes_ = ParseField<60>(fields[1], 0, 59, "minute", {}, expression);
  s.hours_ = ParseField<24>(fields[2], 0, 23, "hour", {}, expression);
  s.days_ = ParseField<32>(fields[3], 1, 31, "day of month", {}, expression);
  s.months_ = ParseField<13>(fields[4], 1, 12, "month", kMonthNames, expression);
  auto weekdays = ParseField<8>(fields[5], 0, 7, "day of week", kDayNames, expression);
  for (size_t d = 0; d < 7; ++d) s.weekdays_[d] = weekdays[d];
  if (weekdays[7]) s.weekdays_.set(0);
  s.days_restricted_ = fields[3] != "*" && fields[3] != "?";
  s.weekdays_restricted_ = fields[5] != "*" && fields[5] != "?";
  return s;
}

int64_t CronSchedule::NextAfter(int64_t after_ms) const {
  cctz::time_zone tz;
  (void)cctz::load_time_zone(timezone_, &tz);  // checked by Parse; cached by cctz
  using Clock = std::chrono::system_clock;
  const Clock::time_point after{std::chrono::milliseconds(after_ms)};
  // Start at the local second after `after`, then skip whole months, days,
  // hours and minutes that cannot match.
  cctz::civil_second t = cctz::convert(std::chrono::time_point_cast<std::chrono::seconds>(after), tz) + 1;
  const cctz::civil_year limit = cctz::civil_year(t) + 8;
  while (cctz::civil_year(t) < limit) {
    if (!months_[static_cast<size_t>(t.month())]) {
      t = cctz::civil_second(cctz::civil_month(t) + 1);
      continue;
    }
    const cctz::civil_day day(t);
    const bool dom = days_[static_cast<size_t>(t.day())];
    const bool dow = weekdays_[static_cast<size_t>(Weekday(day))];
    const bool day_ok = (days_restricted_ && weekdays_restricted_) ? (dom || dow) : (dom && dow);
    if (!day_ok) {
      t = cctz::civil_second(day + 1);
      continue;
    }
    if (!hours_[static_cast<size_t>(t.hour())]) {
      t = cctz::civil_second(cctz::civil_hour(t) + 1);
      continue;
    }
    if (!minutes_[static_cast<size_t>(t.minute())]) {
      t = cctz::civil_second(cctz::civil_minute(t) + 1);
      continue;
    }
    if (!seconds_[static_cast<size_t>(t.second())]) {
      t += 1;
      continue;
    }
    const cctz::time_zone::civil_lookup lookup = tz.lookup(t);
    // Skipped by a DST change: fire at the change. Repeated: the first.
    const auto when = lookup.kind == cctz::time_zone::civil_lookup::SKIPPED ? lookup.trans
                                                                            : lookup.pre;
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    if (ms > after_ms) return ms;
    t += 1;
  }
  return -1;
}

}  // namespace fila
