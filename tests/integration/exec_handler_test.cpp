// Exec handlers through the real system: a type registered as data whose
// handler is tests/exec/task.py, tasks enqueued into PostgreSQL, dispatched
// by fila-scheduler over RabbitMQ and run by fila-worker under
// fila-exec-shim. What the handler does alone (without servers) is tested
// in tests/unit/exec_handler_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fila/core/task_types.h"
#include "fila/core/type_definition.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"
#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::TestDatabase;

const std::string kPython = "/usr/bin/python3";

// The processes of `pid`'s process: threads, open descriptors, children.
struct Footprint {
  size_t threads = 0;
  size_t fds = 0;
  std::string children;
  bool operator==(const Footprint&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Footprint& f) {
  return out << "threads=" << f.threads << " fds=" << f.fds << " children=[" << f.children << "]";
}

size_t Entries(const std::string& dir) {
  std::error_code ec;
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir, ec), {}));
}

Footprint FootprintOf(int pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  Footprint f{Entries(proc + "/task"), Entries(proc + "/fd"), ""};
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    f.children += std::string(std::istreambuf_iterator<char>(in), {});
  }
  return f;
}

class ExecHandlerSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("exec");
    char dir[] = "/tmp/fila-exec-it.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    pidfile_ = dir_ + "/pids";
    env_ = {{"FILA_DATABASE_URL", db_->url()},
            {"FILA_AMQP_URL", test::Stack().amqp_url},
            {"FILA_LOG_LEVEL", "info"}};
  }

  void TearDown() override {
    for (pid_t pid : Alive()) ::kill(pid, SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  // Registers an exec type running task.py; returns its version.
  uint32_t Register(const std::string& name, std::vector<std::string> command = {},
                    const std::function<void(v1::TaskTypeDefinition&)>& more = {}) {
    v1::TaskTypeDefinition d;
    d.set_name(name);
    d.set_queue(queue_);
    d.mutable_schema()->set_any_json(true);
    d.mutable_retry()->set_max_attempts(3);
    d.mutable_retry()->set_base_ms(100);
    d.mutable_retry()->set_cap_ms(200);
    auto* exec = d.mutable_handler()->mutable_exec();
    if (command.empty()) command = {kPython, test::SourceDir() + "/tests/exec/task.py"};
    for (const auto& arg : command) exec->add_command(arg);
    if (more) more(d);
    const auto [stored, created] = MakePostgresTypeStore(db_->url())->Apply(d.SerializeAsString());
    v1::TaskTypeDefinition out;
    EXPECT_TRUE(out.ParseFromString(stored));
    specs_[name] = SpecFromDefinition(stored);
    return out.version();
  }

  // Enqueues one task of a registered type; the payload gets the pidfile.
  std::string Enqueue(const std::string& type, nlohmann::json payload, uint32_t timeout_ms = 60000) {
    payload["pidfile"] = pidfile_;
    const TaskTypeSpec& spec = specs_.at(type);
    NewTask t;
    t.type = type;
    t.type_version = spec.version;
    t.queue = queue_;
    t.max_attempts = spec.retry.max_attempts;
    t.timeout_ms = timeout_ms;
    t.retry_base_ms = static_cast<uint32_t>(spec.retry.base.count());
    t.retry_cap_ms = static_cast<uint32_t>(spec.retry.cap.count());
    t.payload = PayloadFromJson(spec, payload.dump());
    PostgresStore store(db_->url());
    const std::vector<NewTask> one{t};
    return store.Enqueue(one).at(0).id;
  }

  void Start(int concurrency = 4, std::map<std::string, std::string> extra = {}) {
    scheduler_ = std::make_unique<Process>("fila-scheduler", std::vector<std::string>{}, env_);
    auto env = env_;
    for (auto& [k, v] : extra) env[k] = v;
    worker_ = std::make_unique<Process>(
        "fila-worker",
        std::vector<std::string>{"--queues", queue_, "--concurrency", std::to_string(concurrency),
                                 "--abandon-grace-ms", "5000"},
        env);
  }

  std::string Column(const std::string& id, const std::string& expression) {
    return db_->Scalar("SELECT " + expression + " FROM tasks WHERE id = '" + id + "'");
  }
  // "outcome: error" of every attempt, in order.
  std::vector<std::string> Attempts(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& row : db_->Rows("SELECT outcome, error FROM task_attempts WHERE task_id = '" + id +
                                     "' ORDER BY attempt")) {
      out.push_back(row[0] + ": " + row[1]);
    }
    return out;
  }

  void Done(const std::vector<std::string>& ids, std::chrono::milliseconds timeout = 60s) {
    ASSERT_TRUE(test::WaitTerminal(*db_, ids, timeout))
        << "worker log:\n"
        << worker_->Stderr().substr(worker_->Stderr().size() > 4000 ? worker_->Stderr().size() - 4000 : 0);
  }

  // Pids the scripts wrote to the pidfile that are still alive.
  std::vector<pid_t> Alive() const {
    std::vector<pid_t> alive;
    std::ifstream in(pidfile_);
    for (pid_t pid; in >> pid;) {
      if (::kill(pid, 0) == 0) alive.push_back(pid);
    }
    return alive;
  }
  size_t Started() const {
    std::ifstream in(pidfile_);
    return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  }

  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::string dir_;
  std::string pidfile_;
  std::map<std::string, std::string> env_;
  std::map<std::string, TaskTypeSpec> specs_;
  std::unique_ptr<Process> scheduler_;
  std::unique_ptr<Process> worker_;
};

