// The PostgreSQL KeyLimiter: two instances (two workers) share one limit.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fila/core/errors.h"
#include "fila/store_postgres/postgres_key_limiter.h"
#include "support/harness.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

TEST(PostgresKeyLimiter, TwoProcessesShareOneConcurrencyLimit) {
  TestDatabase db;
  auto a = MakePostgresKeyLimiter(db.url());
  auto b = MakePostgresKeyLimiter(db.url());
  const LimitSpec limit{.max_concurrent = 3};
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 12; ++i) {
    KeyLimiter& limiter = i % 2 == 0 ? *a : *b;
    threads.emplace_back([&] {
      Permit p = limiter.Acquire("omie:acct", limit, DeadlineIn(20s), nullptr);
      int now = ++running;
      peak = std::max(peak.load(), now);
      std::this_thread::sleep_for(100ms);
      --running;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(peak.load(), 3);
  EXPECT_EQ(db.Count("SELECT count(*) FROM key_permits"), 0) << "a permit was not released";
}

TEST(PostgresKeyLimiter, RateIsSharedAndAbandonedPermitsExpire) {
  TestDatabase db;
  auto a = MakePostgresKeyLimiter(db.url());
  auto b = MakePostgresKeyLimiter(db.url());
  const LimitSpec rate{.rate = 4, .period = 1000ms};  // burst 4, then every 250 ms
  const auto start = SteadyClock::now();
  for (int i = 0; i < 8; ++i) (i % 2 ? *a : *b).Acquire("host", rate, DeadlineIn(10s), nullptr);
  EXPECT_GE(SteadyClock::now() - start, 900ms);

  // A permit whose holder died (never released) frees itself at its lease.
  // Long enough that the refusal below happens well before it ends, even
  // on a loaded machine.
  auto short_lease = MakePostgresKeyLimiter(db.url(), 2, 1500ms);
  const LimitSpec one{.max_concurrent = 1};
  Permit leaked = short_lease->Acquire("k", one, DeadlineIn(5s), nullptr);
  db.Exec("UPDATE key_permits SET holder = gen_random_uuid()");  // as if its process died
  EXPECT_THROW(a->Acquire("k", one, DeadlineIn(100ms), nullptr), TransientError);
  Permit next = a->Acquire("k", one, DeadlineIn(5s), nullptr);
}

}  // namespace
}  // namespace fila::test
