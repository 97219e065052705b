#include "fila/test_support/fake_task_context.h"

#include <thread>

namespace fila::test {

FakeTaskContext::FakeTaskContext(std::string payload, std::chrono::milliseconds budget)
    : payload_(std::move(payload)), deadline_(DeadlineIn(budget)) {}

Deadline FakeTaskContext::TaskDeadline() const {
  std::lock_guard lock(mutex_);
  return deadline_;
}

bool FakeTaskContext::Cancelled() const { return cancel.load() || SteadyClock::now() >= TaskDeadline(); }

bool FakeTaskContext::SleepFor(std::chrono::milliseconds duration) {
  {
    std::lock_guard lock(mutex_);
    sleeps_.push_back(duration);
  }
  if (fake_sleep) return !Cancelled();
  const auto until = SteadyClock::now() + duration;
  while (!Cancelled()) {
    const auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, std::chrono::milliseconds(10)));
  }
  return false;
}

void FakeTaskContext::Progress(int percent, std::string_view message) {
  {
    std::lock_guard lock(mutex_);
    progress_.emplace_back(percent, std::string(message));
  }
  if (on_progress) on_progress();
}

std::string FakeTaskContext::Enqueue(const TaskRequest& request) {
  std::lock_guard lock(mutex_);
  children_.push_back(request);
  return "child-" + std::to_string(children_.size());
}

void FakeTaskContext::ExpireIn(std::chrono::milliseconds left) {
  std::lock_guard lock(mutex_);
  deadline_ = DeadlineIn(left);
}

std::vector<std::pair<int, std::string>> FakeTaskContext::progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
}

int FakeTaskContext::last_progress() const {
  std::lock_guard lock(mutex_);
  return progress_.empty() ? -1 : progress_.back().first;
}

std::vector<TaskRequest> FakeTaskContext::children() const {
  std::lock_guard lock(mutex_);
  return children_;
}

std::vector<std::chrono::milliseconds> FakeTaskContext::sleeps() const {
  std::lock_guard lock(mutex_);
  return sleeps_;
}

}  // namespace fila::test
