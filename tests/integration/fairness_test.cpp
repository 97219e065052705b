// Fair dispatch with real daemons (docs/fairness.md): a quiet tenant is not
// stuck behind a flood, weights split the workers, aging lets a priority-0
// task through a continuous priority-9 load, and per-key limits hold under
// the window. Each property is also shown failing without the mechanism,
// so the tests can fail.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <thread>

#include "workflow_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
// Tasks of `tenant` that started (running or finished).
std::string Started(const std::string& tenant) {
  return "SELECT count(*) FROM tasks WHERE tenant = '" + tenant + "' AND started_at IS NOT NULL";
}

class Fairness : public WorkflowTest {
 protected:
  int64_t NoisyNeighbour(const std::string& window);
  double PriorityZeroWait(const std::string& aging, std::chrono::seconds give_up);
  double QuietTenantWaitBesideLongTasks(const std::string& express_slots);
};

// A enqueues 3,000 sleeping tasks, then B 20; returns how many of A's
// started after B's enqueue and no later than B's last start (-1: B did
// not finish in time).
int64_t Fairness::NoisyNeighbour(const std::string& window) {
  Fairness& t = *this;
  auto scheduler = t.Scheduler({"--dispatch-window", window});
  auto worker = t.Worker("noisy", 4);
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--tenant", "a", "--payload-json",
          R"({"ms": 20})", "--count", "3000"});
  // A's flood is under way before B comes.
  EXPECT_TRUE(WaitFor([&] { return t.db_->Count(Started("a")) >= 20; }, 60s));
  const int64_t a_before = t.db_->Count(Started("a"));
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--tenant", "b", "--payload-json",
          R"({"ms": 20})", "--count", "20"});
  if (!WaitFor([&] { return t.db_->Count(Started("b")) == 20; }, 120s)) return -1;
  return t.db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'a' AND started_at <= "
                      "(SELECT max(started_at) FROM tasks WHERE tenant = 'b')") -
         a_before;
}

TEST_F(Fairness, AQuietTenantStartsBeforeHalfOfANoisyTenantsBacklog) {
  const int64_t a_before_b = NoisyNeighbour("256");
  std::cout << "window 256: " << a_before_b
            << " of A's 3000 tasks started between B's enqueue and B's last start\n";
  ASSERT_GE(a_before_b, 0) << "B's tasks did not all start";
  EXPECT_LT(a_before_b, 1500);
}

TEST_F(Fairness, AQuietTenantsTasksGoAheadOfTheWindowANoisyTenantFilled) {
  // Rule 5: B's tasks, one at a time, are delivered before A's messages
  // ready in the broker. Without it each waited behind the window: 256 of
  // A's 20 ms tasks on 4 slots, about 1.3 s.
  auto scheduler = Scheduler({"--dispatch-window", "256"});
  auto worker = Worker("ahead", 4);
  Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "a", "--payload-json", R"({"ms": 20})",
        "--count", "3000"});
  ASSERT_TRUE(WaitFor([&] { return db_->Count(Started("a")) >= 300; }, 60s));
  // One at a time: each after the one before started. Two of B's in flight
  // while a third comes would hold half the 4 slots, B's share: the third
  // then goes behind the window, as docs/fairness.md says of a burst (seen
  // once in twenty runs when the enqueues came close together).
  for (int i = 1; i <= 10; ++i) {
    Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "b", "--payload-json",
          R"({"ms": 20})"});
    ASSERT_TRUE(WaitFor([&] { return db_->Count(Started("b")) == i; }, 60s)) << "B's task " << i;
  }
  EXPECT_GT(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'a' AND state = 'queued'"), 1000)
      << "A's flood must still be waiting when B's last task starts";
  const double wait_ms = std::stod(db_->Scalar(
      "SELECT extract(epoch FROM max(started_at - created_at)) * 1000 FROM tasks "
      "WHERE tenant = 'b'"));
  std::cout << "window 256: B's longest wait " << wait_ms << " ms behind A's flood\n";
  EXPECT_LT(wait_ms, 640);
}

TEST_F(Fairness, AQuietTenantsTaskGoesAheadOfANoisyTenantsMessagesBelowTheWindow) {
  // A's 200 tasks of 100 ms all fit in the window: the relay hands them
  // to the broker at once and the outbox holds nothing of A's. B's task
  // then has the outbox to itself, yet it is below its share (A runs 4):
  // it goes ahead of A's ready messages. Before, it waited behind them:
  // about 196 x 100 ms / 4 slots, 4.9 s.
  auto scheduler = Scheduler({"--dispatch-window", "256"});
  auto worker = Worker("below-window", 4);
  Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "a", "--payload-json", R"({"ms": 100})",
        "--count", "200"});
  ASSERT_TRUE(WaitFor(
      [&] { return db_->Count(Started("a")) >= 4 && db_->Count("SELECT count(*) FROM outbox") == 0; },
      60s));
  Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "b", "--payload-json", R"({"ms": 20})"});
  ASSERT_TRUE(WaitFor([&] { return db_->Count(Started("b")) == 1; }, 60s));
  EXPECT_GT(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'a' AND state = 'queued'"), 100)
      << "A's messages must still be waiting when B's task starts";
  const double wait_ms = std::stod(db_->Scalar(
      "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM tasks WHERE tenant = 'b'"));
  std::cout << "B's wait behind A's 200 messages below the window: " << wait_ms << " ms\n";
  EXPECT_LT(wait_ms, 1000);
}

