// Pausing a queue on the real stack (docs/operations.md, "Pausing a
// queue"): its tasks wait queued, attempts untouched, whether their
// messages were already in RabbitMQ or still in the outbox; after the
// resume each runs exactly once. Producers may not pause.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

class QueuePause : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    queue_ = RandomName("paused");
    Bind("acme", "queue", queue_);
  }

  void Enqueue(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = Call("POST", "/v1/tasks", acme_, R"({"type":"noop","queue":")" + queue_ + R"("})");
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }

  int64_t Count(const std::string& where) const {
    return db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue_ + "' AND " + where);
  }

  void StartWorker() {
    worker_ = std::make_unique<Process>(
        "fila-worker",
        std::vector<std::string>{"--queues", queue_, "--concurrency", "4",
                                 "--heartbeat-interval-ms", "200"},
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()},
                                           {"FILA_AMQP_URL", Stack().amqp_url}});
  }

  std::string queue_;
  std::unique_ptr<Process> worker_;
};

TEST_F(QueuePause, TasksWaitQueuedWhilePausedAndRunOnceAfterTheResume) {
  constexpr int kInBroker = 5, kInOutbox = 5;
  // Published before the pause: their messages wait in RabbitMQ, no worker yet.
  Enqueue(kInBroker);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(WaitFor([&] { return db_->Count("SELECT count(*) FROM outbox") == 0; }, 20s))
      << scheduler_->Stderr();

  auto paused = Call("POST", "/v1/queues/" + queue_ + ":pause", operator_);
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(JsonField(paused.body, "paused"), "true") << paused.body;
  EXPECT_NE(JsonField(paused.body, "paused_by").find("token "), std::string::npos) << paused.body;
  Enqueue(kInOutbox);  // after the pause: the relay holds them
  if (HasFatalFailure()) return;

  StartWorker();
  // The worker meets the published messages and starts none of them; each
  // goes back to the outbox, where the relay leaves it.
  ASSERT_TRUE(WaitFor([&] { return db_->Count("SELECT count(*) FROM outbox") == kInBroker + kInOutbox; },
                      20s))
      << worker_->Stderr();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(Count("state = 'queued' AND attempt = 0"), kInBroker + kInOutbox);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), 0);

  auto list = RunFila("fila", {"--api", base_, "--token", operator_, "queues", "list"});
  EXPECT_EQ(list.ExitCode(), 0) << list.err;
  EXPECT_NE(list.out.find(queue_ + "  queued=10  PAUSED by token "), std::string::npos) << list.out;

  auto resumed = RunFila("fila", {"--api", base_, "--token", operator_, "queues", "resume", queue_});
  ASSERT_EQ(resumed.ExitCode(), 0) << resumed.err;
  ASSERT_TRUE(WaitFor([&] { return Count("state = 'succeeded'") == kInBroker + kInOutbox; }, 30s))
      << "succeeded " << Count("state = 'succeeded'") << "\n" << worker_->Stderr();
  EXPECT_EQ(Count("attempt = 1"), kInBroker + kInOutbox);  // exactly once each
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), kInBroker + kInOutbox);
}

TEST_F(QueuePause, ProducersMayNotPauseAndBadNamesAreRefused) {
  for (const char* verb : {":pause", ":resume"}) {
    auto r = Call("POST", "/v1/queues/" + queue_ + verb, acme_);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(JsonField(r.body, "code"), "permission_denied") << r.body;
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM queue_pauses"), 0);
  auto cli = RunFila("fila", {"--api", base_, "--token", acme_, "queues", "pause", queue_});
  EXPECT_NE(cli.ExitCode(), 0);
  EXPECT_NE(cli.err.find("operator"), std::string::npos) << cli.err;

  EXPECT_EQ(Call("POST", "/v1/queues/Bad%20Name:pause", operator_).status, 400);
  EXPECT_EQ(Call("POST", "/v1/queues/" + queue_ + ":stop", operator_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/queues/" + queue_ + ":pause", operator_).status, 405);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM queue_pauses"), 0);
}

}  // namespace
}  // namespace fila::test
