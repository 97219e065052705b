#pragma once

// Raw AMQP (rabbitmq-c) for what fila's broker adapter deliberately does
// not offer, so that tests can play the operator who loses messages:
// counting, purging and deleting the work queue "fila.<logical>" of a
// logical queue. Not product code. Not thread-safe; throws
// std::runtime_error when the broker refuses or cannot be reached.

#include <cstdint>
#include <memory>
#include <string>

namespace fila::test {

class AmqpAdmin final {
 public:
  explicit AmqpAdmin(const std::string& amqp_url);
  ~AmqpAdmin();
  AmqpAdmin(const AmqpAdmin&) = delete;
  AmqpAdmin& operator=(const AmqpAdmin&) = delete;

  // Ready (undelivered) messages; the queue must exist.
  uint32_t Ready(const std::string& logical);
  // Drops its ready messages (`rabbitmqctl purge_queue`); returns how many.
  uint32_t Purge(const std::string& logical);
  // Deletes the queue with whatever it holds; its consumers are cancelled.
  void Delete(const std::string& logical);

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace fila::test
