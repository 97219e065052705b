// examples/cpp-worker end to end: the program built out of the source tree
// against an installed fila (cpp_worker.sh builds it and passes its path in
// FILA_EXAMPLE_CPP_WORKER) consumes tasks of a type registered as data,
// with real PostgreSQL, RabbitMQ and fila-scheduler.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "fila/core/task_request.h"
#include "fila/core/type_store.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"
#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;

int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 2;
}

// Processes whose parent is `pid` (a handler must leave none behind).
int CountChildren(int pid) {
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    FILE* f = std::fopen(("/proc/" + name + "/stat").c_str(), "r");
    if (f == nullptr) continue;
    int self = 0;
    int parent = 0;
    char state = 0;
    // "pid (comm) state ppid": comm has no spaces for the processes we care about.
    if (std::fscanf(f, "%d %*s %c %d", &self, &state, &parent) == 3 && parent == pid) ++n;
    std::fclose(f);
  }
  closedir(d);
  return n;
}

class CppWorkerExample : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* binary = std::getenv("FILA_EXAMPLE_CPP_WORKER");
    if (binary == nullptr || *binary == '\0') {
      GTEST_SKIP() << "FILA_EXAMPLE_CPP_WORKER unset: run tests/examples/cpp_worker.sh";
    }
    binary_ = binary;
    db_ = std::make_unique<test::TestDatabase>();
    queue_ = test::RandomName("acme");
    env_ = {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", test::Stack().amqp_url}};
    // The user's type, registered as data; its handler is compiled into
    // the example (handler: {builtin: acme.word_count}).
    v1::TaskTypeDefinition d;
    d.set_name("acme.word_count");
    d.set_queue(queue_);
    d.mutable_schema()->set_any_json(true);
    d.mutable_handler()->set_builtin("acme.word_count");
    d.mutable_retry()->set_max_attempts(3);
    MakePostgresTypeStore(db_->url())->Apply(d.SerializeAsString());
    types_.SetLoader([url = db_->url()] {
      auto store = MakePostgresTypeStore(url);
      return LoadRegisteredTypes(*store);
    }, 0ms, 0ms);
  }

  std::string Enqueue(const std::string& payload_json) {
    TaskRequest r;
    r.type = "acme.word_count";
    r.payload_form = TaskRequest::PayloadForm::kJson;
    r.payload = payload_json;
    PostgresStore store(db_->url());
    const std::vector<NewTask> tasks{PrepareTask(r, types_, TaskLimits{})};
    return store.Enqueue(tasks).at(0).id;
  }

  std::string binary_;
  std::unique_ptr<test::TestDatabase> db_;
  std::string queue_;
  std::map<std::string, std::string> env_;
  TaskTypes types_;
};

TEST_F(CppWorkerExample, RunsTasksOfARegisteredTypeThroughTheSdk) {
  test::Process scheduler("fila-scheduler", {}, env_);
  test::Process worker(binary_, {"--queues", queue_, "--concurrency", "4", "--worker-id", "acme-1"}, env_);

  std::vector<std::string> ok;
  for (int i = 0; i < 20; ++i) ok.push_back(Enqueue(R"({"text": "one two  three )" + std::to_string(i) + "\"}"));
  const std::string bad = Enqueue(R"({"text": 42})");
  ok.push_back(bad);
  ASSERT_TRUE(test::WaitTerminal(*db_, ok, 60s)) << worker.Stderr();

  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded' AND type = 'acme.word_count' "
                       "AND convert_from(result, 'UTF8') = '{\"attempt\":1,\"words\":4}'"),
            20)
      << worker.Stderr();
  // The handler's PermanentError crosses the library boundary: no retry.
  EXPECT_EQ(db_->Scalar("SELECT state || ' ' || attempt FROM tasks WHERE id = '" + bad + "'"), "failed 1");
  EXPECT_NE(db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + bad + "'")
                .find("payload.text must be a string"),
            std::string::npos);
  EXPECT_NE(worker.Stderr().find("acme-worker"), std::string::npos) << "logs carry the program's name";

  // Another batch leaves threads, descriptors and child processes where
  // the first left them.
  const std::string proc = "/proc/" + std::to_string(worker.pid());
  const int threads = CountEntries(proc + "/task");
  const int fds = CountEntries(proc + "/fd");
  ASSERT_GT(threads, 0);
  ASSERT_GT(fds, 0);
  std::vector<std::string> more;
  for (int i = 0; i < 20; ++i) more.push_back(Enqueue(R"({"text": "x"})"));
  more.push_back(Enqueue(R"({"nothing": true})"));
  ASSERT_TRUE(test::WaitTerminal(*db_, more, 60s)) << worker.Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 40);
  EXPECT_EQ(CountEntries(proc + "/task"), threads);
  EXPECT_LE(CountEntries(proc + "/fd"), fds + 1);  // a database connection may come or go
  EXPECT_EQ(CountChildren(worker.pid()), 0);

  // Drains on SIGTERM like fila-worker.
  worker.Signal(SIGTERM);
  const int status = worker.Wait(30s);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << worker.Stderr();
}

TEST_F(CppWorkerExample, BadFlagsExitTwoWithUsage) {
  auto r = test::RunFila(binary_, {"--concurrency", "zero"}, env_, 20s);
  ASSERT_TRUE(r.Exited());
  EXPECT_EQ(r.ExitCode(), 2) << r.err;
  r = test::RunFila(binary_, {"--help"}, env_, 20s);
  EXPECT_EQ(r.ExitCode(), 0);
  EXPECT_NE(r.out.find("acme-worker"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fila