// A's 2 s tasks hold the worker's 4 slots; B's task, below its share,
// goes to the queue's express lane, which the worker's express slot
// serves at once. Returns B's wait to start, in ms.
double Fairness::QuietTenantWaitBesideLongTasks(const std::string& express_slots) {
  Fairness& t = *this;
  auto scheduler = t.Scheduler({"--dispatch-window", "256"});
  auto worker = t.Worker("express", 4, {"--express-slots", express_slots});
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--tenant", "a", "--payload-json",
          R"({"ms": 2000})", "--count", "40"});
  EXPECT_TRUE(WaitFor([&] { return t.db_->Count(Started("a")) == 4; }, 60s));
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--tenant", "b", "--payload-json",
          R"({"ms": 20})"});
  EXPECT_TRUE(WaitFor([&] { return t.db_->Count(Started("b")) == 1; }, 60s));
  // A's tasks kept to the 4 slots: none started in the express one (B
  // started at once, before any of A's ended).
  if (express_slots != "0") EXPECT_EQ(t.db_->Count(Started("a")), 4);
  return std::stod(t.db_->Scalar(
      "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM tasks WHERE tenant = 'b'"));
}

TEST_F(Fairness, AQuietTenantsTaskStartsInAnExpressSlotWhileTheFloodHoldsTheOthers) {
  const double with_lane = QuietTenantWaitBesideLongTasks("1");
  std::cout << "B's wait beside A's 2 s tasks, one express slot: " << with_lane << " ms\n";
  EXPECT_LT(with_lane, 500);
}

TEST_F(Fairness, WithoutExpressSlotsTheQuietTenantWaitsForTheFloodsSlots) {
  const double without = QuietTenantWaitBesideLongTasks("0");
  std::cout << "B's wait beside A's 2 s tasks, no express slot: " << without << " ms\n";
  EXPECT_GT(without, 1000);
}

TEST_F(Fairness, WithoutAWindowTheQuietTenantWaitsBehindTheBacklog) {
  const int64_t a_before_b = NoisyNeighbour("0");
  std::cout << "no window: " << a_before_b
            << " of A's 3000 tasks started between B's enqueue and B's last start\n";
  ASSERT_GE(a_before_b, 0) << "B's tasks did not all start";
  EXPECT_GT(a_before_b, 1500);
}

TEST_F(Fairness, WeightsSplitTheStartsOfTwoFloodingTenants) {
  Fila({"tenants", "set", "a", "--weight", "3"});
  EXPECT_NE(Fila({"tenants", "get", "a", "--json"}).find("\"weight\": 3"), std::string::npos);
  // Out of range: refused, and the weight stays.
  EXPECT_NE(RunFila("fila", {"tenants", "set", "a", "--weight", "0"}, env_).ExitCode(), 0);
  EXPECT_EQ(db_->Scalar("SELECT weight FROM tenants WHERE name = 'a'"), "3");
  for (const char* tenant : {"a", "b"}) {
    Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", tenant, "--payload-json",
          R"({"ms": 20})", "--count", "1000"});
  }
  auto scheduler = Scheduler({"--dispatch-window", "64"});
  auto worker = Worker("weights", 4);
  ASSERT_TRUE(WaitFor([&] { return db_->Count(Started("a")) + db_->Count(Started("b")) >= 600; },
                      120s));
  // Among the first 600 starts (A and B flood alike: id order would give
  // A's 1000 first, 600 to 0).
  const auto rows = db_->Rows(
      "SELECT tenant, count(*) FROM (SELECT tenant FROM tasks WHERE started_at IS NOT NULL "
      "ORDER BY started_at LIMIT 600) x GROUP BY tenant ORDER BY tenant");
  std::map<std::string, double> n;
  for (const auto& r : rows) n[r.at(0)] = std::stod(r.at(1));
  std::cout << "first 600 starts: a " << n["a"] << ", b " << n["b"] << "\n";
  ASSERT_GT(n["b"], 0);
  EXPECT_GE(n["a"] / n["b"], 2.0);
  EXPECT_LE(n["a"] / n["b"], 4.5);
}