TEST_F(ExecHandlerSystem, APythonScriptRunsTasksWithProgressRetriesAndFailures) {
  Register("acme.script");
  Start(4, {{"FILA_LOG_LEVEL", "debug"}});
  const auto echo = Enqueue("acme.script", {{"mode", "echo"}, {"n", 7}});
  const auto progress = Enqueue("acme.script", {{"mode", "progress"}});
  const auto retried = Enqueue("acme.script", {{"mode", "tempfail"}, {"succeed_on_attempt", 2}});
  const auto failed = Enqueue("acme.script", {{"mode", "fail"}, {"why", "no such customer"}});
  const auto env = Enqueue("acme.script", {{"mode", "env"}});
  Done({echo, progress, retried, failed, env});

  // The task, and none of the worker's settings (its database and broker URLs).
  const auto vars = nlohmann::json::parse(Column(env, "convert_from(result, 'UTF8')"));
  EXPECT_EQ(vars["FILA_TASK_ID"], env);
  EXPECT_EQ(vars["FILA_TASK_TYPE"], "acme.script");
  EXPECT_EQ(vars["FILA_TYPE_VERSION"], std::to_string(specs_["acme.script"].version));
  EXPECT_EQ(vars["FILA_TENANT"], "default");
  EXPECT_EQ(vars["FILA_QUEUE"], queue_);
  for (const char* hidden : {"FILA_DATABASE_URL", "FILA_AMQP_URL", "FILA_LOG_LEVEL", "FILA_ENABLE_TEST_TYPES"}) {
    EXPECT_FALSE(vars.contains(hidden)) << hidden;
  }

  EXPECT_EQ(Column(echo, "state"), "succeeded");
  const auto result = nlohmann::json::parse(Column(echo, "convert_from(result, 'UTF8')"));
  EXPECT_EQ(result["payload"]["n"], 7);
  EXPECT_EQ(result["attempt"], 1);

  EXPECT_EQ(Column(progress, "state"), "succeeded");
  EXPECT_EQ(Column(progress, "progress || ' ' || progress_message"), "100 step 250");

  EXPECT_EQ(Column(retried, "state"), "succeeded");
  EXPECT_EQ(Column(retried, "convert_from(result, 'UTF8')"), "ok on attempt 2\n");
  const auto retries = Attempts(retried);
  ASSERT_EQ(retries.size(), 2u);
  EXPECT_EQ(retries[0],
            "failed: the command exited with status 75 (EX_TEMPFAIL: try again later): upstream busy, attempt 1");
  EXPECT_EQ(retries[1], "succeeded: ");

  EXPECT_EQ(Column(failed, "state"), "failed");
  EXPECT_EQ(Attempts(failed),
            std::vector<std::string>{"failed: the command exited with status 3: bad input: no such customer"});
  EXPECT_EQ(Column(failed, "last_error"), "the command exited with status 3: bad input: no such customer");
  // At debug level the worker logs the command's stderr, line by line, with the task's fields.
  bool logged = false;
  std::istringstream log(worker_->Stderr());
  for (std::string line; std::getline(log, line);) {
    if (line.find("\"msg\":\"stderr: bad input: no such customer\"") == std::string::npos) continue;
    logged = true;
    EXPECT_NE(line.find("\"task_id\":\"" + failed + "\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"type\":\"acme.script\""), std::string::npos) << line;
  }
  EXPECT_TRUE(logged) << "no debug line with the command's stderr";
  EXPECT_TRUE(Alive().empty());
}

