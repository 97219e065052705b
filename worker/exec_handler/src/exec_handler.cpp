#include "fila/exec_handler/exec_handler.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "command_run.h"
#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/time_text.h"
#include "shim_protocol.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr auto kTurnPoll = milliseconds(50);
// The grace of a type ends this long before the worker would abandon the
// slot, so that the command's end is what the worker records.
constexpr auto kAbandonMargin = milliseconds(500);

// Turns of one type on this worker: at most `limit` commands at once (0:
// no limit). The newest version's limit holds.
class Turns final {
 public:
  void Update(uint32_t version, uint32_t limit) {
    std::lock_guard lock(mutex_);
    if (version < version_) return;
    version_ = version;
    limit_ = limit;
    changed_.notify_all();
  }
  // Waits for a turn; false when the task was cancelled (or timed out) first.
  bool Take(const TaskContext& ctx) {
    std::unique_lock lock(mutex_);
    while (limit_ != 0 && running_ >= limit_) {
      if (ctx.Cancelled()) return false;
      changed_.wait_for(lock, kTurnPoll);
    }
    ++running_;
    return true;
  }
  void Give() {
    std::lock_guard lock(mutex_);
    --running_;
    changed_.notify_one();
  }
  uint32_t limit() const {
    std::lock_guard lock(mutex_);
    return limit_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint32_t version_ = 0;
  uint32_t limit_ = 0;
  uint32_t running_ = 0;
};

// What every task of one (type, version) shares.
struct ExecType {
  TaskTypeSpec spec;
  std::string shim;
  std::vector<std::string> base_env;  // the worker's variables the command gets
  milliseconds grace{};
  std::shared_ptr<Turns> turns;
};

void AddVariable(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  // A NUL would end the entry early; nothing legitimate holds one.
  if (value.find('\0') == std::string::npos) env.push_back(name + "=" + value);
}

std::vector<std::string> TaskEnvironment(const ExecType& type, const TaskContext& ctx) {
  std::vector<std::string> env = type.base_env;
  const auto left = std::chrono::duration_cast<milliseconds>(ctx.TaskDeadline() - SteadyClock::now());
  const int64_t deadline_ms = NowUnixMs() + left.count();
  AddVariable(env, "FILA_TASK_ID", ctx.TaskId());
  AddVariable(env, "FILA_ATTEMPT", std::to_string(ctx.Attempt()));
  AddVariable(env, "FILA_TASK_TYPE", ctx.Type());
  AddVariable(env, "FILA_TYPE_VERSION", std::to_string(type.spec.version));
  AddVariable(env, "FILA_TENANT", ctx.Tenant());
  AddVariable(env, "FILA_QUEUE", ctx.Queue());
  AddVariable(env, "FILA_DEADLINE", FormatTimestamp(deadline_ms));
  AddVariable(env, "FILA_DEADLINE_UNIX_MS", std::to_string(deadline_ms));
  AddVariable(env, "FILA_PROGRESS_FD", std::to_string(exec::kProgressFd));
  return env;
}

std::string RunTask(const ExecType& type, TaskContext& ctx) {
  if (ctx.Cancelled()) throw TransientError("stopped before the command started");
  if (!type.turns->Take(ctx)) {
    throw TransientError("stopped while waiting for a turn: at most " + std::to_string(type.turns->limit()) +
                         " commands of type " + type.spec.name + " run at once on a worker");
  }
  struct Turn {
    Turns& turns;
    ~Turn() { turns.Give(); }
  } turn{*type.turns};
  exec::CommandRun run{.shim = type.shim,
                       .command = type.spec.handler.command,
                       .env = TaskEnvironment(type, ctx),
                       .input = PayloadToJson(type.spec, ctx.Payload()),
                       .max_output_bytes = type.spec.max_result_bytes,
                       .grace = type.grace};
  return exec::RunCommand(run, ctx);
}

class ExecHandlerFactory final : public HandlerFactory {
 public:
  explicit ExecHandlerFactory(ExecHandlerOptions options) : options_(std::move(options)) {
    const char* path = std::getenv("PATH");
    base_env_.push_back(std::string("PATH=") + (path != nullptr && *path != '\0' ? path : kDefaultPath));
    for (const char* name : kPassedVariables) {
      if (const char* value = std::getenv(name); value != nullptr && std::string_view(name) != "PATH") {
        AddVariable(base_env_, name, value);
      }
    }
    for (const auto& name : options_.pass_env) {
      if (const char* value = std::getenv(name.c_str())) AddVariable(base_env_, name, value);
    }
  }

