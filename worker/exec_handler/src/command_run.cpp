#include "command_run.h"

#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/subprocess/subprocess.h"
#include "output.h"
#include "shim_protocol.h"

namespace fila::exec {
namespace {

using std::chrono::milliseconds;

constexpr auto kPollInterval = milliseconds(50);
// The tail of stderr quoted in an error: the stored error is cut to
// kMaxStoredText, and the sentence in front of the tail needs room.
constexpr size_t kErrorTail = 3000;
constexpr size_t kMaxProgressLine = 4096;
constexpr size_t kMaxProgressMessage = 1024;
constexpr size_t kMaxLoggedLine = 2048;
constexpr size_t kMaxLoggedStderr = 64 * 1024;
constexpr size_t kMaxStatusBytes = 1024;
// How long the shim may take beyond what it promises (the grace, then
// kMaxKillMs of killing) before the worker kills it itself.
constexpr auto kShimSlack = milliseconds(kMaxKillMs) + milliseconds(2000);
// Pipes still open after the shim is gone belong to processes it could not
// kill: they are not waited for.
constexpr auto kDrainAfterShim = milliseconds(200);

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "an unknown signal";
}

// The command's stderr at debug level, line by line, with the task's
// fields (the logging scope of the slot's thread), up to a budget.
class StderrLog final {
 public:
  StderrLog()
      : enabled_(spdlog::should_log(spdlog::level::debug)),
        lines_(kMaxLoggedLine, Lines::Overlong::kCut, [this](std::string_view line) { Log(line); }) {}
  void Feed(std::string_view bytes) {
    if (enabled_) lines_.Feed(bytes);
  }
  void Finish() {
    if (enabled_) lines_.Finish();
  }

 private:
  void Log(std::string_view line) {
    if (logged_ > kMaxLoggedStderr) return;
    logged_ += line.size();
    if (logged_ > kMaxLoggedStderr) {
      spdlog::debug("stderr: further output of the command is not logged ({} bytes logged)", kMaxLoggedStderr);
      return;
    }
    spdlog::debug("stderr: {}", line);
  }
  bool enabled_;
  size_t logged_ = 0;
  Lines lines_;
};

// How a command that could not start is reported: a missing or
// non-executable program is the type's mistake and will not mend itself.
[[noreturn]] void ThrowSpawnError(const std::string& program, int error) {
  const std::string what = "the command '" + TruncateText(program, 256) + "' cannot start: ";
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      throw PermanentError(what + "no such program (looked up in the PATH of the command's environment)");
    case EACCES:
    case EPERM:
      throw PermanentError(what + "permission denied (is it executable?)");
    case ENOEXEC:
      throw PermanentError(what + "not an executable format (a script needs a #! line)");
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case E2BIG:
      throw PermanentError(what + std::strerror(error));
    default:
      throw TransientError(what + std::strerror(error));
  }
}

}  // namespace

