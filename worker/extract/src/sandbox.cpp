#include "fila/extract/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include "exit_codes.h"
#include "fila/config.h"
#include "fila/errors.h"
#include "fila/text_limit.h"

namespace fila::extract {
namespace {

constexpr size_t kMaxStderrKept = 64 * 1024;
constexpr size_t kWriteChunk = 64 * 1024;
constexpr int kPollMs = 50;
constexpr rlim_t kMaxOpenFiles = 32;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

class Fd final {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw TransientError(Errno("cannot create a pipe for the extractor"));
  return {Fd(fds[0]), Fd(fds[1])};
}

void NonBlocking(const Fd& fd) { ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK); }

// SIGPIPE is blocked on this thread while it writes to the helper (which
// may die mid-document); a pending one is consumed before the mask comes
// back, so it never reaches the worker, whose default action is to die.
class SigpipeBlocked final {
 public:
  SigpipeBlocked() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlocked() {
    if (sigismember(&old_, SIGPIPE)) return;
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
      const timespec zero{0, 0};
      sigtimedwait(&set_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t set_;
  sigset_t old_;
};

// The helper until it is reaped: whoever leaves early kills and reaps it.
class Child final {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool TryReap(int& status, rusage& usage) {
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
    if (r != pid_) return false;
    pid_ = -1;
    return true;
  }

 private:
  pid_t pid_;
};

class SpawnSetup final {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, size_t input_bytes, const Pipe& in,
            const Pipe& out, const Pipe& err) {
  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err.write.get(), 2);
  // None of the worker's descriptors (database and broker sockets) reaches
  // a process that parses hostile input, O_CLOEXEC or not.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  // Its own process group: a terminal's Ctrl-C stops the worker, which
  // then cancels the helper, instead of the helper dying as if it crashed.
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> storage{program};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // No secret of the worker's environment (database URL, API keys).
  std::string parent = std::string(kParentVariable) + "=" + std::to_string(::getpid());
  std::string size = std::string(kInputBytesVariable) + "=" + std::to_string(input_bytes);
  char* envp[] = {parent.data(), size.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp);
  if (rc != 0) throw TransientError("cannot start the extractor " + program + ": " + std::strerror(rc));
  return pid;
}

// Limits are set before the helper has its input, so before it parses.
void Limit(const Child& child, decltype(RLIMIT_AS) resource, rlim_t soft, rlim_t hard) {
  const rlimit limit{soft, hard};
  if (::prlimit(child.pid(), resource, &limit, nullptr) != 0 && errno != ESRCH) {
    throw TransientError(Errno("cannot limit the extractor"));
  }
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "unknown";
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return TruncateText(text);
}

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

[[noreturn]] void ThrowExit(int status, const rusage& usage, const std::string& errors, const Budget& budget) {
  const std::string memory = "more than " + std::to_string(budget.memory_mib) + " MiB of memory";
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == kExitRefused) {
      throw PermanentError(errors.empty() ? "the extractor refused the document" : Trimmed(errors));
    }
    if (code == kExitOutOfMemory) ThrowOverBudget(memory, budget.memory_mib, "FILA_EXTRACT_MEMORY_MB");
    throw PermanentError("the extractor failed on this document (exit status " + std::to_string(code) +
                         "): " + Trimmed(errors));
  }
  const int signal = WTERMSIG(status);
  const double cpu = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
  if (signal == SIGXCPU || (signal == SIGKILL && cpu >= static_cast<double>(budget.cpu_seconds))) {
    ThrowOverBudget("more than " + std::to_string(budget.cpu_seconds) + " s of CPU time", budget.cpu_seconds,
                    "FILA_EXTRACT_CPU_SECONDS");
  }
  // Killed by none of its limits: the OOM killer, when the extractors of
  // a pod overran its memory together (they volunteer, see tool.cpp). The
  // document may well fit when it runs alone.
  if (signal == SIGKILL) {
    throw TransientError("the extractor was killed by SIGKILL, not by its own limits: most likely the OOM "
                         "killer, the container's memory being short");
  }
  // poppler's allocator aborts with this line when malloc fails.
  if (signal == SIGABRT && errors.find("Out of memory") != std::string::npos) {
    ThrowOverBudget(memory, budget.memory_mib, "FILA_EXTRACT_MEMORY_MB");
  }
  throw PermanentError("the extractor was killed by signal " + std::to_string(signal) + " (" +
                       SignalName(signal) + ") on this document");
}

}  // namespace

