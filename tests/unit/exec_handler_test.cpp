// Exec handlers without servers: the handler a factory makes runs real
// commands (tests/exec/task.py, /usr/bin/python3) under the real
// fila-exec-shim, for a task context of the test's own. What the worker
// adds (claims, outcomes, retries) is tested in
// tests/integration/exec_handler_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fila/core/text_limit.h"
#include "fila/core/type_definition.h"
#include "fila/exec_handler/exec_handler.h"
#include "fila/test_support/fake_task_context.h"
#include "fila/v1/types.pb.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const std::string kScript = std::string(FILA_SOURCE_DIR) + "/tests/exec/task.py";
// Debian's python3 starts in tens of milliseconds; the first python3 in a
// developer's PATH may take a second (the PATH lookup is tested once).
const std::string kPython = "/usr/bin/python3";

// The task of these tests: tenant acme's test.exec from queue "scripts".
// ExpireIn moves the deadline: timing starts once the script runs, however
// long the interpreter took to start.
class FakeContext final : public test::FakeTaskContext {
 public:
  FakeContext(std::string payload, milliseconds timeout) : FakeTaskContext(std::move(payload), timeout) {
    task_id = "0b9d7a52-7d7e-4c1e-9f0a-5a6b1c2d3e4f";
    type = "test.exec";
    tenant = "acme";
    queue = "scripts";
  }
};

struct TypeOptions {
  std::vector<std::string> command{kPython, kScript};
  uint32_t grace_ms = 0;
  uint32_t concurrency = 0;
  uint64_t max_result_bytes = 0;
};

TaskTypeSpec ExecSpec(const TypeOptions& o = {}) {
  v1::TaskTypeDefinition d;
  d.set_name("test.exec");
  d.set_version(3);
  d.mutable_schema()->set_any_json(true);
  auto* exec = d.mutable_handler()->mutable_exec();
  for (const auto& a : o.command) exec->add_command(a);
  exec->set_grace_ms(o.grace_ms);
  exec->set_concurrency(o.concurrency);
  d.set_max_result_bytes(o.max_result_bytes);
  return SpecFromDefinition(d.SerializeAsString());
}

std::shared_ptr<HandlerFactory> Factory(std::vector<std::string> pass_env = {}) {
  ExecHandlerOptions options;
  options.shim = FILA_EXEC_SHIM;
  options.pass_env = std::move(pass_env);
  return MakeExecHandlerFactory(options);
}

// Processes of this test still alive: its children (none should be left),
// and the pids a script wrote to its pidfile.
std::vector<pid_t> Alive(const std::string& pidfile) {
  std::vector<pid_t> alive;
  std::ifstream in(pidfile);
  for (pid_t pid; in >> pid;) {
    if (::kill(pid, 0) == 0) alive.push_back(pid);
  }
  return alive;
}

std::string Children() {
  std::string all;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    all += std::string(std::istreambuf_iterator<char>(in), {});
  }
  return all;
}

size_t OpenFds() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
}

class ExecHandler : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/fila-exec-test.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    pidfile_ = dir_ + "/pids";
    fds_before_ = OpenFds();
  }
  void TearDown() override {
    EXPECT_EQ(Children(), "") << "a child of the test is left";
    EXPECT_EQ(OpenFds(), fds_before_) << "descriptors leaked";
    for (pid_t pid : Alive(pidfile_)) ::kill(pid, SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  // The payload JSON with the test's pidfile.
  std::string Payload(nlohmann::json payload) {
    payload["pidfile"] = pidfile_;
    return payload.dump();
  }

  std::string Run(const TaskTypeSpec& spec, FakeContext& ctx) { return Factory()->Make(spec)(ctx); }

  // Runs one task; returns "ok: <result>", "transient: <error>" or "permanent: <error>".
  std::string Outcome(const TaskTypeSpec& spec, const std::string& payload_json, milliseconds timeout = 30s) {
    FakeContext ctx(PayloadFromJson(spec, Payload(nlohmann::json::parse(payload_json))), timeout);
    try {
      return "ok: " + Run(spec, ctx);
    } catch (const PermanentError& e) {
      return std::string("permanent: ") + e.what();
    } catch (const TransientError& e) {
      return std::string("transient: ") + e.what();
    }
  }

  std::string dir_;
  std::string pidfile_;
  size_t fds_before_ = 0;
};

TEST_F(ExecHandler, PassesThePayloadOnStdinAndTheResultOnStdout) {
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "echo"}, {"n", 7}})), 30s);
  ctx.attempt = 2;
  const auto result = nlohmann::json::parse(Run(spec, ctx));
  EXPECT_EQ(result["payload"]["n"], 7);
  EXPECT_EQ(result["attempt"], 2);
  ASSERT_EQ(ctx.progress().size(), 1u);
  EXPECT_EQ(ctx.progress()[0], std::make_pair(50, std::string("halfway")));
}

