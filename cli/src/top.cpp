// fila top: the screen loop, fed by a fetching thread. What a frame holds
// is top_view.cpp; the terminal plumbing terminal.cpp.
#include <poll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "commands.h"
#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "terminal.h"
#include "top_view.h"

namespace fila::cli {
namespace {

std::string Clock() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char out[16];
  std::strftime(out, sizeof(out), "%H:%M:%S", &tm);
  return out;
}

// Fetches a snapshot every interval on its own thread, so that a slow or
// hung server never delays a key or a resize.
class Fetcher final {
 public:
  Fetcher(Backend& backend, std::chrono::milliseconds interval, int wake_fd)
      : backend_(backend), interval_(interval), wake_fd_(wake_fd), thread_([this] { Run(); }) {}
  ~Fetcher() {
    Stop(std::chrono::milliseconds(0));
    thread_.join();
  }
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  struct Result {
    std::optional<MonitorSnapshot> snapshot;  // a new one since the last Take
    bool fetched = false;                     // any fetch ended since the last Take
    std::string error;                        // of the last fetch
    std::string fatal;                        // a permanent error: top gives up
  };
  Result Take() {
    std::lock_guard lock(mutex_);
    Result out = std::move(result_);
    result_ = {};
    result_.error = out.error;
    result_.fatal = out.fatal;
    return out;
  }
  // Asks the thread to end; true when it did within `grace`.
  bool Stop(std::chrono::milliseconds grace) {
    std::unique_lock lock(mutex_);
    stop_ = true;
    changed_.notify_all();
    return changed_.wait_for(lock, grace, [&] { return finished_; });
  }

 private:
  void Run() {
    auto next = SteadyClock::now();
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      Result r;
      try {
        r.snapshot = backend_.Monitor();
      } catch (const PermanentError& e) {
        r.fatal = e.what();
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      lock.lock();
      if (r.snapshot) result_.snapshot = std::move(r.snapshot);
      result_.fetched = true;
      result_.error = r.error;
      result_.fatal = r.fatal;
      const char byte = 0;
      (void)!::write(wake_fd_, &byte, 1);
      if (!r.fatal.empty()) break;
      next = std::max(next + interval_, SteadyClock::now());
      changed_.wait_until(lock, next, [&] { return stop_; });
    }
    finished_ = true;
    changed_.notify_all();
  }

  Backend& backend_;
  std::chrono::milliseconds interval_;
  int wake_fd_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;
  bool finished_ = false;
  Result result_;
  std::thread thread_;  // last: starts once the rest is ready
};

// True when the keys read include q (or a Ctrl-C that arrived as a byte).
bool QuitKey(int fd) {
  char keys[64];
  ssize_t n = ::read(fd, keys, sizeof(keys));
  if (n < 0) return errno != EINTR && errno != EAGAIN;  // EIO: the terminal hung up
  if (n == 0) return true;
  for (ssize_t i = 0; i < n; ++i) {
    if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == '\x03') return true;
  }
  return false;
}

std::string Frame(const std::vector<std::string>& lines, size_t rows) {
  std::string out;
  // Each row is erased and written in one go (no flicker); erasing after
  // writing could blank a full row's last column.
  for (size_t i = 0; i < lines.size(); ++i) {
    out += "\x1b[" + std::to_string(i + 1) + ";1H\x1b[2K" + lines[i];
  }
  if (lines.size() < rows) out += "\x1b[" + std::to_string(lines.size() + 1) + ";1H\x1b[J";
  return out;
}

