#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>

#include "amqp_connection.h"
#include "fila/core/broker.h"

namespace fila::rabbitmq {

// One connection, one channel in confirm mode. Not thread-safe.
class RabbitMqPublisher final : public Publisher {
 public:
  explicit RabbitMqPublisher(std::shared_ptr<const ConnectionParams> params);
  ~RabbitMqPublisher() override;

  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) override;

 private:
  void EnsureConnected(Deadline deadline);
  // Reads what the broker sent while we were idle (a close, late confirms
  // of a batch that timed out). False when the connection is not usable.
  bool StillUsable();
  void DeclareQueues(std::span<const OutgoingMessage> messages, Deadline deadline);
  void AwaitConfirms(uint64_t first, uint64_t last, Deadline deadline);
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
