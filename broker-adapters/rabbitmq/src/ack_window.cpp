#include "ack_window.h"

#include <algorithm>

namespace fila::rabbitmq {

void AckWindow::Delivered(uint64_t tag) {
  if (state_.empty() && outstanding_ == 0) base_ = tag;  // nothing older is open
  const uint64_t next = base_ + state_.size();
  if (tag < next) return;  // not newer than what we know: a broker bug; ignore
  state_.insert(state_.end(), tag - next, false);
  state_.push_back(true);
  ++outstanding_;
}

bool AckWindow::IsOutstanding(uint64_t tag) const {
  return tag >= base_ && tag < base_ + state_.size() && state_[tag - base_];
}

bool AckWindow::Settle(uint64_t tag) {
  if (!IsOutstanding(tag)) return false;
  state_[tag - base_] = false;
  --outstanding_;
  Compact();
  return true;
}

AckWindow::Plan AckWindow::Ack(std::span<const uint64_t> tags) {
  std::vector<uint64_t> settled;
  settled.reserve(tags.size());
  for (uint64_t tag : tags) {
    if (!IsOutstanding(tag)) continue;
    state_[tag - base_] = false;
    --outstanding_;
    settled.push_back(tag);
  }
  Plan plan;
  if (settled.empty()) return plan;
  // Everything up to the new base is settled, so a `multiple` ack there
  // cannot touch anything still outstanding. It must name a tag the broker
  // still holds unacked (RabbitMQ closes the channel otherwise): the
  // highest of this batch below the base, not the base itself.
  const uint64_t last_dropped = Compact();
  for (uint64_t tag : settled) {
    if (tag <= last_dropped) {
      plan.multiple_up_to = std::max(plan.multiple_up_to, tag);
    } else {
      plan.singles.push_back(tag);
    }
  }
  return plan;
}

void AckWindow::Reset() {
  state_.clear();
  base_ = 1;
  outstanding_ = 0;
}

uint64_t AckWindow::Compact() {
  uint64_t last_dropped = 0;
  while (!state_.empty() && !state_.front()) {
    last_dropped = base_;
    state_.pop_front();
    ++base_;
  }
  return last_dropped;
}

}  // namespace fila::rabbitmq
