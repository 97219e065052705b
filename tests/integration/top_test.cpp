// `fila top` against a real scheduler and worker: inside tmux (send keys,
// read the screen), over the API, and --once for scripts.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "support/harness.h"

extern char** environ;

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::TestDatabase;

struct Output {
  int status = -1;  // raw wait status
  std::string out;
};

// Runs a program from PATH, stdout captured, stderr inherited.
Output Run(const std::vector<std::string>& args) {
  int fds[2];
  // Close-on-exec: a tmux server forked from the child must not keep the
  // write end open, or the read below never ends.
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  Output result;
  char buf[4096];
  for (ssize_t n; rc == 0 && (n = ::read(fds[0], buf, sizeof(buf))) > 0;) result.out.append(buf, n);
  ::close(fds[0]);
  if (rc == 0) ::waitpid(pid, &result.status, 0);
  return result;
}

bool HaveTmux() {
  Output r = Run({"tmux", "-V"});
  return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

// A private tmux server (its own socket, no user config) running a shell
// command in a detached 160x40 window: wide enough that top shows whole
// task ids. The pane stays after the command exits, to read what it printed
// last (tmux's own #{pane_dead_status} can stay empty: the pty closes before
// tmux reaps the process).
class Tmux final {
 public:
  Tmux(const std::string& command, const std::map<std::string, std::string>& env)
      : socket_(test::RandomName("filatop")) {
    std::vector<std::string> args{"new-session", "-d", "-s", "top", "-x", "160", "-y", "40"};
    for (const auto& [k, v] : env) args.insert(args.end(), {"-e", k + "=" + v});
    args.insert(args.end(), {command, ";", "set-option", "-t", "top", "remain-on-exit", "on"});
    Output r = Tmux::Command(args);
    EXPECT_EQ(r.status, 0) << "tmux new-session failed";
  }
  ~Tmux() {
    auto path = Command({"display-message", "-p", "#{socket_path}"}).out;
    Command({"kill-server"});
    if (!path.empty()) ::unlink(path.substr(0, path.find('\n')).c_str());  // tmux leaves it
  }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  // With the scrollback: tmux's "Pane is dead" line can scroll the first
  // line off the screen.
  std::string Screen() { return Command({"capture-pane", "-p", "-S", "-", "-t", "top"}).out; }
  void Keys(const std::string& keys) { Command({"send-keys", "-t", "top", keys}); }

 private:
  Output Command(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", socket_, "-f", "/dev/null"});
    return Run(args);
  }
  std::string socket_;
};

class FilaTop : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("top");
    worker_id_ = test::RandomName("topworker");
    port_ = test::FreePort();
    env_ = {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", test::Stack().amqp_url}};
    auto scheduler_env = env_;
    scheduler_env["FILA_API_LISTEN"] = "127.0.0.1:" + std::to_string(port_);
    scheduler_ =
        std::make_unique<Process>("fila-scheduler", std::vector<std::string>{}, scheduler_env);
    worker_ =
        std::make_unique<Process>("fila-worker",
                                  std::vector<std::string>{"--queues", queue_, "--concurrency", "2",
                                                           "--worker-id", worker_id_},
                                  env_);
    auto r = test::RunFila(
        "fila", {"enqueue", "sleep", "--payload-json", R"({"ms": 20000})", "--queue", queue_},
        env_);
    ASSERT_EQ(r.ExitCode(), 0) << r.err;
    task_id_ = r.out.substr(0, r.out.find('\n'));
    ASSERT_EQ(task_id_.size(), 36u) << r.out;
  }

  // Waits until the screen shows the task id and a progress above 0%.
  std::string AwaitTaskOnScreen(Tmux& tmux) {
    const std::regex progress(task_id_ + R"( .* ([1-9][0-9]?)% slept [0-9]+ ms)");
    std::string screen;
    test::WaitFor(
        [&] {
          screen = tmux.Screen();
          return std::regex_search(screen, progress);
        },
        20s);
    return screen;
  }

  // `fila <args>` in the pane, then its exit status and the terminal
  // settings it left behind.
  std::string TopCommand(const std::string& args) {
    return "'" + test::BinDir() + "/fila' " + args + "; echo \"top exited $?\"; stty -a";
  }

  // Waits until top exited 0 and left the terminal in canonical mode with
  // echo (stty prints "-icanon" / "-echo" when they are off).
  static testing::AssertionResult AwaitCleanExit(Tmux& tmux) {
    const std::regex restored(R"(top exited 0\n(.|\n)*(^|\s)icanon\s(.|\n)*(^|\s)echo\s)");
    std::string screen;
    if (test::WaitFor([&] { return std::regex_search(screen = tmux.Screen(), restored); }, 5s)) {
      return testing::AssertionSuccess();
    }
    return testing::AssertionFailure() << "top did not exit 0 with the terminal restored:\n"
                                       << screen;
  }

  std::string Token(const std::string& role) {
    auto r = test::RunFila("fila", {"tokens", "create", "--tenant", "ops", "--role", role}, env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  std::unique_ptr<TestDatabase> db_;  // first: dropped after the processes are gone
  std::unique_ptr<Process> scheduler_;
  std::unique_ptr<Process> worker_;
  std::map<std::string, std::string> env_;
  std::string queue_, worker_id_, task_id_;
  int port_ = 0;
};

TEST_F(FilaTop, ShowsARunningTaskAndQuitsOnQ) {
  if (!HaveTmux()) GTEST_SKIP() << "tmux is not installed (scripts/install-deps installs it)";
  Tmux tmux(TopCommand("top --interval-ms 300"), env_);
  std::string screen = AwaitTaskOnScreen(tmux);
  ASSERT_TRUE(std::regex_search(screen, std::regex(task_id_ + R"( .* [1-9][0-9]?% slept)")))
      << "top never showed the task and its progress:\n"
      << screen << worker_->Stderr();
  EXPECT_NE(screen.find(worker_id_), std::string::npos) << screen;
  EXPECT_NE(screen.find(queue_), std::string::npos) << screen;
  EXPECT_NE(screen.find("q quits"), std::string::npos) << screen;

  tmux.Keys("q");
  EXPECT_TRUE(AwaitCleanExit(tmux)) << "after q";
}

TEST_F(FilaTop, WorksOverTheApiAndQuitsOnCtrlC) {
  if (!HaveTmux()) GTEST_SKIP() << "tmux is not installed (scripts/install-deps installs it)";
  ASSERT_TRUE(test::WaitFor(
      [&] {
        return test::Http("GET", "http://127.0.0.1:" + std::to_string(port_) + "/v1/queues")
                   .status != 0;
      },
      20s))
      << scheduler_->Stderr();
  const std::string api = "http://127.0.0.1:" + std::to_string(port_);
  Tmux tmux(TopCommand("--api " + api + " --token " + Token("operator") + " top"), {});
  std::string screen = AwaitTaskOnScreen(tmux);
  ASSERT_TRUE(std::regex_search(screen, std::regex(task_id_ + R"( .* [1-9][0-9]?% slept)")))
      << "top never showed the task over the API:\n"
      << screen;
  EXPECT_NE(screen.find("API " + api), std::string::npos) << screen;

  tmux.Keys("C-c");
  EXPECT_TRUE(AwaitCleanExit(tmux)) << "after Ctrl-C";

  // Producers may not list every tenant's workers: a clear error, exit 2.
  auto r = test::RunFila("fila", {"--api", api, "--token", Token("producer"), "top", "--once"}, {});
  EXPECT_EQ(r.ExitCode(), 2) << r.out << r.err;
  EXPECT_NE(r.err.find("operator token"), std::string::npos) << r.err;
}

TEST_F(FilaTop, OncePrintsOneFrameForScripts) {
  test::RunResult r;
  // The worker shows once it heartbeats; the task once it is claimed.
  ASSERT_TRUE(test::WaitFor(
      [&] {
        r = test::RunFila("fila", {"top", "--once", "--width", "80"}, env_);
        return r.ExitCode() == 0 && r.out.find(task_id_.substr(0, 8)) != std::string::npos;
      },
      20s))
      << r.out << r.err;
  EXPECT_NE(r.out.find(worker_id_), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no terminal control in --once";
  size_t start = 0;
  for (size_t end; (end = r.out.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = r.out.substr(start, end - start);
    size_t columns = 0;
    for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
    EXPECT_LE(columns, 80u) << line;
  }
}

}  // namespace
}  // namespace fila
