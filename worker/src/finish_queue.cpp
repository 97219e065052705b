#include "finish_queue.h"

#include <utility>

namespace fila {

void FinishQueue::Finished(Done d) {
  const int64_t waiting = unrecorded_.fetch_add(1);
  d.acked = waiting < max_unrecorded_;
  if (d.acked) {
    const AckRef ref{d.epoch, d.tag};
    acks_.Post({&ref, 1});
  }
  done_.Push(std::move(d));
}

void FinishQueue::Settled(const Done& d) {
  if (!d.acked) {
    const AckRef ref{d.epoch, d.tag};
    acks_.Post({&ref, 1});
  }
  unrecorded_ -= 1;
}

}  // namespace fila