TEST_F(ExecHandlerSystem, TheDeadlineAndACancelStopTheCommandAndItsProcesses) {
  Register("acme.script", {}, [](v1::TaskTypeDefinition& d) {
    d.mutable_retry()->set_max_attempts(1);
    d.mutable_handler()->mutable_exec()->set_grace_ms(1000);
  });
  Start();
  const auto t0 = SteadyClock::now();
  const auto late = Enqueue("acme.script", {{"mode", "sleep"}}, 3000);
  const auto stubborn = Enqueue("acme.script", {{"mode", "ignore_term"}}, 3000);
  const auto cancelled = Enqueue("acme.script", {{"mode", "sleep"}});
  ASSERT_TRUE(test::WaitFor([&] { return Column(cancelled, "progress_message") == "sleeping"; }, 30s));
  PostgresStore(db_->url()).Cancel(cancelled);
  Done({late, stubborn, cancelled});
  EXPECT_LT(SteadyClock::now() - t0, 15s);

  EXPECT_EQ(Column(late, "state"), "dead");
  EXPECT_EQ(Attempts(late), std::vector<std::string>{"timed_out: timed out after 3000 ms: the command was stopped "
                                                     "at the task's deadline and was killed by SIGTERM"});
  EXPECT_EQ(Attempts(stubborn),
            std::vector<std::string>{"timed_out: timed out after 3000 ms: the command was stopped at the task's "
                                     "deadline and was killed by SIGKILL"});
  EXPECT_EQ(Column(cancelled, "state"), "cancelled");
  const auto cancel = Attempts(cancelled);
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_EQ(cancel[0].rfind("cancelled: cancelled by request: the command was stopped", 0), 0u) << cancel[0];
  // Three scripts and the child each forked: none is left.
  EXPECT_EQ(Started(), 6u);
  EXPECT_TRUE(Alive().empty());
  EXPECT_TRUE(worker_->Running());
}

TEST_F(ExecHandlerSystem, AKilledWorkerLeavesNoCommandRunning) {
  Register("acme.script", {}, [](v1::TaskTypeDefinition& d) { d.mutable_handler()->mutable_exec()->set_grace_ms(500); });
  Start();
  const auto id = Enqueue("acme.script", {{"mode", "sleep"}});
  ASSERT_TRUE(test::WaitFor([&] { return Column(id, "progress_message") == "sleeping"; }, 30s));
  ASSERT_EQ(Alive().size(), 2u) << "the script and its child";
  worker_->Signal(SIGKILL);
  worker_->Wait(10s);
  // Each shim dies with the worker (PR_SET_PDEATHSIG) and stops its command first.
  EXPECT_TRUE(test::WaitFor([&] { return Alive().empty(); }, 5s));
}

// Each open descriptor of `pid` and what it points at, so that a failed
// footprint check names the descriptor that appeared.
std::string FdList(int pid) {
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    out += " " + e.path().filename().string() + "->" + std::filesystem::read_symlink(e.path()).string();
  }
  return out;
}