// The screen (or batch) loop; returns the exit code.
int Loop(Backend& backend, const TopArgs& args, bool interactive, Signals& signals) {
  const bool unicode = Utf8Locale();
  const auto interval = std::chrono::milliseconds(args.interval_ms);
  const std::string source = backend.Describe();  // the fetching thread owns `backend` from here
  std::optional<Terminal> terminal;
  const auto log_level = spdlog::get_level();
  if (interactive) {
    spdlog::set_level(spdlog::level::off);  // stderr would scribble on the screen
    terminal.emplace();
  }
  Fetcher fetcher(backend, interval, signals.WriteEnd());
  RateTracker rates;
  std::optional<MonitorSnapshot> last;
  std::string last_clock, error;
  int code = kOk;
  auto draw = [&] {
    TopFrame frame{.snapshot = last ? &*last : nullptr,
                   .rates = &rates,
                   .source = source,
                   .clock = Clock(),
                   .error = error,
                   .data_clock = last_clock,
                   .interval_seconds = args.interval_ms / 1000.0,
                   .interactive = interactive};
    const OutputSize size = SizeOfOutput(args.width);
    auto lines = RenderTop(frame, {size.columns, unicode});
    if (interactive) {
      WriteAll(STDOUT_FILENO,
               Frame(FitHeight(std::move(lines), size.rows, size.columns, unicode), size.rows));
    } else {
      std::string out;
      for (const auto& line : lines) out += line + "\n";
      WriteAll(STDOUT_FILENO, out + "\n");
    }
  };
  if (interactive) draw();  // "connecting" until the first answer
  while (!signals.Quit()) {
    pollfd fds[2] = {{signals.ReadEnd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const nfds_t count = terminal && terminal->Keyboard() ? 2 : 1;
    if (::poll(fds, count, -1) < 0 && errno != EINTR) break;
    signals.Drain();
    if (count == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && QuitKey(STDIN_FILENO))
      break;
    if (signals.Quit()) break;
    bool redraw = signals.TakeResized();
    bool resume = signals.TakeContinued();
    if (terminal && signals.TakeSuspend()) {
      terminal->Leave();
      Signals::StopSelf();  // returns on SIGCONT
      resume = true;
    }
    if (terminal && resume) {
      terminal->Enter();  // the shell may have changed the terminal meanwhile
      redraw = true;
    }
    auto result = fetcher.Take();
    if (!result.fatal.empty()) {
      error = result.fatal;
      code = kUsage;
      break;
    }
    if (result.fetched) {
      error = result.error;
      if (result.snapshot) {
        rates.Add(*result.snapshot);
        last = std::move(result.snapshot);
        last_clock = Clock();
      }
      if (!interactive && !error.empty()) {
        spdlog::error("error: {} (retrying) [{}]", error, source);
      } else {
        redraw = true;
      }
    }
    if (redraw) draw();
  }
  terminal.reset();  // the screen is back before any message
  spdlog::set_level(log_level);
  if (code != kOk) spdlog::error("error: {}", error);
  if (!fetcher.Stop(std::chrono::milliseconds(300))) {
    // The fetch in flight is stuck on an unreachable server: quitting must
    // not wait for its timeout, and the thread still uses `backend`.
    std::cout.flush();
    std::_Exit(code);
  }
  return code;
}

}  // namespace

int Top(Backend& backend, const TopArgs& args) {
  if (args.once) {
    try {
      MonitorSnapshot snapshot = backend.Monitor();
      TopFrame frame{.snapshot = &snapshot, .source = backend.Describe(), .clock = Clock()};
      for (const auto& line : RenderTop(frame, {SizeOfOutput(args.width).columns, Utf8Locale()})) {
        std::cout << line << "\n";
      }
      return kOk;
    } catch (const PermanentError& e) {
      spdlog::error("error: {}", e.what());
      return kUsage;
    } catch (const Error& e) {
      spdlog::error("error: {} [{}]", e.what(), backend.Describe());
      return kFailure;
    }
  }
  const bool interactive = ::isatty(STDOUT_FILENO) != 0;
  try {
    Signals signals(interactive);
    return Loop(backend, args, interactive, signals);
  } catch (const Error& e) {
    spdlog::error("error: {}", e.what());
    return kFailure;
  }
}

}  // namespace fila::cli
