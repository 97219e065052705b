#include "fila/exec_handler/exec_shim.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shim_protocol.h"

// A process of its own, single-threaded, started per task: it uses the C
// library only (no fila library, no logging), and reports to the worker
// through its status descriptor alone.

namespace fila::exec {
namespace {

constexpr int kExitUsage = 2;
constexpr long kRunningWaitMs = 1000;
constexpr long kKillRoundMs = 10;

long NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void Report(const std::string& line) {
  const std::string text = line + "\n";
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t n = ::write(kStatusFd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the worker is gone: nobody to tell
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

// The parent of `pid` from /proc/<pid>/stat ("pid (comm) state ppid ..."):
// comm may hold spaces and parentheses, so the fields start after the last
// ')'. -1 when the process is gone.
pid_t ParentOf(const char* pid) {
  const std::string path = std::string("/proc/") + pid + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buffer[512];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* close = std::strrchr(buffer, ')');
  if (close == nullptr) return -1;
  char state = 0;
  int parent = -1;
  if (std::sscanf(close + 1, " %c %d", &state, &parent) != 2) return -1;
  return parent;
}

// Every live descendant of this process, parents before their children.
// One pass over /proc builds the tree; the walk is breadth first, never
// recursive, so a deep chain of processes costs no stack.
std::vector<pid_t> Descendants() {
  std::unordered_multimap<pid_t, pid_t> children;
  if (DIR* proc = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(proc)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      const pid_t parent = ParentOf(entry->d_name);
      if (parent > 0) children.emplace(parent, static_cast<pid_t>(std::atoi(entry->d_name)));
    }
    ::closedir(proc);
  }
  std::vector<pid_t> out;
  std::deque<pid_t> next{::getpid()};
  while (!next.empty()) {
    const auto [first, last] = children.equal_range(next.front());
    next.pop_front();
    for (auto it = first; it != last; ++it) {
      out.push_back(it->second);
      next.push_back(it->second);
    }
  }
  return out;
}

class Shim final {
 public:
  Shim(pid_t command, long grace_ms) : command_(command), grace_ms_(grace_ms) {}

  // Until every process of the command is gone; returns the status line.
  std::string Run() {
    while (true) {
      ReapChildren();
      if (done_ || killing_) {
        if (KillRound()) return status_;
        Wait(kKillRoundMs);
        continue;
      }
      const long now = NowMs();
      if (stopping_ && now >= kill_at_) {
        Kill();
        continue;
      }
      Wait(stopping_ ? kill_at_ - now : kRunningWaitMs);
    }
  }

 private:
  // Waits up to `ms` for a child's end or a request of the worker.
  void Wait(long ms) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, kStopSignal, kKillSignal}) sigaddset(&set, s);
    const timespec timeout{ms / 1000, (ms % 1000) * 1000000};
    const int signal = ::sigtimedwait(&set, nullptr, &timeout);
    if (signal == kStopSignal && !stopping_ && !done_) {
      stopping_ = true;
      kill_at_ = NowMs() + grace_ms_;
      ::killpg(command_, SIGTERM);
      for (pid_t pid : Descendants()) ::kill(pid, SIGTERM);
    } else if (signal == kKillSignal) {
      Kill();
    }
  }

  void Kill() {
    if (killing_) return;
    killing_ = true;
    kill_started_ = NowMs();
  }

  // Reaps every child that ended. The command is reaped only after its
  // process group was killed: while it is a zombie, its pid (the group's
  // id) cannot be reused, so killpg never reaches another process.
  void ReapChildren() {
    while (true) {
      siginfo_t info{};
      if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
      const pid_t pid = info.si_pid;
      if (pid == command_ && !done_) {
        done_ = true;
        status_ = std::string(info.si_code == CLD_EXITED ? kExit : kSignal) + " " + std::to_string(info.si_status);
        ::killpg(command_, SIGKILL);
        if (!killing_) kill_started_ = NowMs();
      }
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  // SIGKILL to every process left; true once there is none (or after
  // kMaxKillMs: a process in uninterruptible sleep, or one we may not
  // signal, such as a setuid program, is left behind and reported).
  bool KillRound() {
    siginfo_t info{};
    // No child at all (ECHILD) means no descendant either: a process whose
    // parent dies is reparented to us, the subreaper. The usual end of a
    // command, and the cheap one (no walk of /proc).
    if (done_ && ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
    if (!done_) ::killpg(command_, SIGKILL);
    const std::vector<pid_t> left = Descendants();
    if (left.empty()) return false;  // only zombies: the next round reaps them
    if (done_ && NowMs() - kill_started_ > kMaxKillMs) {
      status_ += kStraysLeft;
      return true;
    }
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    return false;
  }

  const pid_t command_;
  const long grace_ms_;
  bool stopping_ = false;
  bool killing_ = false;
  bool done_ = false;
  long kill_at_ = 0;
  long kill_started_ = 0;
  std::string status_;
};

// The command's descriptors 0-3 are closed here once it has them, so that
// the worker sees their end when the command's last process is gone.
void LetGoOfTheCommandsDescriptors() {
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= kProgressFd; ++fd) {
    if (fd <= 2 && null >= 0) {
      ::dup2(null, fd);
    } else {
      ::close(fd);
    }
  }
  if (null > kProgressFd) ::close(null);
}

}  // namespace

int ShimMain(int argc, char** argv) {
  if (argc < 4) {
    Report(std::string(kFail) + " usage: fila-exec-shim <worker pid> <grace ms> <program> [args...]");
    return kExitUsage;
  }
  // A stop request when the worker's thread that started us dies, so that
  // the command gets its grace period and nothing outlives the worker.
  ::prctl(PR_SET_PDEATHSIG, kStopSignal);
  if (std::to_string(::getppid()) != argv[1]) return kExitUsage;  // died before the line above
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    Report(std::string(kFail) + " PR_SET_CHILD_SUBREAPER: " + std::strerror(errno));
    return kExitUsage;
  }
  ::fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);
  const long grace_ms = std::strtol(argv[2], nullptr, 10);
  // Requests are taken with sigtimedwait; the worker's end leaves writes to
  // the status pipe failing, never killing us.
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int s : {SIGCHLD, kStopSignal, kKillSignal}) sigaddset(&blocked, s);
  ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // A process group of its own: SIGTERM reaches what it forked at once.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t command = -1;
  // The PATH looked up is the command's (this process's environment is the
  // one the worker built for it).
  const int rc = ::posix_spawnp(&command, argv[3], nullptr, &attr, argv + 3, ::environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Report(std::string(kSpawn) + " " + std::to_string(rc));
    return 0;
  }
  LetGoOfTheCommandsDescriptors();
  Report(Shim(command, grace_ms).Run());
  return 0;
}

}  // namespace fila::exec
