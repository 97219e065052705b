#include "terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>

#include "fila/core/errors.h"

namespace fila::cli {
namespace {

// Atomics, not volatile sig_atomic_t: a handler may run on any thread.
static_assert(std::atomic<bool>::is_always_lock_free, "signal handlers need lock-free flags");
std::atomic<bool> g_quit{false};
std::atomic<bool> g_resized{false};
std::atomic<bool> g_suspend{false};
std::atomic<bool> g_continued{false};
std::atomic<int> g_wake_fd{-1};

void OnSignal(int sig) {
  const int saved = errno;
  if (sig == SIGWINCH) {
    g_resized = true;
  } else if (sig == SIGTSTP) {
    g_suspend = true;
  } else if (sig == SIGCONT) {
    g_continued = true;
  } else {
    g_quit = true;
  }
  const char byte = 1;
  (void)!::write(g_wake_fd, &byte, 1);  // a full pipe already wakes the loop
  errno = saved;
}

void Handle(int sig, struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = OnSignal;  // no SA_RESTART: poll returns at once
  sigemptyset(&action.sa_mask);
  ::sigaction(sig, &action, previous);
}

}  // namespace

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

OutputSize SizeOfOutput(uint32_t width) {
  OutputSize size;
  winsize ws{};
  const bool tty = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0;
  if (tty) {
    size.columns = ws.ws_col;
    if (ws.ws_row > 0) size.rows = ws.ws_row;
  } else if (const char* columns = std::getenv("COLUMNS"); columns && std::atoi(columns) > 0) {
    size.columns = static_cast<size_t>(std::atoi(columns));
  }
  if (width > 0) size.columns = tty ? std::min<size_t>(size.columns, width) : width;
  return size;
}

bool Utf8Locale() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    std::string v(value);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    return v.find("utf-8") != std::string::npos || v.find("utf8") != std::string::npos;
  }
  return false;
}

Signals::Signals(bool interactive) {
  if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw TransientError("cannot create a pipe");
  for (auto* flag : {&g_quit, &g_resized, &g_suspend, &g_continued}) *flag = false;
  g_wake_fd = fds_[1];
  std::vector<int> signals{SIGINT, SIGTERM, SIGHUP};
  if (interactive) signals.insert(signals.end(), {SIGWINCH, SIGTSTP, SIGCONT});
  for (int sig : signals) {
    saved_.emplace_back();
    saved_.back().first = sig;
    Handle(sig, &saved_.back().second);
  }
}

Signals::~Signals() {
  for (auto& [sig, action] : saved_) ::sigaction(sig, &action, nullptr);
  g_wake_fd = -1;
  ::close(fds_[0]);
  ::close(fds_[1]);
}

void Signals::Drain() const {
  char buf[64];
  while (::read(fds_[0], buf, sizeof(buf)) > 0) {
  }
}

bool Signals::Quit() const { return g_quit; }
bool Signals::TakeResized() { return g_resized.exchange(false); }
bool Signals::TakeSuspend() { return g_suspend.exchange(false); }
bool Signals::TakeContinued() { return g_continued.exchange(false); }

void Signals::StopSelf() {
  std::signal(SIGTSTP, SIG_DFL);
  ::raise(SIGTSTP);
  Handle(SIGTSTP, nullptr);
}

Terminal::Terminal() {
  keyboard_ = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0;
  Enter();
}

void Terminal::Enter() {
  if (keyboard_) {
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  WriteAll(STDOUT_FILENO, "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
}

void Terminal::Leave() {
  WriteAll(STDOUT_FILENO, "\x1b[?25h\x1b[?1049l");
  if (keyboard_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

}  // namespace fila::cli