  Handler Make(const TaskTypeSpec& spec) override {
    if (spec.handler.kind != HandlerSpec::Kind::kExec) {
      throw PermanentError("type '" + spec.name + "' does not have an exec handler; this worker runs no other kind",
                           "handler");
    }
    if (spec.handler.command.empty() || spec.handler.command.front().empty()) {
      throw PermanentError("type '" + spec.name + "' has an exec handler without a command", "handler.exec.command");
    }
    auto type = std::make_shared<ExecType>();
    type->spec = spec;
    type->shim = Shim();
    type->base_env = base_env_;
    type->grace = std::min(spec.handler.grace, options_.max_grace);
    if (type->grace < spec.handler.grace) {
      spdlog::warn("type {} version {}: its grace of {} ms is cut to {} ms, under the worker's --abandon-grace-ms",
                   spec.name, spec.version, spec.handler.grace.count(), type->grace.count());
    }
    {
      std::lock_guard lock(mutex_);
      auto& turns = turns_[spec.name];
      if (!turns) turns = std::make_shared<Turns>();
      turns->Update(spec.version, spec.handler.concurrency);
      type->turns = turns;
    }
    return [type = std::shared_ptr<const ExecType>(std::move(type))](TaskContext& ctx) { return RunTask(*type, ctx); };
  }

 private:
  std::string Shim() {
    std::lock_guard lock(mutex_);
    if (shim_.empty()) shim_ = options_.shim.empty() ? ExecShimPath() : options_.shim;
    return shim_;
  }

  const ExecHandlerOptions options_;
  std::vector<std::string> base_env_;
  std::mutex mutex_;
  std::string shim_;
  std::map<std::string, std::shared_ptr<Turns>, std::less<>> turns_;
};

bool ValidName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

ExecHandlerOptions ExecOptionsFromEnv(std::chrono::milliseconds abandon_grace) {
  ExecHandlerOptions options;
  // Checked now: a worker without its shim would fail every exec task.
  options.shim = ExecShimPath();
  for (auto& name : SplitList(EnvOr("FILA_EXEC_PASS_ENV", ""))) {
    if (!ValidName(name)) {
      throw PermanentError("FILA_EXEC_PASS_ENV: '" + name + "' is not a variable name", "FILA_EXEC_PASS_ENV");
    }
    if (name.rfind("FILA_", 0) == 0) {
      throw PermanentError("FILA_EXEC_PASS_ENV: " + name +
                               " is the worker's own setting (FILA_*): it is never passed to commands",
                           "FILA_EXEC_PASS_ENV");
    }
    options.pass_env.push_back(std::move(name));
  }
  options.max_grace = std::max(milliseconds(0), abandon_grace - kAbandonMargin);
  return options;
}

std::shared_ptr<HandlerFactory> MakeExecHandlerFactory(ExecHandlerOptions options) {
  return std::make_shared<ExecHandlerFactory>(std::move(options));
}

std::string ExecShimPath() {
  std::string path = EnvOr("FILA_EXEC_SHIM", "");
  if (path.empty()) {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw PermanentError("cannot tell where this program is (/proc/self/exe): set FILA_EXEC_SHIM");
    path = (self.parent_path() / "fila-exec-shim").string();
  }
  if (::access(path.c_str(), X_OK) != 0) {
    throw PermanentError("fila-exec-shim (" + path +
                         ") is missing or not executable: install it next to fila-worker, or set FILA_EXEC_SHIM");
  }
  return path;
}

}  // namespace fila
