// Findings 3, 5 and 9 of the security review: what a producer token may
// make the workers do. Test types (a sleep that ignores its deadline, a
// fanout of 10^10 tasks) exist only where an operator enabled them; limit
// keys live in the producer's tenant's namespace; queues beyond a type's
// default need an operator's binding, and a queue nobody consumes shows.
#include <csignal>
#include <thread>

#include "security_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

class ProducerLimits : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    evil_ = Token("evil", "producer");
    acme_ = Token("acme", "producer");
  }
  std::string evil_, acme_;
};

// Finding 3: four `sleep` tasks ignoring cancellation with a 1 s timeout
// made a 4-slot worker abandon its slots and exit 3 (and the retries killed
// the next worker); a fanout of width 100 and depth 5 was accepted.
TEST_F(ProducerLimits, TestTypesAreRefusedUnlessEnabledAndFanoutsAreCapped) {
  StartScheduler({}, {{"FILA_ENABLE_TEST_TYPES", "0"}});
  for (const char* body : {R"({"type":"sleep","args":{"ms":60000,"ignore_cancel":true},"timeout_ms":1000})",
                           R"({"type":"flaky","args":{"fail_times":3}})",
                           R"({"type":"fanout","args":{"width":100,"depth":5}})"}) {
    auto r = Call("POST", "/v1/tasks", evil_, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(JsonField(r.body, "field"), "type") << r.body;
  }
  EXPECT_EQ(Call("POST", "/v1/tasks", evil_, R"({"type":"noop"})").status, 201);
  auto cron = Call("POST", "/v1/schedules", evil_,
                   R"({"name":"s","cron":"* * * * *","type":"sleep","payload_json":"{\"ms\":1}"})");
  EXPECT_EQ(cron.status, 400) << cron.body;

  // Even where they are enabled, a fanout is sized at enqueue, and attempts
  // are capped.
  StartScheduler({"--enable-test-types"});
  auto huge = Call("POST", "/v1/tasks", evil_, R"({"type":"fanout","args":{"width":100,"depth":5}})");
  EXPECT_EQ(huge.status, 400) << huge.body;
  EXPECT_EQ(JsonField(huge.body, "field"), "payload.depth") << huge.body;
  auto wide = Call("POST", "/v1/tasks", evil_, R"({"type":"fanout","args":{"width":5000,"depth":1}})");
  EXPECT_EQ(wide.status, 400) << wide.body;
  auto attempts = Call("POST", "/v1/tasks", evil_, R"({"type":"noop","max_attempts":1000})");
  EXPECT_EQ(attempts.status, 400) << attempts.body;
  EXPECT_EQ(JsonField(attempts.body, "field"), "max_attempts");
  EXPECT_EQ(Call("POST", "/v1/tasks", evil_, R"({"type":"fanout","args":{"width":3,"depth":2}})").status, 201);

  // A worker without the test types never runs the hanging sleeps that a
  // scheduler with them accepted: it stays up and drains cleanly.
  std::vector<std::string> sleeps;
  for (int i = 0; i < 4; ++i) {
    sleeps.push_back(Enqueue(
        evil_, R"({"type":"sleep","args":{"ms":60000,"ignore_cancel":true},"timeout_ms":1000,"max_attempts":3})"));
  }
  Process& worker = StartWorker({"--queues", "default", "--concurrency", "4", "--abandon-grace-ms", "500"},
                                {{"FILA_ENABLE_TEST_TYPES", "0"}});
  std::this_thread::sleep_for(8s);  // past timeout + grace + a retry, several times over
  EXPECT_TRUE(worker.Running()) << "exit " << ExitCodeOf(worker.Wait(0ms)) << "\n" << worker.Stderr();
  for (const auto& id : sleeps) EXPECT_NE(State(id), "running") << id;
  worker.Signal(SIGTERM);
  EXPECT_EQ(ExitCodeOf(worker.Wait(30s)), 0) << worker.Stderr();
}

// Finding 5: a producer's limit key shared the namespace of every other
// tenant and of the handlers' own keys (omie:<account>, ...).
TEST_F(ProducerLimits, OneTenantsLimitKeyNeverDelaysAnothers) {
  Process& worker = StartWorker({"--queues", "default", "--concurrency", "4"});
  // evil takes the key "shared" at one start per 7 days, and the handler
  // key of ACME's ERP account likewise.
  const std::string week = R"(,"limit_rate":1,"limit_period_ms":604800000})";
  const std::string first = Enqueue(evil_, R"({"type":"noop","limit_key":"shared")" + week);
  Enqueue(evil_, R"({"type":"noop","limit_key":"shared")" + week);
  const std::string handler_key = Enqueue(evil_, R"({"type":"noop","limit_key":"omie:ACME")" + week);
  ASSERT_TRUE(WaitTerminal(*db_, {first, handler_key}, 30s)) << worker.Stderr();
  // acme's task with the same key name and a generous rate runs at once.
  const std::string mine =
      Enqueue(acme_, R"({"type":"noop","limit_key":"shared","limit_rate":100,"limit_period_ms":1000})");
  EXPECT_TRUE(WaitTerminal(*db_, {mine}, 15s))
      << "acme's task is " << State(mine) << ", run_at "
      << db_->Scalar("SELECT run_at::text FROM tasks WHERE id = '" + mine + "'");
  EXPECT_EQ(State(mine), "succeeded");
  // The handlers' key of the account was never touched.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM limit_keys WHERE key = 'omie:ACME' AND next_start > now()"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM limit_keys WHERE key LIKE 'tenant:evil:%'"), 2);
}

// Finding 9: producers created queues at will (a durable RabbitMQ queue and
// a metrics series each), and tasks on a queue nobody consumes waited
// forever, silently.
TEST_F(ProducerLimits, ProducersUseOnlyBoundQueuesAndAnUnconsumedQueueShows) {
  StartScheduler({"--sample-interval-ms", "200"});
  const std::string queue = RandomName("evilq");
  auto made_up = Call("POST", "/v1/tasks", evil_, R"({"type":"noop","queue":")" + queue + R"("})");
  EXPECT_EQ(made_up.status, 403) << made_up.body;
  EXPECT_EQ(JsonField(made_up.body, "field"), "queue") << made_up.body;
  auto batch = Call("POST", "/v1/tasks:batch", evil_, R"({"tasks":[{"type":"noop","queue":")" + queue + R"("}]})");
  EXPECT_EQ(batch.status, 403) << batch.body;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue + "'"), 0);

  // An operator binds it: then it works, and with no worker on it the
  // scheduler says so.
  ASSERT_EQ(Fila({"tenants", "bind", "evil", "queue", queue}).ExitCode(), 0);
  std::this_thread::sleep_for(400ms);  // --tenant-cache-ms
  const std::string id = Enqueue(evil_, R"({"type":"noop","queue":")" + queue + R"("})");
  ASSERT_FALSE(id.empty());
  const std::string metrics = "http://" + MetricsAddress(*scheduler_) + "/metrics";
  const std::string series = "fila_queue_consumers{queue=\"" + queue + "\"}";
  ASSERT_TRUE(WaitFor([&] { return Http("GET", metrics).body.find(series + " 0") != std::string::npos; }, 10s))
      << Http("GET", metrics).body.substr(0, 3000);
  Process& worker = StartWorker({"--queues", queue});
  EXPECT_TRUE(WaitFor([&] { return Http("GET", metrics).body.find(series + " 1") != std::string::npos; }, 15s));
  EXPECT_TRUE(WaitTerminal(*db_, {id}, 30s)) << worker.Stderr();
}