// Priority-9 tasks arrive faster than the workers run them. Three
// priority-0 tasks come once the continuous load has run for 3 s: behind
// them wait a window of ready priority-9 messages and over a thousand
// priority-9 rows in the outbox, older than they are (at 80 tasks/s at
// most, some 15 s of work). Returns how long they waited to start, in
// seconds (the whole `give_up` when they did not).
double Fairness::PriorityZeroWait(const std::string& aging, std::chrono::seconds give_up) {
  Fairness& t = *this;
  auto scheduler = t.Scheduler({"--dispatch-window", "64", "--priority-aging", aging});
  auto worker = t.Worker("aging", 4);
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--priority", "9", "--payload-json",
          R"({"ms": 50})", "--count", "300"});
  EXPECT_TRUE(WaitFor([&] { return t.db_->Count("SELECT count(*) FROM tasks WHERE started_at IS NOT NULL") > 0; }, 60s));
  std::atomic<bool> stop{false};
  // 4 slots x 50 ms: 80 tasks/s at most; 100 every 200 ms (plus the
  // enqueue's own time) is well above that.
  std::thread load([&] {
    while (!stop) {
      RunFila("fila", {"enqueue", "sleep", "--queue", t.queue_, "--priority", "9",
                       "--payload-json", R"({"ms": 50})", "--count", "100"},
              t.env_);
      std::this_thread::sleep_for(200ms);
    }
  });
  std::this_thread::sleep_for(3s);
  const int64_t older = t.db_->Count("SELECT count(*) FROM tasks WHERE priority = 9 AND state = 'queued'");
  std::cout << "priority-9 tasks queued ahead of the priority-0 ones: " << older << "\n";
  EXPECT_GT(older, 500);
  t.Fila({"enqueue", "sleep", "--queue", t.queue_, "--priority", "0", "--payload-json",
          R"({"ms": 50})", "--count", "3"});
  const bool started = WaitFor(
      [&] {
        return t.db_->Count("SELECT count(*) FROM tasks WHERE priority = 0 AND started_at IS NOT NULL") == 3;
      },
      give_up);
  // The load was continuous: priority-9 tasks were still waiting.
  EXPECT_GT(t.db_->Count("SELECT count(*) FROM tasks WHERE priority = 9 AND state = 'queued'"), 50);
  stop = true;
  load.join();
  if (!started) return static_cast<double>(give_up.count());
  return std::stod(t.db_->Scalar(
      "SELECT extract(epoch FROM max(started_at - created_at)) FROM tasks WHERE priority = 0"));
}

// Aging 1 s: priority 9 after 9 s in the outbox; raised there by aging, it
// goes before the priority-9 rows born there (older or not), behind at
// most one window (64) of ready priority-9 messages: 3.2 s at 20 tasks/s
// (a loaded machine; 80 nominal). With 3.8 s of slack: 16 s. Ranked by
// its enqueue time, it waited behind the older backlog instead (15 s and
// growing).
constexpr std::chrono::seconds kAgedBound{16};

TEST_F(Fairness, AgingBoundsThePriorityZeroWaitUnderContinuousPriorityNine) {
  const double wait = PriorityZeroWait("1s", kAgedBound + 10s);
  std::cout << "aging 1s: priority 0 started after " << wait << " s\n";
  EXPECT_LE(wait, static_cast<double>(kAgedBound.count()));
  EXPECT_GE(wait, 8.0);  // not before it reached 9 (8 cannot pass the 9s)
}

TEST_F(Fairness, WithoutAgingPriorityZeroStarvesUnderContinuousPriorityNine) {
  const double wait = PriorityZeroWait("0", kAgedBound);
  std::cout << "no aging: priority 0 waited " << wait << " s\n";
  EXPECT_GE(wait, static_cast<double>(kAgedBound.count()));
}

TEST_F(Fairness, PerKeyLimitHoldsUnderTheWindowWithTwoTenants) {
  auto scheduler = Scheduler({"--dispatch-window", "8"});
  auto w1 = Worker("lim-a", 6);
  auto w2 = Worker("lim-b", 6);
  for (int i = 0; i < 12; ++i) {
    Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "a", "--payload-json",
          R"({"ms": 200})", "--limit-key", "acct", "--limit-concurrency", "2"});
  }
  Fila({"enqueue", "sleep", "--queue", queue_, "--tenant", "b", "--payload-json",
        R"({"ms": 100})", "--count", "40"});
  ASSERT_TRUE(WaitAllTerminal(120s));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 52);
  const std::string key = "tenant:a:acct";
  const int64_t overlap = db_->Count(
      "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM task_attempts a "
      "JOIN tasks t ON t.id = a.task_id AND t.limit_key = '" + key + "' "
      "JOIN task_attempts b ON b.started_at <= a.started_at AND b.finished_at > a.started_at "
      "JOIN tasks u ON u.id = b.task_id AND u.limit_key = '" + key + "' "
      "GROUP BY a.task_id, a.attempt) x");
  EXPECT_LE(overlap, 2);
  EXPECT_GE(overlap, 1);
}

}  // namespace
}  // namespace fila::test
