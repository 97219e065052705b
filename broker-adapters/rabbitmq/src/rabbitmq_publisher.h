#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "amqp_connection.h"
#include "confirm_tracker.h"
#include "fila/core/broker.h"

namespace fila::rabbitmq {

// One connection, one channel in confirm mode. Not thread-safe.
class RabbitMqPublisher final : public Publisher {
 public:
  explicit RabbitMqPublisher(std::shared_ptr<const ConnectionParams> params);
  ~RabbitMqPublisher() override;

  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) override;
  uint64_t PublishAsync(std::span<const OutgoingMessage> messages, Deadline deadline) override;
  std::vector<PublishOutcome> CollectConfirms(Deadline deadline) override;
  size_t InFlight() const override { return tracker_.InFlight(); }
  QueueCounts CountQueue(const std::string& queue, Deadline deadline) override;

 private:
  void EnsureConnected(Deadline deadline);
  // Reads what the broker sent while we were idle (a close, late confirms
  // of a batch that timed out). False when the connection is not usable.
  bool StillUsable();
  // Declares (and binds) the queue on this connection; returns its counts.
  // Drops the connection and rethrows on failure.
  QueueCounts Declare(const std::string& queue, Deadline deadline);
  void DeclareQueues(std::span<const OutgoingMessage> messages, Deadline deadline);
  // Publishes `messages` (mandatory) with tags from next_tag_ on; returns
  // the first tag. Fail()s on a send error.
  uint64_t Send(std::span<const OutgoingMessage> messages);
  // Whether `queue` was declared with kFairMaxPriority on this connection:
  // then a message's AMQP priority is 2 * priority + ahead, else priority.
  bool FairOrdering(const std::string& queue) const;
  uint8_t AmqpPriority(const OutgoingMessage& message) const;
  // Sends again what came back unroutable, after declaring its queues
  // again; a batch past kReturnRounds fails. Fail()s on a send error.
  void SendReturnedAgain();
  // Reads one frame, waiting up to `deadline`; feeds confirms and returns to
  // the tracker. False when none came. Fail()s on a lost connection.
  bool ReadFrame(Deadline deadline);
  // Reads the content of a basic.return (its method frame is `frame`).
  OutgoingMessage ReadReturned(const amqp_frame_t& frame);
  // Logs `why` and forgets the connection, failing every batch in flight;
  // the next call reconnects.
  void Drop(const std::string& why);
  // Drop(), then throws TransientError.
  [[noreturn]] void Fail(const std::string& why);

  std::shared_ptr<const ConnectionParams> params_;
  std::unique_ptr<AmqpConnection> connection_;
  NodeCursor nodes_;
  Backoff backoff_;
  // Confirm-mode delivery tag of the next publish; restarts at 1 with every
  // channel.
  uint64_t next_tag_ = 1;
  // Logical queues declared on the current connection -> their
  // x-max-priority (DeclaredQueue::max_priority).
  std::unordered_map<std::string, int> declared_;
  ConfirmTracker tracker_;
  uint64_t next_ticket_ = 1;
  SteadyClock::time_point last_used_{};
};

}  // namespace fila::rabbitmq