std::string RunExtractor(const std::string& program, const Run& run, const Budget& budget) {
  Pipe in = MakePipe();
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  Child child(Spawn(program, run.args, run.input.size(), in, out, err));
  const rlim_t memory = static_cast<rlim_t>(budget.memory_mib) << 20;
  const rlim_t cpu = static_cast<rlim_t>(budget.cpu_seconds);
  Limit(child, RLIMIT_AS, memory, memory);
  // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
  Limit(child, RLIMIT_CPU, cpu, cpu + 1);
  Limit(child, RLIMIT_CORE, 0, 0);
  Limit(child, RLIMIT_FSIZE, 0, 0);
  Limit(child, RLIMIT_NOFILE, kMaxOpenFiles, kMaxOpenFiles);
  in.read.Close();
  out.write.Close();
  err.write.Close();
  NonBlocking(in.write);
  NonBlocking(out.read);
  NonBlocking(err.read);

  SigpipeBlocked sigpipe;
  std::string output;
  std::string errors;
  std::string_view input = run.input;
  if (input.empty()) in.write.Close();
  const auto check = [&] {
    if (run.cancelled && run.cancelled()) throw TransientError("document extraction cancelled");
    if (SteadyClock::now() >= run.deadline) throw TransientError("document extraction stopped at the task's deadline");
  };
  char buffer[64 * 1024];
  while (out.read.open() || err.read.open()) {
    check();
    pollfd fds[3];
    nfds_t n = 0;
    for (const Fd* fd : {&in.write, &out.read, &err.read}) {
      if (fd->open()) fds[n++] = {fd->get(), static_cast<short>(fd == &in.write ? POLLOUT : POLLIN), 0};
    }
    if (::poll(fds, n, kPollMs) < 0) {
      if (errno == EINTR) continue;
      throw TransientError(Errno("poll on the extractor's pipes"));
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.write.get()) {
        const ssize_t w = ::write(in.write.get(), input.data(), std::min(input.size(), kWriteChunk));
        if (w > 0) input.remove_prefix(static_cast<size_t>(w));
        // EPIPE: the helper is gone or stopped reading; its status says why.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || input.empty()) in.write.Close();
        continue;
      }
      const bool is_out = fds[i].fd == out.read.get();
      Fd& fd = is_out ? out.read : err.read;
      const ssize_t r = ::read(fd.get(), buffer, sizeof buffer);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        fd.Close();
        continue;
      }
      if (is_out) {
        output.append(buffer, static_cast<size_t>(r));
        if (output.size() > run.max_output_bytes) {
          throw PermanentError("the extractor's result exceeds " + std::to_string(run.max_output_bytes) + " bytes");
        }
      } else if (errors.size() < kMaxStderrKept) {
        errors.append(buffer, std::min(static_cast<size_t>(r), kMaxStderrKept - errors.size()));
      }
    }
  }
  int status = 0;
  rusage usage{};
  for (auto pause = std::chrono::milliseconds(1); !child.TryReap(status, usage);
       pause = std::min(pause * 2, std::chrono::milliseconds(kPollMs))) {
    check();
    std::this_thread::sleep_for(pause);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
  ThrowExit(status, usage, errors, budget);
}

std::string ExtractorPath() {
  std::string path = EnvOr("FILA_EXTRACTOR", "");
  if (path.empty()) {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw PermanentError("cannot tell where this program is (/proc/self/exe): set FILA_EXTRACTOR");
    path = (self.parent_path() / "fila-extract").string();
  }
  if (::access(path.c_str(), X_OK) != 0) {
    throw PermanentError("the document extractor " + path +
                         " is missing or not executable: install fila-extract next to fila-worker, or set "
                         "FILA_EXTRACTOR");
  }
  return path;
}

}  // namespace fila::extract