// Quotas operators set per tenant: tasks waiting, schedules, and how often
// a cron schedule may fire. Over a quota the answer is 429, not a flood.
TEST_F(ProducerLimits, TenantQuotasAnswer429) {
  ASSERT_EQ(Fila({"tenants", "set", "evil", "--max-waiting", "3", "--max-schedules", "1", "--min-cron-interval",
                  "60"})
                .ExitCode(),
            0);
  for (int i = 0; i < 3; ++i) Enqueue(evil_, R"({"type":"noop","delay_ms":600000})");
  auto over = Call("POST", "/v1/tasks", evil_, R"({"type":"noop","delay_ms":600000})");
  EXPECT_EQ(over.status, 429) << over.body;
  EXPECT_EQ(JsonField(over.body, "code"), "resource_exhausted") << over.body;
  EXPECT_NE(over.headers.find("Retry-After: 5"), std::string::npos) << over.headers;
  auto batch = Call("POST", "/v1/tasks:batch", evil_, R"({"tasks":[{"type":"noop"},{"type":"noop"}]})");
  EXPECT_EQ(batch.status, 429) << batch.body;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'evil'"), 3);
  // Another tenant is not affected.
  EXPECT_EQ(Call("POST", "/v1/tasks", acme_, R"({"type":"noop","delay_ms":600000})").status, 201);

  auto every_second = Call("POST", "/v1/schedules", evil_, R"({"name":"fast","cron":"* * * * * *","type":"noop"})");
  EXPECT_EQ(every_second.status, 400) << every_second.body;
  EXPECT_EQ(JsonField(every_second.body, "field"), "cron");
  EXPECT_EQ(Call("POST", "/v1/schedules", evil_, R"({"name":"a","cron":"*/5 * * * *","type":"noop"})").status, 201);
  auto second = Call("POST", "/v1/schedules", evil_, R"({"name":"b","cron":"*/5 * * * *","type":"noop"})");
  EXPECT_EQ(second.status, 429) << second.body;
}

}  // namespace
}  // namespace fila::test
