#include "fila/core/process.h"

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace fila {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

}  // namespace

const std::atomic<bool>& InstallStopSignals() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return g_stop;
}

namespace {

const char* g_program = "fila";

void OnFatalSignal(int signal) {
  // Only async-signal-safe calls: write(2) and backtrace_symbols_fd(3)
  // (its first call, which may allocate, is made at install time).
  char number[4] = {static_cast<char>('0' + signal / 10 % 10), static_cast<char>('0' + signal % 10), '\0'};
  const char* digits = signal < 10 ? number + 1 : number;
  for (const char* part : {g_program, ": fatal signal ", digits, "; backtrace:\n"}) {
    (void)!::write(STDERR_FILENO, part, std::strlen(part));
  }
  void* frames[64];
  const int depth = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  // Die of the signal as before: default action, raised again.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

void InstallCrashReport(const char* program) {
  g_program = program;
  void* warm[1];
  (void)::backtrace(warm, 1);  // loads libgcc now, not inside the handler
  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  // SA_NODEFER: the signal raised again in the handler takes effect at
  // once, before another thread can run on.
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP}) sigaction(signal, &action, nullptr);
}

bool SleepUnlessStopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop) {
  const auto until = SteadyClock::now() + duration;
  while (!stop) {
    auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "unknown";
  return host;
}

std::string DefaultWorkerId() { return HostName() + "-" + std::to_string(::getpid()); }

}  // namespace fila
