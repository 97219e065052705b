#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "amqp_connection.h"
#include "fila/core/broker.h"

namespace fila::rabbitmq {

// One connection, one channel in confirm mode. Not thread-safe.
class RabbitMqPublisher final : public Publisher {
 public:
  explicit RabbitMqPublisher(std::shared_ptr<const ConnectionParams> params);
  ~RabbitMqPublisher() override;

  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) override;
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
  // Publishes `messages` (mandatory) and waits for their confirms; returns
  // those the broker returned unroutable, rebuilt from the returns.
  std::vector<OutgoingMessage> SendConfirmed(std::span<const OutgoingMessage> messages,
                                             Deadline deadline);
  std::vector<OutgoingMessage> AwaitConfirms(uint64_t first, uint64_t last, Deadline deadline);
  // Reads the content of a basic.return (its method frame is `frame`).
  OutgoingMessage ReadReturned(const amqp_frame_t& frame);
  // Logs `why` and forgets the connection; the next call reconnects.
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
  // Logical queues declared on the current connection.
  std::unordered_set<std::string> declared_;
  SteadyClock::time_point last_used_{};
};

}  // namespace fila::rabbitmq
