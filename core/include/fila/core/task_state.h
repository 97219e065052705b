#pragma once

#include <optional>
#include <string_view>

namespace fila {

// The life cycle of a task (see DESIGN.md):
//   blocked -> queued -> running -> succeeded | failed | dead | cancelled
//   running -> scheduled -> queued   (retry after a delay)
enum class TaskState {
  kBlocked,
  kQueued,
  kScheduled,
  kRunning,
  kSucceeded,
  kFailed,
  kDead,
  kCancelled,
};

std::string_view ToString(TaskState state) noexcept;
std::optional<TaskState> ParseTaskState(std::string_view text) noexcept;

// Terminal states never change again except by an explicit operator retry.
bool IsTerminal(TaskState state) noexcept;

// Whether the life cycle allows `from -> to` as one guarded transition.
bool CanTransition(TaskState from, TaskState to) noexcept;

// The outcome of one attempt, as recorded in task_attempts.
// kLost: the worker died or stopped before the attempt finished.
enum class Outcome { kSucceeded, kFailed, kTimedOut, kCancelled, kLost };
std::string_view ToString(Outcome outcome) noexcept;

}  // namespace fila
