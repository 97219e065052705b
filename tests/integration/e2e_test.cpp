// A task from producer to done through real PostgreSQL and RabbitMQ, with
// real fila-scheduler and fila-worker processes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/task_types.h"
#include "fila/store_postgres/postgres_store.h"
#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::TestDatabase;

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("it");
    env_ = {{"FILA_DATABASE_URL", db_->url()},
            {"FILA_AMQP_URL", test::Stack().amqp_url},
            {"FILA_LOG_LEVEL", "info"}};
  }

  std::vector<std::string> Enqueue(const std::string& type, const std::string& payload_json,
                                   int count, uint32_t priority = 0) {
    PostgresStore store(db_->url());
    TaskTypes types = TaskTypes::Builtin(TestTypes::kEnabled);
    NewTask t;
    t.type = type;
    t.queue = queue_;
    t.priority = priority;
    t.max_attempts = 3;
    t.timeout_ms = 60000;
    t.payload = types.PayloadFromJson(type, payload_json);
    std::vector<std::string> ids;
    for (int done = 0; done < count; done += 1000) {
      std::vector<NewTask> chunk(std::min(1000, count - done), t);
      for (const auto& r : store.Enqueue(chunk)) ids.push_back(r.id);
    }
    return ids;
  }

  std::unique_ptr<Process> Scheduler(std::map<std::string, std::string> extra = {}) {
    auto env = env_;
    for (auto& [k, v] : extra) env[k] = v;
    return std::make_unique<Process>("fila-scheduler", std::vector<std::string>{}, env);
  }

  std::unique_ptr<Process> Worker(const std::string& id, int concurrency) {
    return std::make_unique<Process>(
        "fila-worker",
        std::vector<std::string>{"--queues", queue_, "--concurrency", std::to_string(concurrency),
                                 "--worker-id", id},
        env_);
  }

  int64_t CountState(const std::string& state) {
    return db_->Count("SELECT count(*) FROM tasks WHERE state = '" + state + "'");
  }

  // Every task terminal and succeeded, with exactly one recorded finish at attempt 1.
  void ExpectEachSucceededOnce(int64_t total) {
    EXPECT_EQ(CountState("succeeded"), total);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE attempt <> 1"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), total);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM (SELECT task_id FROM task_attempts GROUP BY task_id "
                         "HAVING count(*) <> 1) x"),
              0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE outcome <> 'succeeded' OR attempt <> 1"),
              0);
  }

  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::map<std::string, std::string> env_;
};

TEST_F(EndToEnd, TenThousandNoopTasksThroughTwoWorkers) {
  constexpr int kTasks = 10000;
  Enqueue("noop", "", kTasks);
  const auto start = std::chrono::steady_clock::now();
  auto scheduler = Scheduler();
  auto w1 = Worker("w1", 16);
  auto w2 = Worker("w2", 16);
  bool done = test::WaitFor([&] { return CountState("succeeded") == kTasks; }, 240s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(done) << "succeeded: " << CountState("succeeded") << "\n" << w1->Stderr();
  ExpectEachSucceededOnce(kTasks);
  // Both workers took part.
  EXPECT_GT(db_->Count("SELECT count(*) FROM task_attempts WHERE worker = 'w1'"), 0);
  EXPECT_GT(db_->Count("SELECT count(*) FROM task_attempts WHERE worker = 'w2'"), 0);
  const double db_span = std::stod(db_->Scalar(
      "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM tasks"));
  std::printf("[ metric ] %d noop tasks, 2 workers x 16 slots: %.2f s wall (%.0f tasks/s); "
              "first start to last finish %.2f s (%.0f tasks/s)\n",
              kTasks, seconds, kTasks / seconds, db_span, kTasks / db_span);
  w1->Signal(SIGTERM);
  w2->Signal(SIGTERM);
  EXPECT_EQ(w1->Wait(30s), 0) << w1->Stderr();
  EXPECT_EQ(w2->Wait(30s), 0) << w2->Stderr();
}

TEST_F(EndToEnd, SameMessagePublishedTwiceRunsOnce) {
  auto ids = Enqueue("noop", "", 1);
  // Publish the task's envelope twice ourselves, as a relay retry would.
  PostgresStore store(db_->url());
  auto items = store.FetchOutbox(10);
  ASSERT_EQ(items.size(), 1u);
  auto broker = MakeRabbitMqBroker({.url = test::Stack().amqp_url});
  auto publisher = broker->NewPublisher();
  OutgoingMessage m{queue_, EncodeEnvelope(items[0].envelope), 0, ids[0]};
  std::vector<OutgoingMessage> twice{m, m};
  publisher->PublishConfirmed(twice, DeadlineIn(10s));

  auto worker = Worker("w1", 4);
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 1; }, 30s)) << worker->Stderr();
  // Give the second copy time to arrive and be dropped, then stop cleanly.
  std::this_thread::sleep_for(1s);
  worker->Signal(SIGTERM);
  ASSERT_EQ(worker->Wait(30s), 0) << worker->Stderr();
  EXPECT_NE(worker->Stderr().find("duplicates=1"), std::string::npos) << worker->Stderr();
  EXPECT_NE(worker->Stderr().find("finished=1 "), std::string::npos) << worker->Stderr();
  ExpectEachSucceededOnce(1);
}

