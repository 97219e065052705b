// Finding 10 of the security review: what producers learn of the system
// behind the API (worker hosts, secrets' names) and whom the AMQP ingest
// trusts. PDF budgets: crash_inputs_test.cpp; paths and file existence:
// tenancy_test.cpp.
#include <csignal>

#include "security_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

class Disclosure : public SecurityTest {};

// Worker ids name hosts and processes: operators see them, producers never,
// neither in attempts nor in the error a reaped task records.
TEST_F(Disclosure, ProducersNeverSeeWorkerNames) {
  StartScheduler({"--worker-timeout-ms", "1000", "--reap-interval-ms", "200"});
  const std::string producer = Token("acme", "producer");
  const std::string ops = Token("ops", "operator");
  Process& worker = StartWorker({"--queues", "default", "--worker-id", "db-host-7.internal-4242"});
  const std::string id = Enqueue(producer, R"({"type":"sleep","args":{"ms":60000},"max_attempts":2})");
  ASSERT_TRUE(WaitFor([&] { return State(id) == "running"; }, 20s)) << worker.Stderr();
  worker.Signal(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return State(id) == "queued"; }, 20s));
  auto seen = Call("GET", "/v1/tasks/" + id, producer);
  ASSERT_EQ(seen.status, 200);
  EXPECT_EQ(seen.body.find("db-host-7"), std::string::npos) << seen.body;
  EXPECT_NE(seen.body.find("worker stopped heartbeating"), std::string::npos) << seen.body;
  auto listed = Call("GET", "/v1/tasks", producer);
  EXPECT_EQ(listed.body.find("db-host-7"), std::string::npos) << listed.body;
  // Operators keep the detail, in the attempt's worker field.
  EXPECT_NE(Call("GET", "/v1/tasks/" + id, ops).body.find("db-host-7.internal-4242"), std::string::npos);
}

// The ingest consumer trusted every request's `tenant`; --ingest-tenants
// restricts it, and a request naming another tenant is refused.
TEST_F(Disclosure, IngestTenantsCanBeRestricted) {
  StartScheduler({"--ingest", "true", "--ingest-tenants", "partner"});
  auto send = [&](const std::string& request) {
    return RunFila("/usr/bin/python3",
                   {SourceDir() + "/tests/security/amqp_enqueue.py", Stack().amqp_url, request});
  };
  auto other = send(R"({"type":"noop","tenant":"acme"})");
  ASSERT_EQ(other.ExitCode(), 0) << other.err;
  EXPECT_EQ(JsonField(other.out, "error_code"), "permission_denied") << other.out;
  auto own = send(R"({"type":"noop"})");
  ASSERT_EQ(own.ExitCode(), 0) << own.err;
  const std::string id = JsonField(own.out, "id");
  ASSERT_FALSE(id.empty()) << own.out;
  EXPECT_EQ(db_->Scalar("SELECT tenant FROM tasks WHERE id = '" + id + "'"), "partner");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'acme'"), 0);
}

}  // namespace
}  // namespace fila::test
