#pragma once

// The batches a confirm-mode channel has in flight: which delivery tags are
// whose, which messages came back unroutable, and how each batch ended.
// Pure logic, no I/O: the publisher feeds it what the broker answers.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fila/core/broker.h"
#include "fila/core/clock.h"

namespace fila::rabbitmq {

// Not thread-safe: it belongs to the thread that owns the channel.
class ConfirmTracker final {
 public:
  // Messages of a batch to send again: they came back unroutable, and every
  // tag of the batch is answered (a basic.return precedes its basic.ack, so
  // no return of the batch is still on its way). `round` counts the sends.
  struct Resend {
    uint64_t ticket = 0;
    int round = 0;
    Deadline deadline{};  // the batch's
    std::vector<OutgoingMessage> messages;
  };

  // A batch was sent with tags first_tag .. first_tag + size - 1. An empty
  // batch ends confirmed at once.
  void Sent(uint64_t ticket, uint64_t first_tag, std::span<const OutgoingMessage> messages,
            Deadline deadline);
  // The messages of a Resend went out again with tags from first_tag on.
  void Resent(const Resend& resend, uint64_t first_tag);
  // A basic.ack (ack) or basic.nack; `multiple` covers every tag up to
  // `tag`. Tags not in flight (a batch that already ended) are ignored.
  void Answered(uint64_t tag, bool multiple, bool ack);
  // A basic.return. It carries no delivery tag: it is matched by content to
  // the oldest batch that sent such a message and has not heard of it.
  // Should two batches hold the same message, either is fine: the task has
  // an outbox row until the batch that sends it again ends confirmed.
  void Returned(OutgoingMessage message);
  // Batches waiting to send their returned messages again; they stay in
  // flight until Resent() or Fail().
  std::vector<Resend> TakeResends();
  // Ends one batch unconfirmed (its late answers are then ignored).
  void Fail(uint64_t ticket, const std::string& why);
  // Ends every batch in flight unconfirmed: the connection is gone.
  void FailAll(const std::string& why);
  // Ends the batches whose deadline is not after `now` unconfirmed.
  void Expire(SteadyClock::time_point now);
  // Outcomes of the batches that ended, oldest first, each once.
  std::vector<PublishOutcome> TakeFinished();
  // Puts outcomes taken earlier back in front (PublishConfirmed waited for
  // one batch and saw others end).
  void Keep(std::vector<PublishOutcome> outcomes);
  bool HasFinished() const { return !finished_.empty(); }
  // Batches sent and not yet ended.
  size_t InFlight() const { return batches_.size(); }
  // Messages of those batches still waiting for an answer.
  size_t UnansweredTags() const { return tags_.size(); }
  // The earliest deadline of a batch in flight; Deadline::max() when none.
  Deadline EarliestDeadline() const;

 private:
  struct Batch {
    Deadline deadline{};
    size_t total = 0;  // messages of the first send, for messages
    std::vector<OutgoingMessage> sent;  // of the last round, for matching returns
    std::vector<bool> came_back;        // parallel to `sent`
    std::vector<OutgoingMessage> returned;
    size_t unanswered = 0;
    size_t nacked = 0;
    int round = 1;
    bool resend_taken = false;
  };

  void Track(uint64_t ticket, Batch& batch, uint64_t first_tag);
  // A batch all of whose tags are answered: ends it, or leaves it for a resend.
  void Settle(uint64_t ticket, Batch& batch);
  void End(uint64_t ticket, bool confirmed, std::string error);

  std::map<uint64_t, Batch> batches_;  // by ticket
  std::map<uint64_t, uint64_t> tags_;  // unanswered tag -> ticket
  std::vector<PublishOutcome> finished_;
};

}  // namespace fila::rabbitmq