std::string RunCommand(const CommandRun& run, TaskContext& ctx) {
  subprocess::Pipe in = subprocess::MakePipe();
  subprocess::Pipe out = subprocess::MakePipe();
  subprocess::Pipe err = subprocess::MakePipe();
  subprocess::Pipe progress = subprocess::MakePipe();
  subprocess::Pipe status = subprocess::MakePipe();
  std::vector<std::string> args{std::to_string(::getpid()), std::to_string(run.grace.count())};
  args.insert(args.end(), run.command.begin(), run.command.end());
  // Whoever leaves early (an exception) has the shim kill the command's
  // processes at once, and waits for it to report them gone.
  subprocess::Child shim(subprocess::Spawn({.program = run.shim,
                                            .args = std::move(args),
                                            .env = run.env,
                                            .fds = {{in.read.get(), 0},
                                                    {out.write.get(), 1},
                                                    {err.write.get(), 2},
                                                    {progress.write.get(), kProgressFd},
                                                    {status.write.get(), kStatusFd}},
                                            .what = "the exec shim"}),
                         kKillSignal, kShimSlack);
  in.read.Close();
  out.write.Close();
  err.write.Close();
  progress.write.Close();
  status.write.Close();

  subprocess::SigpipeBlocked sigpipe;
  std::string output;
  bool overflow = false;
  Tail tail(kErrorTail);
  StderrLog log;
  size_t bad_progress = 0;
  Lines progress_lines(kMaxProgressLine, Lines::Overlong::kDrop, [&](std::string_view line) {
    ProgressLine p;
    if (ParseProgress(line, p)) {
      ctx.Progress(p.percent, TruncateText(p.message, kMaxProgressMessage));
    } else {
      ++bad_progress;
    }
  });
  std::string report;
  subprocess::Pump pump;
  pump.Input(std::move(in.write), run.input);
  pump.Output(std::move(out.read), [&](std::string_view chunk) {
    // Past the limit the rest is read and dropped until the command is
    // gone: memory stays bounded, and the command never blocks on a pipe.
    if (overflow) return;
    if (output.size() + chunk.size() > run.max_output_bytes) {
      overflow = true;
      std::string().swap(output);
      return;
    }
    output.append(chunk);
  });
  pump.Output(std::move(err.read), [&](std::string_view chunk) {
    tail.Append(chunk);
    log.Feed(chunk);
  });
  pump.Output(std::move(progress.read), [&](std::string_view chunk) { progress_lines.Feed(chunk); });
  pump.Output(std::move(status.read), [&](std::string_view chunk) {
    report.append(chunk.substr(0, kMaxStatusBytes - std::min(report.size(), kMaxStatusBytes)));
  });

  bool stopped = false;  // the worker asked the command to stop (deadline, cancel, shutdown)
  bool killed = false;
  Deadline stop_requested{};
  bool shim_killed = false;
  int shim_status = 0;
  rusage usage{};
  Deadline shim_gone{};
  while (true) {
    const auto now = SteadyClock::now();
    // A command that already ended (its report is in) is not stopped: work
    // that completed, even late, is kept.
    if (!stopped && report.empty() && ctx.Cancelled()) {
      stopped = true;
      stop_requested = now;
      shim.Signal(kStopSignal);
    }
    if (overflow && !killed) {
      killed = true;
      shim.Signal(kKillSignal);
    }
    if (stopped && !shim.reaped() && !shim_killed && now > stop_requested + run.grace + kShimSlack) {
      spdlog::error("fila-exec-shim did not stop the command within its grace period: killing the shim");
      shim_killed = true;
      shim.Signal(SIGKILL);
    }
    if (shim.reaped()) {
      if (!pump.Reading() || now > shim_gone + kDrainAfterShim) break;
      pump.Step(kPollInterval);
      continue;
    }
    if (pump.Reading()) pump.Step(kPollInterval);
    // Once every pipe is at its end the shim is exiting: wait for it.
    if (pump.Reading() ? shim.TryReap(shim_status, usage) : shim.Reap(shim_status, usage, kPollInterval)) {
      shim_gone = SteadyClock::now();
    }
  }
  progress_lines.Finish();
  log.Finish();
  if (bad_progress > 0 || progress_lines.dropped() > 0) {
    spdlog::debug("{} progress lines ignored (not {{\"percent\": N, \"message\": \"...\"}} or over {} bytes)",
                  bad_progress + progress_lines.dropped(), kMaxProgressLine);
  }

  const std::string program = run.command.empty() ? "" : run.command.front();
  const std::string errors = tail.Text();
  const std::string quoted = errors.empty() ? "" : ": " + errors;
  while (!report.empty() && report.back() == '\n') report.pop_back();
  if (report.find(kStraysLeft) != std::string::npos) {
    spdlog::warn("processes of the command survived SIGKILL for {} ms and were left behind", kMaxKillMs);
  }
  const size_t space = report.find(' ');
  const std::string word = report.substr(0, space);
  const int number = space == std::string::npos ? -1 : std::atoi(report.c_str() + space + 1);
  if (!WIFEXITED(shim_status) || WEXITSTATUS(shim_status) != 0 || word.empty() || word == kFail) {
    throw TransientError("fila-exec-shim failed (" +
                         (WIFSIGNALED(shim_status) ? "killed by " + SignalName(WTERMSIG(shim_status))
                                                   : "status " + std::to_string(WEXITSTATUS(shim_status))) +
                         ")" + (report.empty() ? "" : ": " + TruncateText(report, 512)));
  }
  if (word == kSpawn) ThrowSpawnError(program, number);
  const std::string ended = word == kExit ? "exited with status " + std::to_string(number)
                                          : "was killed by " + SignalName(number);
  if (overflow) {
    throw PermanentError("the command wrote more than " + std::to_string(run.max_output_bytes) +
                         " bytes on stdout (the type's max_result_bytes) and was killed");
  }
  if (stopped) {
    const bool late = SteadyClock::now() >= ctx.TaskDeadline();
    throw TransientError(std::string("the command was stopped ") +
                         (late ? "at the task's deadline" : "(the task was cancelled or the worker is stopping)") +
                         " and " + ended + quoted);
  }
  if (word == kExit && number == 0) return output;
  if (word == kExit && number == 75) {
    throw TransientError("the command exited with status 75 (EX_TEMPFAIL: try again later)" + quoted);
  }
  if (word == kExit) throw PermanentError("the command " + ended + quoted);
  throw TransientError("the command " + ended + quoted);
}

}  // namespace fila::exec
