#include "workflow_fixture.h"

namespace fila::test {

using namespace std::chrono_literals;

void WorkflowTest::SetUp() {
  db_ = std::make_unique<TestDatabase>();
  queue_ = RandomName("wf");
  env_ = {{"FILA_DATABASE_URL", db_->url()},
          {"FILA_AMQP_URL", Stack().amqp_url},
          {"FILA_API_LISTEN", "off"},
          {"FILA_LOG_LEVEL", "info"}};
}

std::unique_ptr<Process> WorkflowTest::Scheduler(std::vector<std::string> args) {
  return std::make_unique<Process>("fila-scheduler", std::move(args), env_);
}

std::unique_ptr<Process> WorkflowTest::Worker(const std::string& id, int concurrency,
                                              std::vector<std::string> extra) {
  std::vector<std::string> args{"--queues", queue_, "--concurrency", std::to_string(concurrency),
                                "--worker-id", id};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Process>("fila-worker", std::move(args), env_);
}

std::string WorkflowTest::Fila(std::vector<std::string> args) {
  RunResult r = RunFila("fila", args, env_);
  EXPECT_EQ(r.ExitCode(), 0) << r.err;
  return r.out;
}

std::string WorkflowTest::Enqueue(const std::string& type, const std::string& payload_json,
                                  std::vector<std::string> extra) {
  std::vector<std::string> args{"enqueue", type, "--queue", queue_, "--payload-json", payload_json};
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out = Fila(args);
  return out.substr(0, out.find('\n'));
}

bool WorkflowTest::WaitAllTerminal(std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        return db_->Count("SELECT count(*) FROM tasks WHERE state NOT IN "
                          "('succeeded', 'failed', 'dead', 'cancelled')") == 0;
      },
      timeout);
}

std::string WorkflowTest::State(const std::string& id) {
  return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
}

}  // namespace fila::test
