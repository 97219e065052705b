// The one retrying HTTP call (fila/http/retrying_call.h) on a scripted
// client: classification, named waits, backoff, deadline, cancel, and the
// error when the attempts run out. No network; waits are a fake sleep.
#include <gtest/gtest.h>

#include "fila/http/retrying_call.h"
#include "fila/test_support/fake_task_context.h"
#include "fila/test_support/scripted_http_client.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Reply;
using test::NoAnswer;

// A call whose sleeps go to a fake task context (recorded, instant).
struct Fixture {
  test::ScriptedHttpClient http;
  test::FakeTaskContext ctx;
  RetryingCall call;
  Fixture() {
    ctx.fake_sleep = true;
    call.what = "svc";
    call.policy = {.max_attempts = 4, .base = 100ms, .cap = 1s};
    call.deadline = DeadlineIn(60s);
    call.cancelled = [this] { return ctx.Cancelled(); };
    call.sleep = [this](std::chrono::milliseconds d) { return ctx.SleepFor(d); };
  }
  HttpResponse Send() { return SendWithRetries(http, HttpRequest{.url = "http://svc.test/x"}, call, &stats); }
  CallStats stats;
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HttpRetryClassify, DefaultRule) {
  auto verdict = [](long status, std::map<std::string, std::string> headers = {}) {
    const HttpResponse r = test::MakeResponse(status, "", std::move(headers));
    return DefaultClassify({1, &r, nullptr});
  };
  EXPECT_EQ(verdict(200).kind, RetryVerdict::Kind::kDone);
  EXPECT_EQ(verdict(204).kind, RetryVerdict::Kind::kDone);
  for (long s : {408L, 425L, 429L, 500L, 502L, 503L}) EXPECT_EQ(verdict(s).kind, RetryVerdict::Kind::kRetry) << s;
  for (long s : {400L, 401L, 404L, 301L}) EXPECT_EQ(verdict(s).kind, RetryVerdict::Kind::kPermanent) << s;
  EXPECT_EQ(verdict(429, {{"retry-after", "7"}}).wait, 7s);
  EXPECT_LT(verdict(503).wait.count(), 0);
  const TransientError refused("connection refused");
  const RetryVerdict none = DefaultClassify({1, nullptr, &refused});
  EXPECT_EQ(none.kind, RetryVerdict::Kind::kRetry);
  EXPECT_EQ(none.reason, "connection refused");
}

TEST(HttpRetry, RetriesUntilDoneWithGrowingBackoff) {
  Fixture f;
  f.http.Push(NoAnswer());
  f.http.Push(Reply(503));
  f.http.Push(Reply(200, "ok"));
  EXPECT_EQ(f.Send().body, "ok");
  EXPECT_EQ(f.stats.tries, 3);
  EXPECT_EQ(f.stats.retries, 2);
  const auto sleeps = f.ctx.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  // Half jitter under core's ceiling: [50, 100] then [100, 200] ms.
  EXPECT_GE(sleeps[0], 50ms);
  EXPECT_LE(sleeps[0], 100ms);
  EXPECT_GE(sleeps[1], 100ms);
  EXPECT_LE(sleeps[1], 200ms);
}

TEST(HttpRetry, PermanentStatusIsNotRetried) {
  Fixture f;
  f.http.Push(Reply(404, "secret body"));
  try {
    f.Send();
    FAIL() << "no throw";
  } catch (const PermanentError& e) {
    EXPECT_EQ(std::string(e.what()), "svc: HTTP 404");
  }
  EXPECT_EQ(f.http.sent(), 1u);
}