TEST_F(ExecHandlerSystem, BadScriptsFailClearlyAndTheWorkerKeepsGoingWithoutLeaks) {
  Register("acme.script", {}, [](v1::TaskTypeDefinition& d) {
    d.mutable_retry()->set_max_attempts(1);
    d.set_max_result_bytes(65536);
  });
  const std::string not_executable = dir_ + "/not-executable.py";
  std::filesystem::copy_file(test::SourceDir() + "/tests/exec/task.py", not_executable);
  std::filesystem::permissions(not_executable, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Register("acme.missing", {"fila-no-such-program"});
  Register("acme.denied", {not_executable});
  Start(2);
  // A first round warms the worker up (connections, slot threads, the
  // registry): its footprint after that is the baseline.
  Done({Enqueue("acme.script", {{"mode", "echo"}}), Enqueue("acme.script", {{"mode", "echo"}})});
  Footprint before;
  std::string before_fds;
  ASSERT_TRUE(test::WaitFor(
      [&] {
        before = FootprintOf(worker_->pid());
        before_fds = FdList(worker_->pid());
        return before.children.empty();
      },
      5s));

  std::vector<std::string> forks;
  for (const char* mode : {"fork_and_exit", "setsid", "double_fork"}) forks.push_back(Enqueue("acme.script", {{"mode", mode}}));
  const auto flood_out = Enqueue("acme.script", {{"mode", "flood_stdout"}, {"mib", 200}});
  const auto flood_err = Enqueue("acme.script", {{"mode", "flood_stderr"}, {"mib", 20}});
  const auto missing = Enqueue("acme.missing", nlohmann::json::object());
  const auto denied = Enqueue("acme.denied", nlohmann::json::object());
  std::vector<std::string> all = forks;
  all.insert(all.end(), {flood_out, flood_err, missing, denied});
  Done(all);

  for (const auto& id : forks) {
    EXPECT_EQ(Column(id, "state"), "succeeded");
    EXPECT_EQ(Column(id, "convert_from(result, 'UTF8')"), "parent done\n");
  }
  EXPECT_EQ(Attempts(flood_out), std::vector<std::string>{"failed: the command wrote more than 65536 bytes on "
                                                          "stdout (the type's max_result_bytes) and was killed"});
  const auto err = Column(flood_err, "last_error");
  EXPECT_EQ(err.rfind("the command exited with status 1: …", 0), 0u) << err.substr(0, 200);
  EXPECT_NE(err.find("the last words"), std::string::npos);
  EXPECT_LE(err.size(), 4096u);
  EXPECT_EQ(Column(missing, "last_error"),
            "the command 'fila-no-such-program' cannot start: no such program (looked up in the PATH of the "
            "command's environment)");
  EXPECT_EQ(Column(denied, "last_error"),
            "the command '" + not_executable + "' cannot start: permission denied (is it executable?)");
  for (const auto& id : {flood_out, flood_err, missing, denied}) EXPECT_EQ(Column(id, "state"), "failed");

  // Every process the scripts started is gone: 2 + 3 scripts, and the 3
  // children they left behind (one of them after setsid, one double-forked).
  EXPECT_EQ(Started(), 2u + 3u + 3u + 2u);
  EXPECT_TRUE(Alive().empty());
  // The worker is as it was: no thread, descriptor or child more.
  Footprint after;
  EXPECT_TRUE(test::WaitFor(
      [&] {
        after = FootprintOf(worker_->pid());
        return after == before;
      },
      5s))
      << "before: " << before << "\nafter: " << after << "\ndescriptors before:" << before_fds
      << "\ndescriptors after:" << FdList(worker_->pid());
  // And it keeps working.
  const auto last = Enqueue("acme.script", {{"mode", "echo"}});
  Done({last});
  EXPECT_EQ(Column(last, "state"), "succeeded");
}

}  // namespace
}  // namespace fila
