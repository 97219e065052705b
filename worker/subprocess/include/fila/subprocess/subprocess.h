#pragma once

// Child processes of the worker, without threads and without leaks: the
// file descriptors they get, how they start, how they are reaped, and the
// pipes between them and the worker. Used by the extraction sandbox
// (fila/extract/sandbox.h) and the exec handlers (fila/exec_handler.h).
// Linux only (posix_spawn with closefrom, prlimit, wait4).

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fila::subprocess {

// An owned file descriptor, closed when it dies.
class Fd final {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void Close();

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

// Both ends close on exec: a descriptor reaches a child only through
// SpawnSpec::fds. Throws TransientError.
Pipe MakePipe();

// What a child starts with. Nothing is inherited implicitly: no descriptor
// but `fds`, no environment variable but `env`, no blocked or ignored
// signal; it leads a process group of its own (a terminal's Ctrl-C stops
// the worker, which then stops the child, instead of the child dying as if
// it crashed; and the child's own children can be signalled as a group).
struct SpawnSpec {
  std::string program;                   // a path (no PATH lookup)
  std::vector<std::string> args;         // after argv[0], which is `program`
  std::vector<std::string> env;          // "NAME=value", the whole environment
  std::vector<std::pair<int, int>> fds;  // (descriptor here, its number in the child)
  std::string what;                      // "the extractor": named in errors
};

// Starts `spec`. Throws TransientError("cannot start <what> <program>:
// <reason>") when it cannot.
pid_t Spawn(const SpawnSpec& spec);

// A child until it is reaped: whoever leaves early stops it and reaps it,
// so no zombie and no running child outlives the object. Stopping sends
// `stop_signal`, waits up to `patience` for the child to exit, then sends
// SIGKILL. Not thread-safe.
class Child final {
 public:
  explicit Child(pid_t pid, int stop_signal = SIGKILL,
                 std::chrono::milliseconds patience = std::chrono::milliseconds(0))
      : pid_(pid), stop_signal_(stop_signal), patience_(patience) {}
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool reaped() const { return pid_ <= 0; }
  // Sends `signal` unless the child was reaped already (its pid may belong
  // to another process by then).
  void Signal(int signal) const;
  // Reaps the child if it has exited: true, with its wait status and
  // resource usage.
  bool TryReap(int& status, rusage& usage);
  // Reaps it, waiting up to `timeout`; false when it is still running.
  bool Reap(int& status, rusage& usage, std::chrono::milliseconds timeout);

 private:
  pid_t pid_;
  int stop_signal_;
  std::chrono::milliseconds patience_;
};

// Blocks SIGPIPE on this thread while it writes to a child (which may die
// mid-input); a pending one is consumed before the mask comes back, so it
// never reaches the process, whose default action is to die.
class SigpipeBlocked final {
 public:
  SigpipeBlocked();
  ~SigpipeBlocked();
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t set_;
  sigset_t old_;
};

// Moves bytes between this thread and a child's pipes without a thread of
// its own: writes one input, reads any number of outputs, each into its own
// sink, as they become ready. Use it under SigpipeBlocked. Not thread-safe.
class Pump final {
 public:
  using Sink = std::function<void(std::string_view chunk)>;

  // Writes `bytes` (which must outlive the pump) to `fd`, then closes it;
  // a reader that is gone (EPIPE) closes it early.
  void Input(Fd fd, std::string_view bytes);
  // Calls `sink` with what `fd` delivers, until its end. An exception of a
  // sink propagates out of Step.
  void Output(Fd fd, Sink sink);
  // Whether an output is still open.
  bool Reading() const;
  // Waits up to `timeout` for a pipe to be ready, then moves what is.
  // Throws TransientError when poll fails.
  void Step(std::chrono::milliseconds timeout);

 private:
  struct Stream {
    Fd fd;
    Sink sink;
  };
  Fd input_;
  std::string_view pending_;
  std::vector<Stream> outputs_;
};

}  // namespace fila::subprocess
