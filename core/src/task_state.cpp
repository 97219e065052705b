#include "fila/core/task_state.h"

#include <array>
#include <utility>

namespace fila {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, 8> kNames{{
    {TaskState::kBlocked, "blocked"},
    {TaskState::kQueued, "queued"},
    {TaskState::kScheduled, "scheduled"},
    {TaskState::kRunning, "running"},
    {TaskState::kSucceeded, "succeeded"},
    {TaskState::kFailed, "failed"},
    {TaskState::kDead, "dead"},
    {TaskState::kCancelled, "cancelled"},
}};

}  // namespace

std::string_view ToString(TaskState state) noexcept {
  for (const auto& [value, name] : kNames) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<TaskState> ParseTaskState(std::string_view text) noexcept {
  for (const auto& [value, name] : kNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsTerminal(TaskState state) noexcept {
  switch (state) {
    case TaskState::kSucceeded:
    case TaskState::kFailed:
    case TaskState::kDead:
    case TaskState::kCancelled:
      return true;
    default:
      return false;
  }
}

bool CanTransition(TaskState from, TaskState to) noexcept {
  using S = TaskState;
  switch (from) {
    case S::kBlocked:
      // Released when its parents succeeded: queued, or scheduled when its
      // run_at is still ahead; cancelled when one of them did not.
      return to == S::kQueued || to == S::kScheduled || to == S::kCancelled;
    case S::kQueued:
      // Scheduled: a key limit makes it wait for a concurrency unit or its
      // rate slot.
      return to == S::kRunning || to == S::kScheduled || to == S::kCancelled;
    case S::kScheduled:
      return to == S::kQueued || to == S::kCancelled;
    case S::kRunning:
      // A finished attempt (DecideEndedAttempt): succeeded, scheduled,
      // failed, dead or cancelled. A lost one (DecideLostAttempt): queued
      // at once, dead or cancelled.
      return to == S::kSucceeded || to == S::kFailed || to == S::kDead ||
             to == S::kScheduled || to == S::kQueued || to == S::kCancelled;
    case S::kFailed:
    case S::kDead:
    case S::kCancelled:
      return to == S::kQueued;  // operator replay
    case S::kSucceeded:
      return false;
  }
  return false;
}

std::string_view ToString(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kTimedOut: return "timed_out";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kLost: return "lost";
  }
  return "unknown";
}

}  // namespace fila