TEST_F(ExecHandler, ProgressLinesReachTheContextAndBadOnesAreIgnored) {
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "progress"}})), 30s);
  EXPECT_EQ(Run(spec, ctx), "done\n");
  std::vector<int> percents;
  for (const auto& [percent, message] : ctx.progress()) percents.push_back(percent);
  EXPECT_EQ(percents, (std::vector<int>{10, 60, 100}));
  EXPECT_EQ(ctx.progress().back().second, "step 250");
}

TEST_F(ExecHandler, TheEnvironmentHoldsTheTaskAndNoneOfTheWorkersSecrets) {
  ::setenv("FILA_DATABASE_URL", "postgresql://fila:hunter2@db/fila", 1);
  ::setenv("FILA_OMIE_APP_SECRET", "s3cret", 1);
  ::setenv("SOME_TOKEN", "t0ken", 1);
  ::setenv("SCRIPT_SETTING", "passed", 1);
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "env"}})), 60s);
  const int64_t before = NowUnixMs();
  const auto env = nlohmann::json::parse(Factory({"SCRIPT_SETTING"})->Make(spec)(ctx));
  EXPECT_EQ(env["FILA_TASK_ID"], ctx.TaskId());
  EXPECT_EQ(env["FILA_ATTEMPT"], "1");
  EXPECT_EQ(env["FILA_TASK_TYPE"], "test.exec");
  EXPECT_EQ(env["FILA_TYPE_VERSION"], "3");
  EXPECT_EQ(env["FILA_TENANT"], "acme");
  EXPECT_EQ(env["FILA_QUEUE"], "scripts");
  EXPECT_EQ(env["FILA_PROGRESS_FD"], "3");
  const int64_t deadline = std::stoll(env["FILA_DEADLINE_UNIX_MS"].get<std::string>());
  EXPECT_NEAR(static_cast<double>(deadline - before), 60000.0, 2000.0);
  EXPECT_EQ(env["FILA_DEADLINE"].get<std::string>().size(), std::string("2026-12-01T09:00:00.250Z").size())
      << env["FILA_DEADLINE"];
  EXPECT_EQ(env["PATH"], std::string(std::getenv("PATH")));
  EXPECT_EQ(env["SCRIPT_SETTING"], "passed");
  for (const char* hidden : {"FILA_DATABASE_URL", "FILA_OMIE_APP_SECRET", "SOME_TOKEN"}) {
    EXPECT_FALSE(env.contains(hidden)) << hidden;
  }
  for (const char* name : {"FILA_DATABASE_URL", "FILA_OMIE_APP_SECRET", "SOME_TOKEN", "SCRIPT_SETTING"}) {
    ::unsetenv(name);
  }
}

TEST_F(ExecHandler, TheCommandGetsNoDescriptorOfTheWorker) {
  // A descriptor opened without O_CLOEXEC, as a library might.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "fds"}})), 30s);
  const auto fds = nlohmann::json::parse(Run(spec, ctx));
  ::close(leaky);
  std::vector<std::string> numbers;
  for (const auto& [fd, target] : fds.items()) numbers.push_back(fd);
  EXPECT_EQ(numbers, (std::vector<std::string>{"0", "1", "2", "3"})) << fds.dump();
}

