// MemoryStore: queue pauses (TaskAdminStore::PauseQueue and the claim's
// side of them), as PostgreSQL's queue_pauses table and "claim" statement.
#include "fila/core/task_types.h"
#include "memory_state.h"

namespace fila {

void MemoryStore::State::Bounce(MemTask& t, ClaimResult& result) {
  bool has_row = false;
  for (const auto& [outbox_id, row] : outbox) has_row = has_row || row.first == t.v.id;
  if (!has_row) AddOutbox(t.v.id);
  result.paused.push_back(t.v.id);
}

bool MemoryStore::PauseQueue(const std::string& queue, const std::string& by) {
  ValidateQueueName(queue);
  std::lock_guard lock(state_->mu);
  return state_->queue_pauses.try_emplace(queue, QueuePause{queue, by, state_->Now()}).second;
}

bool MemoryStore::ResumeQueue(const std::string& queue) {
  ValidateQueueName(queue);
  std::lock_guard lock(state_->mu);
  if (state_->queue_pauses.erase(queue) == 0) return false;
  state_->Signal("");  // the relay: the queue's outbox rows are ready again
  return true;
}

std::vector<QueuePause> MemoryStore::QueuePauses() {
  std::lock_guard lock(state_->mu);
  std::vector<QueuePause> out;
  for (const auto& [queue, pause] : state_->queue_pauses) out.push_back(pause);
  return out;
}

}  // namespace fila
