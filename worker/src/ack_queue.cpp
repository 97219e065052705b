#include "ack_queue.h"

namespace fila {

void AckQueue::Post(std::span<const AckRef> refs) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = acks_.empty();
    acks_.insert(acks_.end(), refs.begin(), refs.end());
  }
  if (!was_empty) return;
  if (Consumer* c = consumer_.load()) c->Wakeup();
}

std::vector<AckRef> AckQueue::TakeAll() {
  std::vector<AckRef> ready;
  std::lock_guard lock(mutex_);
  ready.swap(acks_);
  return ready;
}

}  // namespace fila
