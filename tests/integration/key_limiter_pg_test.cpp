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

  // A live holder's lease is renewed: held three leases long, its permit
  // is never taken by another.
  auto renewing = MakePostgresKeyLimiter(db.url(), 2, 600ms);
  Permit long_call = renewing->Acquire("long", one, DeadlineIn(5s), nullptr);
  EXPECT_THROW(a->Acquire("long", one, DeadlineIn(1800ms), nullptr), TransientError)
      << "a permit whose holder lives expired at its lease";
  long_call.Release();
  Permit after = a->Acquire("long", one, DeadlineIn(1s), nullptr);
}

// A pause one worker asks for (the host answered 429) holds the other
// worker back too, under a rate and under a gap (a diário host's limit);
// without a pause the next start comes one gap later.
TEST(PostgresKeyLimiter, DeferPausesTheKeyForEveryInstance) {
  TestDatabase db;
  auto a = MakePostgresKeyLimiter(db.url());
  auto b = MakePostgresKeyLimiter(db.url());
  for (const LimitSpec& limit : {LimitSpec{.max_concurrent = 2, .rate = 1, .period = 50ms},
                                 LimitSpec{.max_concurrent = 2, .min_gap = 50ms}}) {
    const std::string key = "diario-host:x" + std::to_string(limit.rate);
    { Permit first = a->Acquire(key, limit, DeadlineIn(5s), nullptr); }
    a->Defer(key, 800ms);
    const auto start = SteadyClock::now();
    { Permit second = b->Acquire(key, limit, DeadlineIn(5s), nullptr); }
    EXPECT_GE(SteadyClock::now() - start, 700ms) << "the other instance did not wait for the pause";
    const auto again = SteadyClock::now();
    { Permit third = b->Acquire(key, limit, DeadlineIn(5s), nullptr); }
    EXPECT_LT(SteadyClock::now() - again, 500ms) << "a pause must not outlive itself";
  }
  a->Defer("diario-host:unknown-yet", 10ms);  // a key never used: created, no throw
}

// The gap counts from the send. Worker A is admitted and takes 300 ms to
// send (a slow connect, a busy CPU); worker B is admitted one gap after
// A's send, not one gap after A's admission, which would put the two
// requests 100 ms closer than the gap at the host.
TEST(PostgresKeyLimiter, TheGapCountsFromTheSendNotFromTheAdmission) {
  TestDatabase db;
  auto a = MakePostgresKeyLimiter(db.url());
  auto b = MakePostgresKeyLimiter(db.url());
  const LimitSpec limit{.max_concurrent = 3, .min_gap = 200ms};
  Permit first = a->Acquire("host", limit, DeadlineIn(5s), nullptr);
  std::atomic<int64_t> admitted_after_ms{-1};
  const auto t0 = SteadyClock::now();
  std::thread other([&] {
    Permit second = b->Acquire("host", limit, DeadlineIn(5s), nullptr);
    admitted_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  });
  std::this_thread::sleep_for(300ms);
  const auto sent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  first.Sent();
  other.join();
  first.Release();
  EXPECT_GE(admitted_after_ms.load(), sent_ms + 199) << "admitted " << admitted_after_ms << " ms, A sent at "
                                                     << sent_ms << " ms";

  // A holder that lets go without sending (its connect failed) frees the
  // key's turn at once; one that died holding it keeps it only kSendHold.
  { Permit unsent = a->Acquire("quiet", limit, DeadlineIn(5s), nullptr); }
  Permit next = b->Acquire("quiet", limit, DeadlineIn(150ms), nullptr);
  next.Sent();
  next.Release();
  { Permit dead = a->Acquire("dead", limit, DeadlineIn(5s), nullptr); }
  db.Exec("UPDATE limit_keys SET sender = gen_random_uuid(), sender_until = now() + interval '400 ms'"
          " WHERE key = 'dead'");  // as if its process died before sending
  EXPECT_THROW(b->Acquire("dead", limit, DeadlineIn(150ms), nullptr), TransientError);
  Permit after_hold = b->Acquire("dead", limit, DeadlineIn(5s), nullptr);
  EXPECT_EQ(db.Count("SELECT count(*) FROM key_permits WHERE key <> 'dead'"), 0);
}

}  // namespace
}  // namespace fila::test
