#include "fila/process.h"

#include <csignal>
#include <unistd.h>

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
