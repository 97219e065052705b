// Bad input and unreachable servers: a clear message and a non-zero exit,
// never a crash (a signal) or a hang.
#include <gtest/gtest.h>

#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::RunFila;
using test::RunResult;

const std::string kDeadDatabase = "postgresql://postgres@127.0.0.1:1/fila?connect_timeout=2";
const std::string kDeadBroker = "amqp://guest:guest@127.0.0.1:1/";

void ExpectCleanFailure(const RunResult& r, int code, const std::string& message) {
  ASSERT_TRUE(r.Exited()) << "crashed or hung; status " << r.status << "\n" << r.err;
  EXPECT_EQ(r.ExitCode(), code) << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << "stderr was: " << r.err;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { db_ = std::make_unique<test::TestDatabase>(); }
  std::map<std::string, std::string> Env() { return {{"FILA_DATABASE_URL", db_->url()}}; }
  std::unique_ptr<test::TestDatabase> db_;
};

TEST_F(BadInput, UnknownTaskType) {
  ExpectCleanFailure(RunFila("fila", {"enqueue", "no.such.type"}, Env()), 2,
                     "unknown task type 'no.such.type'");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
}

TEST_F(BadInput, MalformedPayloadJson) {
  ExpectCleanFailure(RunFila("fila", {"enqueue", "sleep", "--payload-json", "{\"ms\": 5"}, Env()), 2,
                     "invalid payload for task type 'sleep'");
  ExpectCleanFailure(RunFila("fila", {"enqueue", "sleep", "--payload-json", "{\"ms\": \"soon\"}"}, Env()),
                     2, "payload.ms");
  ExpectCleanFailure(RunFila("fila", {"enqueue", "sleep", "--payload-json", "{\"secs\": 5}"}, Env()), 2,
                     "payload.secs");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
}

TEST_F(BadInput, MissingPayloadFile) {
  ExpectCleanFailure(RunFila("fila", {"enqueue", "sleep", "--payload-file", "/nonexistent/p.json"}, Env()),
                     2, "cannot read payload file");
}

TEST_F(BadInput, PriorityOutOfRange) {
  ExpectCleanFailure(RunFila("fila", {"enqueue", "noop", "--priority", "12"}, Env()), 2,
                     "priority must be between 0 and 9");
  ExpectCleanFailure(RunFila("fila", {"enqueue", "noop", "--priority", "-1"}, Env()), 2, "priority");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
}

TEST_F(BadInput, BadQueueName) {
  ExpectCleanFailure(RunFila("fila", {"enqueue", "noop", "--queue", "Bad Queue"}, Env()), 2, "queue name");
}

TEST_F(BadInput, GoodInputIsAccepted) {
  // The control: the same commands with valid input succeed.
  auto r = RunFila("fila", {"enqueue", "sleep", "--payload-json", "{\"ms\": 5}", "--priority", "9", "--count", "3"},
               Env());
  ASSERT_EQ(r.ExitCode(), 0) << r.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE priority = 9 AND queue = 'default'"), 3);
  auto id = r.out.substr(0, 36);
  auto get = RunFila("fila", {"get", id, "--json"}, Env());
  ASSERT_EQ(get.ExitCode(), 0) << get.err;
  EXPECT_NE(get.out.find("\"ms\": 5"), std::string::npos) << get.out;
}

TEST_F(BadInput, UnknownTaskIdForGet) {
  ExpectCleanFailure(RunFila("fila", {"get", "00000000-0000-4000-8000-000000000000"}, Env()), 2, "no task");
  ExpectCleanFailure(RunFila("fila", {"get", "nonsense"}, Env()), 2, "no task");
}

TEST(Unreachable, CliDatabase) {
  ExpectCleanFailure(RunFila("fila", {"stats"}, {{"FILA_DATABASE_URL", kDeadDatabase}}), 1,
                     "cannot connect to PostgreSQL");
}

TEST(Unreachable, WorkerDatabase) {
  auto r = RunFila("fila-worker", {"--startup-timeout", "1"},
               {{"FILA_DATABASE_URL", kDeadDatabase}, {"FILA_AMQP_URL", test::Stack().amqp_url}}, 30s);
  ExpectCleanFailure(r, 1, "cannot use PostgreSQL");
}

TEST(Unreachable, WorkerBroker) {
  test::TestDatabase db;
  auto r = RunFila("fila-worker", {"--startup-timeout", "1"},
               {{"FILA_DATABASE_URL", db.url()}, {"FILA_AMQP_URL", kDeadBroker}}, 30s);
  ExpectCleanFailure(r, 1, "cannot use RabbitMQ");
}

TEST(Unreachable, SchedulerDatabaseAndBroker) {
  auto r = RunFila("fila-scheduler", {"--startup-timeout", "1"},
               {{"FILA_DATABASE_URL", kDeadDatabase}, {"FILA_AMQP_URL", test::Stack().amqp_url}}, 30s);
  ExpectCleanFailure(r, 1, "cannot use PostgreSQL");
  test::TestDatabase db;
  r = RunFila("fila-scheduler", {"--startup-timeout", "1"},
          {{"FILA_DATABASE_URL", db.url()}, {"FILA_AMQP_URL", kDeadBroker}}, 30s);
  ExpectCleanFailure(r, 1, "cannot use RabbitMQ");
}

TEST(Unreachable, SecretsStayOutOfMessages) {
  auto r = RunFila("fila-worker", {"--startup-timeout", "0"},
               {{"FILA_DATABASE_URL", "postgresql://fila:hunter2@127.0.0.1:1/fila?connect_timeout=2"},
                {"FILA_AMQP_URL", kDeadBroker}},
               30s);
  ASSERT_TRUE(r.Exited());
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

TEST(SchemaTooOld, DaemonsRefuseToStart) {
  test::TestDatabase db(/*migrate=*/false);
  std::map<std::string, std::string> env{{"FILA_DATABASE_URL", db.url()},
                                         {"FILA_AMQP_URL", test::Stack().amqp_url}};
  ExpectCleanFailure(RunFila("fila-worker", {}, env, 30s), 2, "run `fila migrate up`");
  ExpectCleanFailure(RunFila("fila-scheduler", {}, env, 30s), 2, "run `fila migrate up`");
  ExpectCleanFailure(RunFila("fila", {"enqueue", "noop"}, env, 30s), 2, "run `fila migrate up`");
}

TEST(Usage, MissingConfiguration) {
  ExpectCleanFailure(RunFila("fila-worker", {}, {{"FILA_DATABASE_URL", ""}, {"FILA_AMQP_URL", ""}}), 2,
                     "FILA_DATABASE_URL");
  ExpectCleanFailure(RunFila("fila-worker", {"--concurrency", "0"}), 2, "concurrency");
}

}  // namespace
}  // namespace fila
