#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fila::bench {

// A scenario could not produce a figure. main.cpp prints it in the row and
// exits non-zero.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A progress line on stderr ("fila-bench: ..."); stdout holds only the table.
void Say(const std::string& line);

// SIGINT/SIGTERM of fila-bench: every wait loop checks it, so the scenario
// unwinds and its destructors stop the daemons and drop the database.
void InstallInterruptHandler();
// Throws BenchError once fila-bench was interrupted.
void ThrowIfInterrupted();

// The folder of this executable: fila, fila-worker and fila-scheduler are
// built next to it.
std::string BinDir();

struct ProcStats {
  double cpu_s = 0;    // utime + stime, its own and its reaped children's
  int64_t hwm_kb = 0;  // VmHWM: peak resident set
  int64_t rss_kb = 0;  // VmRSS: resident set now
};
// Throws BenchError when the process is gone.
ProcStats ReadProcStats(pid_t pid);

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// A child process in its own process group, killed with SIGKILL when
// fila-bench dies (PR_SET_PDEATHSIG) or when the Child is destroyed while it
// still runs: a benchmark never leaves daemons behind.
// Not thread-safe; spawn from the main thread (PDEATHSIG follows the thread).
class Child final {
 public:
  // Runs `program` with `args` and this process's environment plus `env`.
  // stdout goes to `stdout_fd` (-1: the log file), stderr to `log_path`.
  static std::unique_ptr<Child> Spawn(const std::string& program,
                                      const std::vector<std::string>& args, const EnvVars& env,
                                      const std::string& log_path, int stdout_fd = -1);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // False once it exited (and was reaped); exit_status() then tells how.
  bool Running();
  int exit_status() const { return status_; }
  // Waits up to `timeout` for it to exit on its own; true once it has.
  bool Wait(std::chrono::milliseconds timeout);
  // Sends SIGTERM once (repeats are not sent: some daemons read a second
  // one as "hurry up").
  void SendTerm();
  // SendTerm, then SIGKILL to its group after `grace`. Returns the exit
  // code (128 + signal when killed).
  int Terminate(std::chrono::milliseconds grace);
  void Kill();
  // The last lines of its log, for error messages.
  std::string LogTail(size_t lines = 15) const;

 private:
  Child(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}
  bool Reap(bool block);

  pid_t pid_;
  std::string name_;
  std::string log_path_;
  bool exited_ = false;
  bool term_sent_ = false;
  int status_ = -1;
};

// Runs `program` to completion within `timeout` and returns its stdout;
// its stderr goes to `log_path`. BenchError on a non-zero exit (with the
// log's tail), a timeout or an interrupt.
std::string RunCapture(const std::string& program, const std::vector<std::string>& args,
                       const EnvVars& env, const std::string& log_path,
                       std::chrono::seconds timeout);

}  // namespace fila::bench
