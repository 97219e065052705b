// fila top's formatting, rates and frame layout (cli/src/top_view.cpp).
#include "top_view.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fila::cli {
namespace {

constexpr char kTaskId[] = "3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

MonitorSnapshot Sample() {
  MonitorSnapshot s;
  s.taken_at_ms = 1'700'000'000'000;
  WorkerView live;
  live.id = "worker-with-a-rather-long-identifier-0123456789";
  live.hostname = "host-a.example.internal";
  live.pid = 42;
  live.queues = {"default", "bulk", "a-queue-with-a-long-name"};
  live.concurrency = 8;
  live.started_at_ms = s.taken_at_ms - 60'000;
  live.heartbeat_age_seconds = 0.8;
  live.succeeded = 1'234'567;
  live.failed = 12;
  live.finished_by_queue = {{"default", 1'000'000}, {"bulk", 234'579}};
  live.running.push_back({kTaskId, "document.ingest.with.a.long.type.name", "default", 2, 184.5, 45,
                          "page 12 of 27\x1b[2J\ttabbed"});
  live.running.push_back({"7d1c0f00-0000-4000-8000-000000000001", "sleep", "bulk", 1, 0.4, 0, ""});
  s.workers.push_back(live);
  WorkerView stale;
  stale.id = "worker-b";
  stale.hostname = "host-b";
  stale.queues = {"default"};
  stale.concurrency = 4;
  stale.heartbeat_age_seconds = 42;
  stale.stale = true;
  s.workers.push_back(stale);
  WorkerView gone;
  gone.id = "worker-c";
  gone.deregistered = true;
  gone.stale = true;
  gone.running.push_back(
      {"9a9a9a9a-0000-4000-8000-000000000002", "noop", "default", 1, 7500, 0, ""});
  s.workers.push_back(gone);
  s.queues.push_back({"default", 0, 1500, 3, 2, 65});
  s.outbox_rows = 3;
  s.outbox_lag_seconds = 1.5;
  return s;
}

TopFrame FrameOf(const MonitorSnapshot& s, const RateTracker* rates = nullptr) {
  return TopFrame{.snapshot = &s,
                  .rates = rates,
                  .source = "database postgresql://fila@db/fila",
                  .clock = "12:04:05"};
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(TopFormat, DurationsHaveUnitsForTheirScale) {
  EXPECT_EQ(FormatDuration(0), "0.0s");
  EXPECT_EQ(FormatDuration(1.25), "1.2s");
  EXPECT_EQ(FormatDuration(59.99), "59.9s");
  EXPECT_EQ(FormatDuration(184), "3m04s");
  EXPECT_EQ(FormatDuration(3599.9), "59m59s");
  EXPECT_EQ(FormatDuration(7500), "2h05m");
  EXPECT_EQ(FormatDuration(100 * 3600 + 5), "4d04h");
  EXPECT_EQ(FormatDuration(-3), "0.0s");
  EXPECT_EQ(FormatDuration(std::nan("")), "0.0s");
}

TEST(TopFormat, CountsStayShort) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999'999), "999999");
  EXPECT_EQ(FormatCount(1'234'567), "1.2M");
  EXPECT_EQ(FormatCount(123'456'789), "123M");
  EXPECT_EQ(FormatCount(1'500'000'000), "1.5G");
}

TEST(TopFormat, RatesPerSecond) {
  EXPECT_EQ(FormatRate(std::nullopt), "-");
  EXPECT_EQ(FormatRate(0.42), "0.4/s");
  EXPECT_EQ(FormatRate(12.4), "12/s");
  EXPECT_EQ(FormatRate(1234), "1.2k/s");
  EXPECT_EQ(FormatRate(-1), "0.0/s");
}

TEST(TopText, SanitizeDefusesControlCharacters) {
  EXPECT_EQ(Sanitize("a\x1b[2Jb", true), "a?[2Jb");
  EXPECT_EQ(Sanitize("line\nbreak\ttab", true), "line?break tab");
  EXPECT_EQ(Sanitize("bad \xff byte", true), "bad ? byte");
  EXPECT_EQ(Sanitize("csi \xc2\x9b", true), "csi ?");  // U+009B, a C1 control
  EXPECT_EQ(Sanitize("caf\xc3\xa9", true), "caf\xc3\xa9");
  EXPECT_EQ(Sanitize("caf\xc3\xa9", false), "caf?");
}

TEST(TopText, FitPadsOrCutsWithAnEllipsis) {
  EXPECT_EQ(Fit("abc", 5, false, true), "abc  ");
  EXPECT_EQ(Fit("abc", 5, true, true), "  abc");
  EXPECT_EQ(Fit("abcdef", 4, false, true), "abc\u2026");
  EXPECT_EQ(Fit("abcdef", 4, false, false), "abc~");
  EXPECT_EQ(Fit("abcdef", 0, false, true), "");
  EXPECT_EQ(DisplayWidth("caf\xc3\xa9\u2026"), 5u);
  EXPECT_EQ(DisplayWidth(Fit("caf\xc3\xa9s et th\xc3\xa9s", 6, false, true)), 6u);
}

TEST(TopRender, NoLineIsWiderThanTheTerminal) {
  const MonitorSnapshot s = Sample();
  for (bool unicode : {true, false}) {
    for (size_t width : {1u, 20u, 40u, 59u, 60u, 79u, 80u, 99u, 100u, 132u, 160u, 300u}) {
      auto frame = FrameOf(s);
      frame.error = "cannot reach the database: a very long message that goes on and on and on";
      frame.data_clock = "12:04:01";
      for (const auto& line : RenderTop(frame, {width, unicode})) {
        EXPECT_LE(DisplayWidth(line), width) << "width " << width << ": " << line;
        EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
      }
    }
  }
}

TEST(TopRender, EightyColumnsShowTheFirstEightCharactersOfTaskIds) {
  const MonitorSnapshot s = Sample();
  const std::string text = Joined(RenderTop(FrameOf(s), {80, true}));
  EXPECT_NE(text.find("3f2a9c1e\u2026"), std::string::npos) << text;
  EXPECT_EQ(text.find(kTaskId), std::string::npos) << text;
  EXPECT_NE(text.find(" 45% page 12 of 27?[2J tabbed"), std::string::npos) << text;
  EXPECT_NE(text.find("3m04s"), std::string::npos) << text;
  EXPECT_NE(text.find("document.inges\u2026"), std::string::npos) << text;  // cut type
  EXPECT_NE(text.find("2/8"), std::string::npos) << text;                   // busy/total slots
  EXPECT_NE(text.find("1.2M"), std::string::npos) << text;                  // done
  EXPECT_NE(text.find("stale 42.0s"), std::string::npos) << text;
  EXPECT_NE(text.find("gone"), std::string::npos) << text;
  EXPECT_NE(text.find("2h05m"), std::string::npos) << text;  // the orphaned task's elapsed time
  EXPECT_NE(text.find("1 worker, 1 stale   slots 2/8 busy   outbox 3 (lag 1.5s)"),
            std::string::npos)
      << text;
}

TEST(TopRender, WideTerminalsShowWholeTaskIds) {
  const MonitorSnapshot s = Sample();
  const std::string text = Joined(RenderTop(FrameOf(s), {160, true}));
  EXPECT_NE(text.find(kTaskId), std::string::npos) << text;
  EXPECT_NE(text.find("worker-with-a-rather-long-identifier-0123456789"), std::string::npos)
      << text;
}

TEST(TopRender, QueuesShowDepthAgeAndRate) {
  const MonitorSnapshot s = Sample();
  const std::string text = Joined(RenderTop(FrameOf(s), {80, true}));
  // default: 1500 queued, 3 scheduled, 2 running, oldest 65 s; rate unknown yet.
  EXPECT_NE(text.find("  1500      3     2   1m05s        -"), std::string::npos) << text;
  // A queue known only from a worker's list: nothing queued, no age.
  EXPECT_NE(text.find("bulk"), std::string::npos) << text;
  EXPECT_NE(text.find("a-queue-with-a-long-name"), std::string::npos) << text;
}

TEST(TopRender, ErrorsShowOnTheStatusLineAboveTheLastData) {
  const MonitorSnapshot s = Sample();
  auto frame = FrameOf(s);
  frame.error = "cannot connect to PostgreSQL";
  frame.data_clock = "12:04:01";
  auto lines = RenderTop(frame, {160, true});
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1],
            "error: cannot connect to PostgreSQL (retrying every 1.0s; data below from 12:04:01)");
  EXPECT_NE(Joined(lines).find(kTaskId), std::string::npos);

  TopFrame empty{.source = "API http://127.0.0.1:8080", .clock = "12:04:05", .interactive = true};
  lines = RenderTop(empty, {80, true});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("q quits  12:04:05"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "connecting");
}

TEST(TopRender, FitHeightSaysWhatWasCut) {
  std::vector<std::string> lines(10, "line");
  auto fitted = FitHeight(lines, 5, 80, true);
  ASSERT_EQ(fitted.size(), 5u);
  EXPECT_EQ(fitted[4], "\u2026 6 more line(s): enlarge the window");
  EXPECT_EQ(FitHeight(lines, 10, 80, true).size(), 10u);
  EXPECT_TRUE(FitHeight(lines, 0, 80, true).empty());
}

MonitorSnapshot Finished(int64_t at_ms,
                         std::vector<std::tuple<std::string, int64_t, uint64_t>> workers) {
  MonitorSnapshot s;
  s.taken_at_ms = at_ms;
  for (auto& [id, started, n] : workers) {
    WorkerView w;
    w.id = id;
    w.pid = 1;
    w.started_at_ms = started;
    w.finished_by_queue["q"] = n;
    s.workers.push_back(w);
  }
  return s;
}

TEST(TopRates, DeltaOfTheWorkersCountersOverTime) {
  RateTracker rates;
  rates.Add(Finished(10'000, {{"a", 0, 100}, {"b", 0, 50}}));
  EXPECT_FALSE(rates.Rate("q"));  // one snapshot: no rate yet
  rates.Add(Finished(12'000, {{"a", 0, 120}, {"b", 0, 70}}));
  EXPECT_DOUBLE_EQ(*rates.Rate("q"), 20.0);
  EXPECT_DOUBLE_EQ(*rates.Rate("other"), 0.0);
}

TEST(TopRates, AVanishingOrRestartedWorkerNeverCountsBackwards) {
  RateTracker rates;
  rates.Add(Finished(10'000, {{"a", 0, 100}, {"b", 0, 500}}));
  rates.Add(Finished(11'000, {{"a", 0, 110}}));  // b exited
  EXPECT_DOUBLE_EQ(*rates.Rate("q"), 10.0);
  // a restarted under the same id: its counter starts again from 0.
  auto restarted = Finished(12'000, {{"a", 0, 5}});
  restarted.workers[0].pid = 2;
  rates.Add(restarted);
  EXPECT_DOUBLE_EQ(*rates.Rate("q"), 5.0);  // 10 finishes in 2 s
}

TEST(TopRates, AWorkerStartedSinceTheLastSnapshotCountsWhole) {
  RateTracker rates;
  rates.Add(Finished(10'000, {{"a", 0, 100}}));
  rates.Add(Finished(11'000, {{"a", 0, 100}, {"c", 10'500, 30}}));
  EXPECT_DOUBLE_EQ(*rates.Rate("q"), 30.0);
}

TEST(TopRates, AveragedOverTheWindow) {
  RateTracker rates(10);
  for (int64_t s = 0; s <= 30; ++s) {
    // 100/s for 20 s, then nothing.
    rates.Add(
        Finished(s * 1000, {{"a", -1, static_cast<uint64_t>(std::min<int64_t>(s, 20) * 100)}}));
  }
  EXPECT_DOUBLE_EQ(*rates.Rate("q"), 0.0);
  RateTracker steady(10);
  for (int64_t s = 0; s <= 30; ++s) {
    // Heartbeats every 2 s: the counter moves in steps, the rate stays.
    steady.Add(Finished(s * 1000, {{"a", -1, static_cast<uint64_t>(s / 2 * 200)}}));
  }
  EXPECT_NEAR(*steady.Rate("q"), 100.0, 10.0);
}

}  // namespace
}  // namespace fila::cli
