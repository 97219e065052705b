#pragma once

// The terminal plumbing of `fila top`: raw keys, the alternate screen,
// signals woken through a pipe. POSIX only; one Signals and one Terminal
// at a time in a process.

#include <signal.h>
#include <termios.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace fila::cli {

// Writes everything, retrying on EINTR; gives up quietly when the output
// is gone (nothing left to show it to).
void WriteAll(int fd, std::string_view data);

struct OutputSize {
  size_t columns = 80;
  size_t rows = 24;
};
// Stdout's terminal size; else $COLUMNS (a pipe has no size), else 80
// columns. `width`, when not 0, wins but never exceeds a real terminal.
OutputSize SizeOfOutput(uint32_t width);

// Whether the locale says UTF-8, so that "…" shows as one character.
bool Utf8Locale();

// Handlers for SIGINT, SIGTERM, SIGHUP (and, when `interactive`, SIGWINCH,
// SIGTSTP, SIGCONT) that record the signal and write a byte to a pipe, so
// that poll() on ReadEnd() wakes up. The previous handlers come back on
// destruction. The flags are safe to read from any thread.
class Signals final {
 public:
  explicit Signals(bool interactive);  // TransientError when no pipe can be made
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  int ReadEnd() const { return fds_[0]; }
  // Other threads may write a byte here to wake the poller.
  int WriteEnd() const { return fds_[1]; }
  void Drain() const;

  bool Quit() const;  // SIGINT, SIGTERM or SIGHUP arrived
  bool TakeResized();
  bool TakeSuspend();
  bool TakeContinued();
  // For Ctrl-Z, once the terminal is restored: stops the process as it
  // would have stopped without a handler; returns when it is continued.
  static void StopSelf();

 private:
  int fds_[2] = {-1, -1};
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// Keys without Enter or echo (Ctrl-C still signals), the alternate screen,
// no cursor. The destructor restores all of it, on error paths too.
class Terminal final {
 public:
  Terminal();
  ~Terminal() { Leave(); }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Whether keys can be read from stdin (it is a terminal).
  bool Keyboard() const { return keyboard_; }
  void Enter();
  void Leave();

 private:
  bool keyboard_ = false;
  termios saved_{};
};

}  // namespace fila::cli