TEST_F(ExecHandler, ExitSeventyFiveIsTransientAndOtherStatusesArePermanent) {
  const auto spec = ExecSpec();
  const auto retry = Outcome(spec, R"({"mode": "tempfail"})");
  EXPECT_EQ(retry.rfind("transient: the command exited with status 75", 0), 0u) << retry;
  EXPECT_NE(retry.find("upstream busy, attempt 1"), std::string::npos) << retry;

  // The tail of stderr, not its head: the error comes last.
  const auto failed = Outcome(spec, R"({"mode": "fail", "why": "no such customer", "noise": 5000})");
  EXPECT_EQ(failed.rfind("permanent: the command exited with status 3: …", 0), 0u) << failed;
  EXPECT_NE(failed.find("bad input: no such customer"), std::string::npos) << failed;
  EXPECT_LT(failed.size(), kMaxStoredText);

  const auto crashed = Outcome(spec, R"({"mode": "crash"})");
  EXPECT_EQ(crashed, "transient: the command was killed by SIGSEGV");
}

TEST_F(ExecHandler, AMissingOrNonExecutableProgramIsAPermanentError) {
  EXPECT_EQ(Outcome(ExecSpec({.command = {"true"}}), R"({})"), "ok: ") << "found in PATH";
  auto missing = Outcome(ExecSpec({.command = {"fila-no-such-program"}}), R"({})");
  EXPECT_EQ(missing, "permanent: the command 'fila-no-such-program' cannot start: no such program (looked up in "
                     "the PATH of the command's environment)");
  const std::string script = dir_ + "/not-executable.py";
  std::filesystem::copy_file(kScript, script);
  ::chmod(script.c_str(), 0644);
  const auto denied = Outcome(ExecSpec({.command = {script}}), R"({})");
  EXPECT_NE(denied.find("permanent: the command '" + script + "' cannot start: permission denied"),
            std::string::npos)
      << denied;
}

TEST_F(ExecHandler, TheDeadlineStopsTheCommandAndEverythingItStarted) {
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "sleep"}})), 60s);
  Deadline running{};
  ctx.on_progress = [&] {
    running = SteadyClock::now();
    ctx.ExpireIn(500ms);
  };
  EXPECT_THROW(
      try { Run(spec, ctx); } catch (const TransientError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "the command was stopped at the task's deadline and was killed by SIGTERM");
        throw;
      },
      TransientError);
  EXPECT_LT(SteadyClock::now() - running, 1500ms);
  EXPECT_EQ(Alive(pidfile_).size(), 0u);
  std::ifstream in(pidfile_);
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(in), {}, '\n'), 2) << "the script and its child";
}

TEST_F(ExecHandler, ACancelStopsTheCommand) {
  const auto spec = ExecSpec();
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "sleep"}})), 60s);
  ctx.on_progress = [&] { ctx.cancel = true; };  // as soon as it runs
  try {
    Run(spec, ctx);
    ADD_FAILURE() << "returned";
  } catch (const TransientError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the command was stopped (the task was cancelled or the worker is stopping) and was killed by "
              "SIGTERM");
  }
  EXPECT_EQ(Alive(pidfile_).size(), 0u);
}

TEST_F(ExecHandler, ACommandThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  const auto spec = ExecSpec({.grace_ms = 700});
  FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "ignore_term"}})), 60s);
  Deadline running{};
  ctx.on_progress = [&] {
    running = SteadyClock::now();
    ctx.ExpireIn(300ms);
  };
  EXPECT_THROW(
      try { Run(spec, ctx); } catch (const TransientError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "the command was stopped at the task's deadline and was killed by SIGKILL");
        throw;
      },
      TransientError);
  const auto took = SteadyClock::now() - running;
  EXPECT_GE(took, 1000ms) << "300 ms to the deadline, then 700 ms of grace";
  EXPECT_LT(took, 2500ms);
  EXPECT_EQ(Alive(pidfile_).size(), 0u);
}

