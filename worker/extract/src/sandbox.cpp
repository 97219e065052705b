#include "fila/extract/sandbox.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "exit_codes.h"
#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/subprocess/subprocess.h"

namespace fila::extract {
namespace {

constexpr size_t kMaxStderrKept = 64 * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr rlim_t kMaxOpenFiles = 32;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, size_t input_bytes,
            const subprocess::Pipe& in, const subprocess::Pipe& out, const subprocess::Pipe& err) {
  // No secret of the worker's environment (database URL, API keys): only
  // its pid and the document's size.
  return subprocess::Spawn({.program = program,
                            .args = args,
                            .env = {std::string(kParentVariable) + "=" + std::to_string(::getpid()),
                                    std::string(kInputBytesVariable) + "=" + std::to_string(input_bytes)},
                            .fds = {{in.read.get(), 0}, {out.write.get(), 1}, {err.write.get(), 2}},
                            .what = "the extractor"});
}

// Limits are set before the helper has its input, so before it parses.
void Limit(const subprocess::Child& child, decltype(RLIMIT_AS) resource, rlim_t soft, rlim_t hard) {
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
  subprocess::Pipe in = subprocess::MakePipe();
  subprocess::Pipe out = subprocess::MakePipe();
  subprocess::Pipe err = subprocess::MakePipe();
  subprocess::Child child(Spawn(program, run.args, run.input.size(), in, out, err));
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

  subprocess::SigpipeBlocked sigpipe;
  std::string output;
  std::string errors;
  subprocess::Pump pump;
  pump.Input(std::move(in.write), run.input);
  pump.Output(std::move(out.read), [&](std::string_view chunk) {
    output.append(chunk);
    if (output.size() > run.max_output_bytes) {
      throw PermanentError("the extractor's result exceeds " + std::to_string(run.max_output_bytes) + " bytes");
    }
  });
  pump.Output(std::move(err.read), [&](std::string_view chunk) {
    errors.append(chunk.substr(0, kMaxStderrKept - std::min(errors.size(), kMaxStderrKept)));
  });
  const auto check = [&] {
    if (run.cancelled && run.cancelled()) throw TransientError("document extraction cancelled");
    if (SteadyClock::now() >= run.deadline) throw TransientError("document extraction stopped at the task's deadline");
  };
  while (pump.Reading()) {
    check();
    pump.Step(kPollInterval);
  }
  int status = 0;
  rusage usage{};
  while (!child.Reap(status, usage, kPollInterval)) check();
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
