#include "fila/subprocess/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "fila/core/clock.h"
#include "fila/core/errors.h"

namespace fila::subprocess {
namespace {

constexpr size_t kWriteChunk = 64 * 1024;
constexpr auto kMaxReapPause = std::chrono::milliseconds(20);

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

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

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Fd::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Pipe MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw TransientError(Errno("cannot create a pipe for a child process"));
  return {Fd(fds[0]), Fd(fds[1])};
}

pid_t Spawn(const SpawnSpec& spec) {
  // A source descriptor whose number is also a target could be overwritten
  // by an earlier dup2: every source is first copied above every target.
  int top = 0;
  for (const auto& [from, to] : spec.fds) top = std::max(top, to + 1);
  std::vector<Fd> copies;
  SpawnSetup setup;
  for (const auto& [from, to] : spec.fds) {
    int source = from;
    if (source < top) {
      copies.emplace_back(::fcntl(from, F_DUPFD_CLOEXEC, top));
      if (!copies.back().open()) throw TransientError(Errno("cannot start " + spec.what + ": dup"));
      source = copies.back().get();
    }
    posix_spawn_file_actions_adddup2(&setup.actions, source, to);
  }
  // None of the worker's descriptors (database and broker sockets, other
  // children's pipes) reaches the child, O_CLOEXEC or not.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, top);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> argv_storage{spec.program};
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_storage = spec.env;
  auto argv = Pointers(argv_storage);
  auto envp = Pointers(env_storage);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, spec.program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) throw TransientError("cannot start " + spec.what + " " + spec.program + ": " + std::strerror(rc));
  return pid;
}

Child::~Child() {
  if (pid_ <= 0) return;
  int status = 0;
  rusage usage{};
  if (stop_signal_ != SIGKILL && patience_.count() > 0) {
    ::kill(pid_, stop_signal_);
    if (Reap(status, usage, patience_)) return;
  }
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void Child::Signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool Child::TryReap(int& status, rusage& usage) {
  if (pid_ <= 0) return false;
  const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
  if (r != pid_) return false;
  pid_ = -1;
  return true;
}

bool Child::Reap(int& status, rusage& usage, std::chrono::milliseconds timeout) {
  const auto until = SteadyClock::now() + timeout;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, kMaxReapPause)) {
    if (TryReap(status, usage)) return true;
    if (SteadyClock::now() >= until) return false;
    std::this_thread::sleep_for(pause);
  }
}

SigpipeBlocked::SigpipeBlocked() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

SigpipeBlocked::~SigpipeBlocked() {
  if (sigismember(&old_, SIGPIPE)) return;
  sigset_t pending;
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
    const timespec zero{0, 0};
    sigtimedwait(&set_, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void Pump::Input(Fd fd, std::string_view bytes) {
  input_ = std::move(fd);
  pending_ = bytes;
  if (pending_.empty()) {
    input_.Close();
    return;
  }
  ::fcntl(input_.get(), F_SETFL, ::fcntl(input_.get(), F_GETFL) | O_NONBLOCK);
}

void Pump::Output(Fd fd, Sink sink) {
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  outputs_.push_back({std::move(fd), std::move(sink)});
}

bool Pump::Reading() const {
  return std::any_of(outputs_.begin(), outputs_.end(), [](const Stream& s) { return s.fd.open(); });
}

void Pump::Step(std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  if (input_.open()) fds.push_back({input_.get(), POLLOUT, 0});
  for (const auto& s : outputs_) {
    if (s.fd.open()) fds.push_back({s.fd.get(), POLLIN, 0});
  }
  if (fds.empty()) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) < 0) {
    if (errno == EINTR) return;
    throw TransientError(Errno("poll on a child's pipes"));
  }
  char buffer[64 * 1024];
  for (const pollfd& ready : fds) {
    if (ready.revents == 0) continue;
    if (input_.open() && ready.fd == input_.get()) {
      const ssize_t w = ::write(input_.get(), pending_.data(), std::min(pending_.size(), kWriteChunk));
      if (w > 0) pending_.remove_prefix(static_cast<size_t>(w));
      // EPIPE: the child is gone or stopped reading; its status says why.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || pending_.empty()) input_.Close();
      continue;
    }
    for (auto& s : outputs_) {
      if (!s.fd.open() || s.fd.get() != ready.fd) continue;
      const ssize_t r = ::read(s.fd.get(), buffer, sizeof buffer);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (r <= 0) {
        s.fd.Close();
        break;
      }
      s.sink(std::string_view(buffer, static_cast<size_t>(r)));
      break;
    }
  }
}

}  // namespace fila::subprocess