TEST_F(ExecHandler, NothingTheCommandForkedOutlivesIt) {
  const auto spec = ExecSpec();
  for (const char* mode : {"fork_and_exit", "setsid", "double_fork"}) {
    EXPECT_EQ(Outcome(spec, nlohmann::json{{"mode", mode}}.dump()), "ok: parent done\n") << mode;
    EXPECT_EQ(Alive(pidfile_).size(), 0u) << mode;
  }
  std::ifstream in(pidfile_);
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(in), {}, '\n'), 6) << "3 scripts and 3 children";
}

TEST_F(ExecHandler, StdoutOverTheResultLimitKillsTheCommand) {
  const auto spec = ExecSpec({.max_result_bytes = 65536});
  const auto t0 = SteadyClock::now();
  EXPECT_EQ(Outcome(spec, R"({"mode": "flood_stdout", "mib": 1000})"),
            "permanent: the command wrote more than 65536 bytes on stdout (the type's max_result_bytes) and was "
            "killed");
  EXPECT_LT(SteadyClock::now() - t0, 5s) << "1000 MiB were not written";
}

TEST_F(ExecHandler, AStderrFloodKeepsItsTail) {
  const auto outcome = Outcome(ExecSpec(), R"({"mode": "flood_stderr", "mib": 20})");
  EXPECT_EQ(outcome.rfind("permanent: the command exited with status 1: …", 0), 0u) << outcome.substr(0, 200);
  EXPECT_NE(outcome.find("the last words"), std::string::npos);
  EXPECT_LT(outcome.size(), kMaxStoredText);
}

TEST_F(ExecHandler, AtMostConcurrencyCommandsOfATypeRunAtOnce) {
  const auto spec = ExecSpec({.concurrency = 2});
  const auto handler = Factory()->Make(spec);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back([&] {
      FakeContext ctx(PayloadFromJson(spec, Payload({{"mode", "sleep"}, {"seconds", 0.3}})), 30s);
      ctx.on_progress = [&] { peak = std::max(peak.load(), ++running); };
      EXPECT_EQ(handler(ctx), "woke up\n");
      --running;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(peak.load(), 2);
}

TEST(ExecHandlerFactory, RefusesOtherKindsAndBadSettings) {
  TaskTypeSpec http = ExecSpec();
  http.handler.kind = HandlerSpec::Kind::kHttp;
  EXPECT_THROW(Factory()->Make(http), PermanentError);
  ::setenv("FILA_EXEC_SHIM", "/nonexistent/fila-exec-shim", 1);
  EXPECT_THROW(ExecOptionsFromEnv(5000ms), PermanentError);
  ::setenv("FILA_EXEC_SHIM", FILA_EXEC_SHIM, 1);
  ::setenv("FILA_EXEC_PASS_ENV", "GOOD_NAME,FILA_DATABASE_URL", 1);
  EXPECT_THROW(ExecOptionsFromEnv(5000ms), PermanentError);
  ::setenv("FILA_EXEC_PASS_ENV", "GOOD_NAME,bad-name", 1);
  EXPECT_THROW(ExecOptionsFromEnv(5000ms), PermanentError);
  ::setenv("FILA_EXEC_PASS_ENV", "GOOD_NAME, OTHER", 1);
  EXPECT_THROW(ExecOptionsFromEnv(5000ms), PermanentError);
  ::setenv("FILA_EXEC_PASS_ENV", "GOOD_NAME,OTHER", 1);
  const auto options = ExecOptionsFromEnv(5000ms);
  EXPECT_EQ(options.pass_env, (std::vector<std::string>{"GOOD_NAME", "OTHER"}));
  EXPECT_EQ(options.max_grace, 4500ms);
  EXPECT_EQ(options.shim, FILA_EXEC_SHIM);
  ::unsetenv("FILA_EXEC_PASS_ENV");
  ::unsetenv("FILA_EXEC_SHIM");
}

}  // namespace
}  // namespace fila
