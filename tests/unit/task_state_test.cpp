#include "fila/core/task_state.h"

#include <gtest/gtest.h>

namespace fila {
namespace {

constexpr TaskState kAll[] = {TaskState::kBlocked,   TaskState::kQueued, TaskState::kScheduled,
                              TaskState::kRunning,   TaskState::kSucceeded, TaskState::kFailed,
                              TaskState::kDead,      TaskState::kCancelled};

TEST(TaskState, NamesRoundTrip) {
  for (TaskState s : kAll) {
    auto parsed = ParseTaskState(ToString(s));
    ASSERT_TRUE(parsed.has_value()) << ToString(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_FALSE(ParseTaskState("Queued").has_value());
  EXPECT_FALSE(ParseTaskState("").has_value());
}

TEST(TaskState, HappyPathIsAllowed) {
  EXPECT_TRUE(CanTransition(TaskState::kBlocked, TaskState::kQueued));
  EXPECT_TRUE(CanTransition(TaskState::kQueued, TaskState::kRunning));
  EXPECT_TRUE(CanTransition(TaskState::kRunning, TaskState::kSucceeded));
}

TEST(TaskState, RetryGoesThroughScheduled) {
  EXPECT_TRUE(CanTransition(TaskState::kRunning, TaskState::kScheduled));
  EXPECT_TRUE(CanTransition(TaskState::kScheduled, TaskState::kQueued));
  EXPECT_FALSE(CanTransition(TaskState::kScheduled, TaskState::kRunning));
}

TEST(TaskState, SucceededIsFinal) {
  for (TaskState s : kAll) EXPECT_FALSE(CanTransition(TaskState::kSucceeded, s)) << ToString(s);
}

TEST(TaskState, NothingSkipsTheClaim) {
  // Only a claim (queued -> running) may start a task.
  for (TaskState s : kAll) {
    if (s == TaskState::kQueued) continue;
    EXPECT_FALSE(CanTransition(s, TaskState::kRunning)) << ToString(s);
  }
}

TEST(TaskState, TerminalStatesOnlyReplay) {
  for (TaskState s : {TaskState::kFailed, TaskState::kDead, TaskState::kCancelled}) {
    EXPECT_TRUE(IsTerminal(s));
    for (TaskState to : kAll) {
      EXPECT_EQ(CanTransition(s, to), to == TaskState::kQueued) << ToString(s) << "->" << ToString(to);
    }
  }
  EXPECT_FALSE(IsTerminal(TaskState::kRunning));
  EXPECT_FALSE(IsTerminal(TaskState::kScheduled));
}

TEST(TaskState, OutcomeNames) {
  EXPECT_EQ(ToString(Outcome::kTimedOut), "timed_out");
  EXPECT_EQ(ToString(Outcome::kSucceeded), "succeeded");
}

}  // namespace
}  // namespace fila
