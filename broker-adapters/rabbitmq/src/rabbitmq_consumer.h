#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ack_window.h"
#include "amqp_connection.h"
#include "fila/core/broker.h"

namespace fila::rabbitmq {

// One connection; channel 1 has one basic.consume per queue (and express
// lane) and a channel-wide prefetch (classic queues; limits per consumer
// where lanes or quorum queues need them) and also carries replies (Reply(), unconfirmed),
// channel 2 (confirm mode) publishes dead letters.
// Not thread-safe except Wakeup() and Connected().
class RabbitMqConsumer final : public Consumer {
 public:
  // Throws TransientError when the process is out of file descriptors.
  explicit RabbitMqConsumer(std::shared_ptr<const ConnectionParams> params);
  // Closes the connection cleanly, so the broker requeues unacked
  // deliveries at once.
  ~RabbitMqConsumer() override;

  void Start(const std::vector<std::string>& queues, uint16_t prefetch) override;
  void StartWithLanes(const std::vector<std::string>& queues, uint16_t prefetch,
                      const std::vector<std::string>& lanes, uint16_t lane_prefetch) override;
  std::optional<Delivery> Next(Deadline deadline) override;
  void Ack(uint64_t epoch, uint64_t tag) override;
  // One basic.ack multiple for the part of `tags` that closes the oldest
  // unsettled range, single acks for the rest.
  void AckMany(uint64_t epoch, std::span<const uint64_t> tags) override;
  void Reject(uint64_t epoch, uint64_t tag, bool requeue) override;
  // Publishes on channel 2 and waits (at most connect_timeout) for the
  // confirm; on a timeout, nack, unroutable return or error the connection
  // is dropped instead (Lose), so the broker redelivers the original.
  // Deliveries for channel 1 read meanwhile are kept for Next().
  void DeadLetter(const Delivery& delivery, const std::string& reason) override;
  // Publishes on channel 1, the consumer's own channel: a reply needs no
  // confirm (see Consumer::Reply), and on channel 2 every reply would add a
  // confirm to read and shift the publish numbers DeadLetter() waits for.
  void Reply(const Delivery& request, const std::string& body,
             const std::string& content_type) override;
  void Stop() override;
  // basic.consume again on the open channel (its qos still holds); with
  // no connection, Next() subscribes when it reconnects.
  void Resume() override;
  void Wakeup() override;
  bool Connected() const override;

 private:
  enum class Woken { kWakeup, kReadable, kTimeout };

  // Connects, declares, sets qos and subscribes before `deadline`; starts a
  // new epoch. Throws TransientError, after moving on to the next node.
  void Connect(Deadline deadline);
  void Subscribe(Deadline deadline);  // Connect() without the move
  // basic.qos (per consumer, where needed) and basic.consume of every
  // queue and lane; consumer tag -> logical queue. Throws TransientError.
  std::unordered_map<std::string, std::string> ConsumeAll(AmqpConnection& connection,
                                                          Deadline deadline);
  // Classic queues take a limit for the whole channel (global qos).
  bool ChannelWidePrefetch() const;
  // One connection attempt from Next(); false (logged) when it failed.
  bool TryReconnect(Deadline deadline);
  void Lose(const std::string& why);
  // Reads at most one frame without blocking: a delivery, or nullopt after
  // anything else (which it handles, possibly losing the connection).
  std::optional<Delivery> ReadOne();
  void HandleOtherFrame();
  // Waits for the confirm of dead-letter publish number `tag` on channel 2.
  // Returns why it failed (the caller then calls Lose()), or nullopt on
  // success. Deliveries of channel 1 read while waiting go to pending_.
  std::optional<std::string> AwaitDeadLetterConfirm(uint64_t tag, Deadline deadline);
  // Waits without spinning until `until`, a Wakeup(), or (with
  // `with_socket`) data on the connection.
  Woken WaitUntil(Deadline until, bool with_socket);
  bool TakeWakeup();

  std::shared_ptr<const ConnectionParams> params_;
  std::unique_ptr<AmqpConnection> connection_;
  NodeCursor nodes_;
  Backoff backoff_;
  std::vector<std::string> queues_;
  uint16_t prefetch_ = 0;
  std::vector<std::string> lanes_;  // express lanes, with a prefetch of their own
  uint16_t lane_prefetch_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  uint64_t epoch_ = 0;
  uint64_t next_dead_letter_tag_ = 1;  // publish sequence of channel 2
  bool dead_letters_ = false;          // fila.dead declared on this connection
  std::unordered_map<std::string, std::string> queue_of_consumer_tag_;
  // Deliveries of the current epoch read by DeadLetter(), oldest first;
  // Next() returns them before reading the connection.
  std::deque<Delivery> pending_;
  // Tags of this epoch delivered and not yet acked or rejected.
  AckWindow unsettled_;
  std::chrono::seconds heartbeat_{0};
  SteadyClock::time_point last_heard_{};  // last time the socket had data
  int wake_fd_ = -1;                      // eventfd written by Wakeup()
  std::atomic<bool> connected_{false};
};

}  // namespace fila::rabbitmq