TEST(HttpRetry, RetryAfterIsHonouredAndCapped) {
  Fixture f;
  f.http.Push(Reply(429, "", {{"retry-after", "3"}}));
  f.http.Push(Reply(200));
  f.Send();
  ASSERT_EQ(f.ctx.sleeps().size(), 1u);
  EXPECT_EQ(f.ctx.sleeps()[0], 3s);
  // Longer than the call waits in its slot: the task's retry waits instead.
  Fixture g;
  g.call.max_named_wait = 10s;
  g.http.Push(Reply(503, "", {{"retry-after", "120"}}));
  EXPECT_EQ(ErrorOf([&] { g.Send(); }),
            "svc: the server asks to wait 120 s (HTTP 503): more than this attempt waits");
  EXPECT_TRUE(g.ctx.sleeps().empty());
}

TEST(HttpRetry, NamedWaitsThatDoNotCountAreBoundedToo) {
  Fixture f;
  f.call.max_named_waits = 2;
  f.call.named_wait_margin = 1s;
  f.call.classify = [](const TryOutcome& o) {
    if (o.response->status == 200) return RetryVerdict::Done();
    RetryVerdict v = RetryVerdict::Retry("busy", 5s);
    v.counts = false;
    return v;
  };
  for (int i = 0; i < 3; ++i) f.http.Push(Reply(500));
  EXPECT_EQ(ErrorOf([&] { f.Send(); }), "svc: the server asked to wait 3 times: busy");
  EXPECT_EQ(f.ctx.sleeps(), (std::vector<std::chrono::milliseconds>{6s, 6s}));
  EXPECT_EQ(f.stats.named_waits, 2);
  EXPECT_EQ(f.stats.retries, 0);
}

TEST(HttpRetry, AttemptsExhaustedNameTheLastReason) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.http.Push(Reply(500));
  f.http.Push(NoAnswer("timed out"));
  try {
    f.Send();
    FAIL() << "no throw";
  } catch (const TransientError& e) {
    EXPECT_EQ(std::string(e.what()), "svc failed after 4 attempts: timed out");
  }
  EXPECT_EQ(f.http.sent(), 4u);
  EXPECT_EQ(f.ctx.sleeps().size(), 3u);
}

TEST(HttpRetry, NoWaitPastTheDeadline) {
  Fixture f;
  f.call.deadline = DeadlineIn(2s);
  f.http.Push(Reply(503, "", {{"retry-after", "5"}}));
  EXPECT_EQ(ErrorOf([&] { f.Send(); }), "svc: HTTP 503; the next try would pass the deadline");
  EXPECT_TRUE(f.ctx.sleeps().empty());
  // Each try's own deadline is within the call's.
  EXPECT_LE(f.http.requests()[0].deadline, f.call.deadline);
}

TEST(HttpRetry, CancelDuringBackoffEndsTheCall) {
  Fixture f;
  f.ctx.fake_sleep = false;  // a real, cancellable wait
  f.call.policy.base = 10s;
  f.call.policy.cap = 10s;
  f.http.Push(Reply(502));
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    f.ctx.cancel = true;
  });
  const auto start = SteadyClock::now();
  EXPECT_EQ(ErrorOf([&] { f.Send(); }), "svc: cancelled while waiting to retry (HTTP 502)");
  canceller.join();
  EXPECT_LT(SteadyClock::now() - start, 2s);
  EXPECT_EQ(f.http.sent(), 1u);
  // Cancelled before a try: nothing is sent.
  EXPECT_EQ(ErrorOf([&] { f.Send(); }), "svc: cancelled");
  EXPECT_EQ(f.http.sent(), 1u);
}

TEST(HttpRetry, ClassifierMayHandBackATransientErrorOrThrowItsOwn) {
  Fixture f;
  f.call.classify = [](const TryOutcome& o) {
    if (o.response->status == 403) return RetryVerdict::Transient("blocked by the service");
    throw PermanentError("my own", "field");
  };
  f.http.Push(Reply(403));
  EXPECT_EQ(ErrorOf([&] { f.Send(); }), "blocked by the service");
  f.http.Push(Reply(400));
  try {
    f.Send();
    FAIL();
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "field");
  }
  EXPECT_EQ(f.http.sent(), 2u);
}

}  // namespace
}  // namespace fila