TEST_F(EndToEnd, HighPriorityTaskJumpsTheBacklog) {
  constexpr int kBacklog = 2000;
  // 20 ms a task: the urgent task's position counts the tasks that start
  // while it is published too (the relay's few ms), not only its delivery.
  Enqueue("sleep", R"({"ms": 20})", kBacklog, 0);
  // The whole backlog in the broker (no dispatch window): the broker's
  // priority queue is what is tested here.
  auto scheduler = Scheduler({{"FILA_DISPATCH_WINDOW", "0"}});
  ASSERT_TRUE(test::WaitFor([&] { return db_->Count("SELECT count(*) FROM outbox") == 0; }, 60s))
      << scheduler->Stderr();
  auto worker = Worker("w1", 1);
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") >= 20; }, 60s)) << worker->Stderr();
  const std::string urgent = Enqueue("sleep", R"({"ms": 1})", 1, 9).at(0);
  ASSERT_TRUE(test::WaitFor(
      [&] { return db_->Scalar("SELECT state FROM tasks WHERE id = '" + urgent + "'") == "succeeded"; },
      60s));
  // Tasks that started after the urgent one was enqueued but before it started.
  const int64_t position = db_->Count(
      "SELECT count(*) FROM tasks t, tasks u WHERE u.id = '" + urgent + "' AND t.id <> u.id "
      "AND t.started_at > u.created_at AND t.started_at < u.started_at");
  const int64_t backlog_left = CountState("queued");
  std::printf("[ metric ] priority-9 task started at position %lld with %lld of %d still queued\n",
              static_cast<long long>(position + 1), static_cast<long long>(backlog_left), kBacklog);
  EXPECT_LE(position + 1, 5);
  EXPECT_GT(backlog_left, 1000);  // it really jumped a deep backlog
}

TEST_F(EndToEnd, SchedulerKilledBeforePublishLosesNothing) {
  Enqueue("noop", "", 50);
  auto doomed = Scheduler({{"FILA_FAILPOINT", "relay.before_publish"}});
  int status = doomed->Wait(30s);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << doomed->Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox"), 50);  // committed, never published

  auto worker = Worker("w1", 8);
  auto scheduler = Scheduler();
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 50; }, 60s)) << worker->Stderr();
  ExpectEachSucceededOnce(50);
}

TEST_F(EndToEnd, SchedulerKilledAfterPublishRecordsOnce) {
  Enqueue("noop", "", 50);
  auto doomed = Scheduler({{"FILA_FAILPOINT", "relay.after_publish"}});
  int status = doomed->Wait(30s);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << doomed->Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox"), 50);  // published, never deleted

  // The next relay run publishes all 50 again: 100 messages for 50 tasks.
  auto scheduler = Scheduler();
  ASSERT_TRUE(test::WaitFor([&] { return db_->Count("SELECT count(*) FROM outbox") == 0; }, 30s));
  auto worker = Worker("w1", 8);
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 50; }, 60s)) << worker->Stderr();
  std::this_thread::sleep_for(1s);  // let the copies arrive and be dropped
  worker->Signal(SIGTERM);
  ASSERT_EQ(worker->Wait(30s), 0) << worker->Stderr();
  EXPECT_NE(worker->Stderr().find("duplicates=50"), std::string::npos) << worker->Stderr();
  ExpectEachSucceededOnce(50);
}

TEST_F(EndToEnd, FinishedTasksAreNotRepublished) {
  Enqueue("noop", "", 20);
  auto worker = Worker("w1", 8);
  auto doomed = Scheduler({{"FILA_FAILPOINT", "relay.after_publish"}});
  ASSERT_TRUE(WIFSIGNALED(doomed->Wait(30s)));
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 20; }, 60s)) << worker->Stderr();
  // Outbox rows of tasks that already finished are deleted, not published.
  auto scheduler = Scheduler();
  ASSERT_TRUE(test::WaitFor([&] { return db_->Count("SELECT count(*) FROM outbox") == 0; }, 30s));
  std::this_thread::sleep_for(500ms);
  worker->Signal(SIGTERM);
  ASSERT_EQ(worker->Wait(30s), 0) << worker->Stderr();
  EXPECT_NE(worker->Stderr().find("duplicates=0"), std::string::npos) << worker->Stderr();
  ExpectEachSucceededOnce(20);
}

TEST_F(EndToEnd, FlakyTaskRetriesUntilItSucceeds) {
  auto ids = Enqueue("flaky", R"({"fail_times": 2})", 1);
  auto scheduler = Scheduler({{"FILA_LOG_LEVEL", "warn"}});
  auto worker = Worker("w1", 2);
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 1; }, 60s)) << worker->Stderr();
  auto rows = db_->Rows("SELECT attempt, outcome, error_kind FROM task_attempts ORDER BY attempt");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "failed");
  EXPECT_EQ(rows[0][2], "transient");
  EXPECT_EQ(rows[2][1], "succeeded");
  EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks"), "3");
}

}  // namespace
}  // namespace fila
