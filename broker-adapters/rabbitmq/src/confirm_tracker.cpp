#include "confirm_tracker.h"

#include <algorithm>
#include <utility>

namespace fila::rabbitmq {

void ConfirmTracker::Sent(uint64_t ticket, uint64_t first_tag,
                          std::span<const OutgoingMessage> messages, Deadline deadline) {
  Batch& batch = batches_[ticket];
  batch.deadline = deadline;
  batch.total = messages.size();
  batch.sent.assign(messages.begin(), messages.end());
  Track(ticket, batch, first_tag);
}

void ConfirmTracker::Resent(const Resend& resend, uint64_t first_tag) {
  auto it = batches_.find(resend.ticket);
  if (it == batches_.end()) return;
  Batch& batch = it->second;
  batch.sent = resend.messages;
  batch.returned.clear();
  batch.round = resend.round;
  batch.resend_taken = false;
  Track(resend.ticket, batch, first_tag);
}

void ConfirmTracker::Track(uint64_t ticket, Batch& batch, uint64_t first_tag) {
  batch.came_back.assign(batch.sent.size(), false);
  batch.unanswered = batch.sent.size();
  for (size_t i = 0; i < batch.sent.size(); ++i) tags_.emplace(first_tag + i, ticket);
  if (batch.unanswered == 0) Settle(ticket, batch);
}

void ConfirmTracker::Answered(uint64_t tag, bool multiple, bool ack) {
  auto answer = [&](std::map<uint64_t, uint64_t>::iterator it) {
    const uint64_t ticket = it->second;
    tags_.erase(it);
    auto batch_it = batches_.find(ticket);
    if (batch_it == batches_.end()) return;
    Batch& batch = batch_it->second;
    --batch.unanswered;
    if (!ack) ++batch.nacked;
    if (batch.unanswered == 0) Settle(ticket, batch);
  };
  if (!multiple) {
    if (auto it = tags_.find(tag); it != tags_.end()) answer(it);
    return;
  }
  while (!tags_.empty() && tags_.begin()->first <= tag) answer(tags_.begin());
}

void ConfirmTracker::Returned(OutgoingMessage message) {
  for (auto& [ticket, batch] : batches_) {
    if (batch.unanswered == 0) continue;
    for (size_t i = 0; i < batch.sent.size(); ++i) {
      const OutgoingMessage& sent = batch.sent[i];
      if (batch.came_back[i] || sent.queue != message.queue ||
          sent.message_id != message.message_id || sent.body != message.body) {
        continue;
      }
      batch.came_back[i] = true;
      // The priority as sent: the broker echoes the clamped one.
      batch.returned.push_back(sent);
      return;
    }
  }
  // Of a batch that already ended (its deadline passed): nothing waits for it.
}

void ConfirmTracker::Settle(uint64_t ticket, Batch& batch) {
  if (batch.nacked > 0) {
    End(ticket, false,
        "broker nacked " + std::to_string(batch.nacked) + " of " + std::to_string(batch.total) +
            " publishes");
  } else if (batch.returned.empty()) {
    End(ticket, true, {});
  }
  // Otherwise it waits in TakeResends().
}

std::vector<ConfirmTracker::Resend> ConfirmTracker::TakeResends() {
  std::vector<Resend> out;
  for (auto& [ticket, batch] : batches_) {
    if (batch.unanswered != 0 || batch.returned.empty() || batch.resend_taken) continue;
    batch.resend_taken = true;
    out.push_back({ticket, batch.round + 1, batch.deadline, batch.returned});
  }
  return out;
}

void ConfirmTracker::Fail(uint64_t ticket, const std::string& why) {
  if (batches_.contains(ticket)) End(ticket, false, why);
}

void ConfirmTracker::FailAll(const std::string& why) {
  while (!batches_.empty()) End(batches_.begin()->first, false, why);
  tags_.clear();
}

void ConfirmTracker::Expire(SteadyClock::time_point now) {
  std::vector<std::pair<uint64_t, size_t>> expired;
  for (const auto& [ticket, batch] : batches_) {
    if (batch.deadline <= now) expired.emplace_back(ticket, batch.unanswered);
  }
  for (const auto& [ticket, unanswered] : expired) {
    // Late answers carry tags no batch holds any more: ignored.
    End(ticket, false,
        "deadline passed with " + std::to_string(unanswered) + " of " +
            std::to_string(batches_.at(ticket).total) + " publishes unconfirmed");
  }
}

void ConfirmTracker::End(uint64_t ticket, bool confirmed, std::string error) {
  auto batch = batches_.find(ticket);
  if (batch->second.unanswered > 0) {
    for (auto it = tags_.begin(); it != tags_.end();) {
      it = it->second == ticket ? tags_.erase(it) : std::next(it);
    }
  }
  batches_.erase(batch);
  finished_.push_back({ticket, confirmed, std::move(error)});
}

std::vector<PublishOutcome> ConfirmTracker::TakeFinished() { return std::exchange(finished_, {}); }

void ConfirmTracker::Keep(std::vector<PublishOutcome> outcomes) {
  outcomes.insert(outcomes.end(), finished_.begin(), finished_.end());
  finished_ = std::move(outcomes);
}

Deadline ConfirmTracker::EarliestDeadline() const {
  Deadline earliest = Deadline::max();
  for (const auto& [ticket, batch] : batches_) earliest = std::min(earliest, batch.deadline);
  return earliest;
}

}  // namespace fila::rabbitmq
