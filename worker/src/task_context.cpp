#include "task_context.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "fila/uuid.h"

namespace fila {

bool SlotContext::Cancelled() const { return cancelled_.load() || DeadlinePassed(); }

bool SlotContext::SleepFor(std::chrono::milliseconds duration) {
  // Wake at least every 50 ms so cancellation is seen promptly.
  constexpr auto kStep = std::chrono::milliseconds(50);
  const auto until = SteadyClock::now() + duration;
  while (!Cancelled()) {
    auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, kStep));
  }
  return false;
}

std::string SlotContext::Enqueue(const TaskRequest& request) {
  // Children of one task are bounded: a runaway loop fails the task, it
  // does not fill the database (the store also caps the whole tree).
  const TaskLimits limits;
  TaskRequest r = request;
  r.tenant = tenant_;
  NewTask child = PrepareTask(r, types_, limits);
  child.id = NewUuid();
  child.parent_id = id_;
  std::lock_guard lock(children_mutex_);
  if (children_.size() >= limits.max_children) {
    throw PermanentError("more than " + std::to_string(limits.max_children) + " child tasks");
  }
  children_.push_back(std::move(child));
  return children_.back().id;
}

std::vector<NewTask> SlotContext::TakeChildren() {
  std::lock_guard lock(children_mutex_);
  return std::exchange(children_, {});
}

void SlotContext::Progress(int percent, std::string_view message) {
  sink_({id_, attempt_, std::clamp(percent, 0, 100), std::string(message)});
}

}  // namespace fila
