#include "fila/core/cron.h"

#include <gtest/gtest.h>

#include "fila/core/errors.h"
#include "fila/core/time_text.h"

namespace fila {
namespace {

int64_t At(const std::string& rfc3339) { return ParseTimestamp(rfc3339); }
std::string Next(const CronSchedule& c, const std::string& after) {
  return FormatTimestamp(c.NextAfter(At(after)));
}

TEST(Cron, WeekdayMorningsInSaoPaulo) {
  auto c = CronSchedule::Parse("0 6 * * 1-5", "America/Sao_Paulo");
  // Friday 2026-12-04 07:00 local (-03:00) -> Monday 06:00 local = 09:00Z.
  EXPECT_EQ(Next(c, "2026-12-04T07:00:00-03:00"), "2026-12-07T09:00:00.000Z");
  // Just before the slot, and exactly at it (strictly after).
  EXPECT_EQ(Next(c, "2026-12-01T05:59:59-03:00"), "2026-12-01T09:00:00.000Z");
  EXPECT_EQ(Next(c, "2026-12-01T06:00:00-03:00"), "2026-12-02T09:00:00.000Z");
}

TEST(Cron, StepsListsNamesAndSeconds) {
  auto every15 = CronSchedule::Parse("*/15 * * * *", "UTC");
  EXPECT_EQ(Next(every15, "2026-01-01T10:07:00Z"), "2026-01-01T10:15:00.000Z");
  auto names = CronSchedule::Parse("30 9 * JAN,JUL MON", "UTC");
  EXPECT_EQ(Next(names, "2026-02-01T00:00:00Z"), "2026-07-06T09:30:00.000Z");
  auto seconds = CronSchedule::Parse("*/10 * * * * *", "UTC");
  EXPECT_EQ(Next(seconds, "2026-01-01T00:00:05Z"), "2026-01-01T00:00:10.000Z");
  auto sunday7 = CronSchedule::Parse("0 0 * * 7", "UTC");
  EXPECT_EQ(Next(sunday7, "2026-12-01T00:00:00Z"), "2026-12-06T00:00:00.000Z");
  auto daily = CronSchedule::Parse("@daily", "UTC");
  EXPECT_EQ(Next(daily, "2026-12-01T12:00:00Z"), "2026-12-02T00:00:00.000Z");
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday (Vixie cron).
  auto c = CronSchedule::Parse("0 0 13 * FRI", "UTC");
  EXPECT_EQ(Next(c, "2026-12-01T00:00:00Z"), "2026-12-04T00:00:00.000Z");  // Friday 4th
  EXPECT_EQ(Next(c, "2026-12-11T00:00:00Z"), "2026-12-13T00:00:00.000Z");  // Sunday 13th
}

TEST(Cron, DaylightSavingGapsFireOnceAtTheChange) {
  // New York, 2026-03-08: 02:00-03:00 does not exist.
  auto c = CronSchedule::Parse("30 2 * * *", "America/New_York");
  EXPECT_EQ(Next(c, "2026-03-08T00:00:00-05:00"), "2026-03-08T07:00:00.000Z");  // 03:00 EDT
  // 2026-11-01: 01:30 happens twice; it fires once, at the first.
  auto twice = CronSchedule::Parse("30 1 * * *", "America/New_York");
  EXPECT_EQ(Next(twice, "2026-11-01T00:00:00-04:00"), "2026-11-01T05:30:00.000Z");
  EXPECT_EQ(Next(twice, "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00.000Z");
}

TEST(Cron, ImpossibleDatesNeverFire) {
  auto c = CronSchedule::Parse("0 0 30 2 *", "UTC");
  EXPECT_EQ(c.NextAfter(At("2026-01-01T00:00:00Z")), -1);
  auto leap = CronSchedule::Parse("0 0 29 2 *", "UTC");
  EXPECT_EQ(Next(leap, "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
}

TEST(Cron, BadExpressionsNameTheField) {
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                          "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *"}) {
    try {
      CronSchedule::Parse(bad, "UTC");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const PermanentError& e) {
      EXPECT_EQ(e.field(), "cron") << bad;
    }
  }
  try {
    CronSchedule::Parse("* * * * *", "Mars/Olympus_Mons");
    ADD_FAILURE() << "accepted an unknown zone";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "timezone");
  }
}

TEST(TimeText, DurationsAndTimestamps) {
  EXPECT_EQ(ParseDuration("250ms"), 250);
  EXPECT_EQ(ParseDuration("30s"), 30000);
  EXPECT_EQ(ParseDuration("1h30m"), 5400000);
  EXPECT_EQ(ParseDuration("2d"), 172800000);
  for (const char* bad : {"", "30", "s", "-5s", "5 s", "1y", "99999999999999999999d"}) {
    EXPECT_THROW(ParseDuration(bad), PermanentError) << bad;
  }
  EXPECT_EQ(ParseTimestamp("2026-12-01T06:00:00-03:00"), ParseTimestamp("2026-12-01T09:00:00Z"));
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:01.250Z"), 1250);
  for (const char* bad : {"2026-12-01T06:00:00", "2026-12-01", "tomorrow", "2026-13-01T00:00:00Z"}) {
    EXPECT_THROW(ParseTimestamp(bad), PermanentError) << bad;
  }
  EXPECT_EQ(FormatTimestamp(1250), "1970-01-01T00:00:01.250Z");
}

}  // namespace
}  // namespace fila
