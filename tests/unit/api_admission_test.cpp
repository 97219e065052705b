// The API's admission limits and deadline timer: pure logic, compiled in
// from the API's private sources (no server).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "admission.h"
#include "deadline_timer.h"
#include "router_support.h"

namespace fila::api {
namespace {

using std::chrono::milliseconds;

int StatusOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    EXPECT_GT(e.retry_after_s, 0) << "a refusal says when to retry";
    return e.status;
  }
  return 0;
}

TEST(ApiAdmission, GlobalLimitIs503ClientShareIs429) {
  ApiLimits limits;
  limits.in_flight = 3;
  limits.in_flight_per_client = 2;
  Admission admission(limits);
  auto a = admission.EnterRequest("10.0.0.1");
  auto b = admission.EnterRequest("10.0.0.1");
  EXPECT_EQ(StatusOf([&] { admission.EnterRequest("10.0.0.1"); }), 429);
  auto c = admission.EnterRequest("10.0.0.2");
  EXPECT_EQ(StatusOf([&] { admission.EnterRequest("10.0.0.3"); }), 503);
  a.Release();
  EXPECT_EQ(StatusOf([&] { auto d = admission.EnterRequest("10.0.0.1"); }), 0);
}

TEST(ApiAdmission, TenantShareCountsUntilTheSlotIsReleased) {
  ApiLimits limits;
  limits.in_flight_per_tenant = 1;
  Admission admission(limits);
  auto a = admission.EnterRequest("c1");
  admission.CountTenant(a, "acme");
  auto b = admission.EnterRequest("c2");
  EXPECT_EQ(StatusOf([&] { admission.CountTenant(b, "acme"); }), 429);
  EXPECT_EQ(StatusOf([&] { admission.CountTenant(b, "globex"); }), 0);
  { Admission::Slot moved = std::move(a); }  // a moved slot releases once
  auto c = admission.EnterRequest("c3");
  EXPECT_EQ(StatusOf([&] { admission.CountTenant(c, "acme"); }), 0);
}

TEST(ApiAdmission, StreamsHaveTheirOwnLimitsAndZeroMeansNone) {
  ApiLimits limits;
  limits.in_flight = 0;
  limits.in_flight_per_client = 0;
  limits.streams = 0;
  limits.streams_per_tenant = 2;
  Admission admission(limits);
  std::vector<Admission::Slot> requests;
  for (int i = 0; i < 1000; ++i) requests.push_back(admission.EnterRequest("proxy"));
  auto s1 = admission.EnterStream("acme");
  auto s2 = admission.EnterStream("acme");
  EXPECT_EQ(StatusOf([&] { admission.EnterStream("acme"); }), 429);
  s1.Release();
  EXPECT_EQ(StatusOf([&] { auto s3 = admission.EnterStream("acme"); }), 0);
}

TEST(ApiDeadlineTimer, RunsDueCallbacksInOrderAndNeverCancelledOnes) {
  DeadlineTimer timer;
  std::atomic<int> order{0};
  std::atomic<int> first{-1};
  std::atomic<int> second{-1};
  std::atomic<bool> cancelled_ran{false};
  const auto now = SteadyClock::now();
  timer.Add(now + milliseconds(60), [&] { second = order++; });
  timer.Add(now + milliseconds(20), [&] { first = order++; });
  auto id = timer.Add(now + milliseconds(40), [&] { cancelled_ran = true; });
  timer.Add(now + milliseconds(10), [] { throw std::runtime_error("logged, not fatal"); });
  timer.Cancel(id);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(first.load(), 0);
  EXPECT_EQ(second.load(), 1);
  EXPECT_FALSE(cancelled_ran.load());
  timer.Stop();
  bool late_ran = false;
  timer.Add(SteadyClock::now(), [&] { late_ran = true; });
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(late_ran) << "nothing runs after Stop";
}

// Add wakes the thread only for a deadline earlier than the one it sleeps
// until; a cancelled far deadline must not keep a near one waiting.
TEST(ApiDeadlineTimer, ANearDeadlineRunsWhileTheThreadSleepsForACancelledFarOne) {
  DeadlineTimer timer;
  std::atomic<bool> near_ran{false};
  std::atomic<bool> later_ran{false};
  auto far = timer.Add(SteadyClock::now() + std::chrono::seconds(30), [] {});
  std::this_thread::sleep_for(milliseconds(20));  // the thread now sleeps until it
  timer.Cancel(far);
  timer.Add(SteadyClock::now() + milliseconds(20), [&] { near_ran = true; });
  timer.Add(SteadyClock::now() + milliseconds(60), [&] { later_ran = true; });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(near_ran.load());
  EXPECT_TRUE(later_ran.load());
}

}  // namespace
}  // namespace fila::api
