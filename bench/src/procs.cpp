#include "procs.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace fila::bench {
namespace {

std::atomic<bool> interrupted{false};

void OnInterrupt(int) { interrupted.store(true); }

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Everything execve needs, built before fork: the child may only make
// async-signal-safe calls (the parent can have other threads).
struct ExecImage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecImage(const std::string& program, const std::vector<std::string>& args, const EnvVars& env) {
    strings.push_back(program);
    strings.insert(strings.end(), args.begin(), args.end());
    const size_t argc = strings.size();
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      bool overridden = false;
      for (const auto& [key, value] : env) {
        if (entry.starts_with(key + "=")) overridden = true;
      }
      if (!overridden) strings.emplace_back(entry);
    }
    for (const auto& [key, value] : env) strings.push_back(key + "=" + value);
    for (size_t i = 0; i < strings.size(); ++i) {
      (i < argc ? argv : envp).push_back(strings[i].data());
    }
    argv.push_back(nullptr);
    envp.push_back(nullptr);
  }
};

pid_t ForkExec(const ExecImage& image, int stdout_fd, int stderr_fd) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw BenchError(Errno("fork"));
  if (pid == 0) {
    // Its own group: a Ctrl-C reaches fila-bench only, which then stops
    // the children in order; killpg takes grandchildren (Celery's pool) too.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(stdout_fd, 1);
    dup2(stderr_fd, 2);
    execve(image.argv[0], image.argv.data(), image.envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so that killpg works before the child ran
  return pid;
}

// `program` itself when it names a path, else its first match on PATH (the
// child calls execve, which does not search). BenchError when there is none.
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) == 0) return program;
    throw BenchError(program + " is not an executable: " + std::strerror(errno));
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    std::string candidate = std::string(dirs.substr(0, colon)) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
  }
  throw BenchError(program + " not found on PATH");
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

void Say(const std::string& line) {
  std::string out = "fila-bench: " + line + "\n";
  ssize_t ignored = write(2, out.data(), out.size());  // one write: lines from threads stay whole
  (void)ignored;
}

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void ThrowIfInterrupted() {
  if (interrupted.load()) throw BenchError("interrupted");
}

std::string BinDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

ProcStats ReadProcStats(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(base + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat))
    throw BenchError("process " + std::to_string(pid) + " is gone");
  // The command name may hold spaces and parentheses: fields start after
  // the last ')'. utime, stime, cutime and cstime are fields 14 to 17
  // (1-based): the last two are the reaped children's (exec handlers'
  // commands run in children of the worker: their CPU is the worker's work).
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t ticks = 0;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stoull(field);
  }
  ProcStats stats;
  stats.cpu_s = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) stats.hwm_kb = std::stoll(line.substr(6));
    if (line.starts_with("VmRSS:")) stats.rss_kb = std::stoll(line.substr(6));
  }
  return stats;
}

std::unique_ptr<Child> Child::Spawn(const std::string& program,
                                    const std::vector<std::string>& args, const EnvVars& env,
                                    const std::string& log_path, int stdout_fd) {
  const std::string path = ResolveProgram(program);
  ExecImage image(path, args, env);
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw BenchError(Errno("cannot open " + log_path));
  pid_t pid = -1;
  try {
    pid = ForkExec(image, stdout_fd >= 0 ? stdout_fd : log, log);
  } catch (...) {
    close(log);
    throw;
  }
  close(log);
  return std::unique_ptr<Child>(
      new Child(pid, std::filesystem::path(program).filename().string(), log_path));
}

Child::~Child() {
  if (!exited_) Kill();
}

bool Child::Reap(bool block) {
  if (exited_) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = DecodeStatus(status);
  } else if (r < 0 && errno == ECHILD) {
    exited_ = true;
  }
  return exited_;
}

bool Child::Running() { return !Reap(false); }

bool Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void Child::SendTerm() {
  if (Reap(false) || term_sent_) return;
  kill(pid_, SIGTERM);
  term_sent_ = true;
}

int Child::Terminate(std::chrono::milliseconds grace) {
  if (Reap(false)) return status_;
  SendTerm();
  if (!Wait(grace)) Kill();
  return status_;
}

void Child::Kill() {
  if (Reap(false)) return;
  killpg(pid_, SIGKILL);
  kill(pid_, SIGKILL);
  Reap(true);
}

std::string Child::LogTail(size_t lines) const {
  std::ifstream in(log_path_);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& line : tail) out += "    " + line + "\n";
  return out.empty() ? "    (empty log " + log_path_ + ")\n" : out;
}

std::string RunCapture(const std::string& program, const std::vector<std::string>& args,
                       const EnvVars& env, const std::string& log_path,
                       std::chrono::seconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw BenchError(Errno("pipe"));
  std::unique_ptr<Child> child;
  try {
    child = Child::Spawn(program, args, env, log_path, fds[1]);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, 200);
    if (ready > 0) {
      ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n > 0) {
        out.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // EOF: the program closed its stdout
      if (errno != EINTR) break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      close(fds[0]);
      child->Kill();
      throw BenchError(child->name() + " did not finish within " + std::to_string(timeout.count()) +
                       " s; log:\n" + child->LogTail());
    }
    try {
      ThrowIfInterrupted();
    } catch (...) {
      close(fds[0]);
      child->Kill();  // the whole group: Celery's worker and pool too
      throw;
    }
  }
  close(fds[0]);
  // stdout closed: it is exiting.
  if (!child->Wait(std::chrono::seconds(30))) child->Kill();
  const int status = child->exit_status();
  if (status != 0) {
    throw BenchError(child->name() + " " + (args.empty() ? "" : args.front()) + " exited with " +
                     std::to_string(status) + "; log:\n" + child->LogTail());
  }
  return out;
}

}  // namespace fila::bench
