#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/broker.h"

namespace fila {

// An in-process Broker for unit tests of logic: no I/O, no persistence.
// It mirrors the RabbitMQ behaviour the rest of fila relies on:
// - per logical queue, higher priority first (0..9; larger counts as 9),
//   FIFO within one priority;
// - a consumer's prefetch caps its unacked deliveries across all of its
//   queues together (0 = no cap, as in AMQP);
// - Reject(requeue=true) and a lost consumer put messages back at their
//   original place, flagged redelivered;
// - a lost connection starts a new epoch, and acks/rejects carrying an older
//   epoch are ignored;
// - acking or rejecting an unknown tag of the current epoch is a channel
//   error, as in RabbitMQ: that consumer's connection is dropped (its
//   unacked messages are requeued, a new epoch starts). ChannelErrors()
//   counts these, so tests can catch double acks;
// - DeadLetter() moves the message to the logical queue "dead" (priority 0,
//   as the RabbitMQ adapter publishes it), where Depth("dead") counts it and
//   a consumer of "dead" receives it; DeadLetters() records every one with
//   its reason. A stale epoch is ignored; an unknown tag of the current
//   epoch still lands in "dead" and then is a channel error, as the
//   RabbitMQ adapter publishes before it acks;
// - Publisher::CountQueue() answers Depth() (ready messages, not unacked
//   ones) and the connected consumers subscribed to the queue;
// - PublishRequest() puts a message with request/reply properties on a
//   queue (OutgoingMessage has none), and Reply() records the answer in
//   Replies() instead of routing it anywhere (reply queues are the
//   requester's, outside fila's topology). Empty reply_to or an older
//   epoch: no reply, as in the RabbitMQ adapter.
//
// - PublishAsync() puts the messages on their queues at once (RabbitMQ
//   routes them before it confirms); the batch ends confirmed at once, or,
//   while HoldConfirms(true), when the test confirms or nacks it. A lost
//   connection (SetReachable(false), FailNextPublish) fails every batch in
//   flight, whose messages stay queued (as on RabbitMQ, where an
//   unconfirmed message may well have arrived).
//
// Thread-safe: every publisher and consumer shares one mutex, and Next()
// and CollectConfirms() block on a condition variable. Publishers and
// consumers may outlive the broker. Deadlines of publishes are ignored
// (nothing blocks).
class MemoryBroker final : public Broker {
 public:
  MemoryBroker();
  ~MemoryBroker() override;
  MemoryBroker(const MemoryBroker&) = delete;
  MemoryBroker& operator=(const MemoryBroker&) = delete;

  std::unique_ptr<Publisher> NewPublisher() override;
  std::unique_ptr<Consumer> NewConsumer() override;

  // --- Test hooks ---

  // Ready messages of a logical queue (published, not delivered).
  size_t Depth(const std::string& queue) const;
  // Drops the ready messages of a logical queue, as `rabbitmqctl
  // purge_queue` would; returns how many.
  size_t Purge(const std::string& queue);
  // Delivered and neither acked nor rejected yet, over all consumers.
  size_t Unacked() const;
  // The next PublishConfirmed throws TransientError after enqueueing the
  // first `published_before_failure` messages of its batch, like a
  // connection lost before the rest was confirmed.
  void FailNextPublish(size_t published_before_failure = 0);
  // Every consumer loses its connection: its unacked messages are requeued
  // as redelivered, and it resubscribes at once with a new epoch.
  void DropConnections();
  // While unreachable, PublishConfirmed and Start throw TransientError,
  // consumers are disconnected (as DropConnections, but they stay down:
  // Next() returns nullopt at its deadline, Connected() is false). Once
  // reachable again, consumers resubscribe with a new epoch.
  void SetReachable(bool reachable);
  // While held, pipelined batches (PublishAsync) wait for ConfirmHeld or
  // NackHeld; batches held when it is turned off stay held.
  void HoldConfirms(bool hold);
  // Batches held, over all publishers.
  size_t HeldBatches() const;
  // Ends the held batch `index` (0: the oldest held) confirmed or nacked.
  void ConfirmHeld(size_t index);
  void NackHeld(size_t index);
  // Acks/rejects of unknown tags in the current epoch so far.
  size_t ChannelErrors() const;

  // The logical queue dead letters go to.
  static constexpr char kDeadLetterQueue[] = "dead";
  struct DeadLetterRecord {
    std::string source_queue;  // the x-fila-queue header of the RabbitMQ adapter
    std::string reason;        // x-fila-reason
    std::string body;
  };
  // Every Consumer::DeadLetter() that moved a message, oldest first (kept
  // after the message is consumed from "dead").
  std::vector<DeadLetterRecord> DeadLetters() const;

  // Publishes `body` on logical queue `queue` (priority 0) with the
  // request/reply properties a producer would set.
  void PublishRequest(const std::string& queue, const std::string& body,
                      const std::string& reply_to, const std::string& correlation_id,
                      const std::string& content_type = {});
  struct ReplyRecord {
    std::string reply_to;
    std::string correlation_id;
    std::string content_type;
    std::string body;
  };
  // Every Consumer::Reply() that was sent, oldest first.
  std::vector<ReplyRecord> Replies() const;

  struct State;  // shared with the publishers and consumers

 private:
  std::shared_ptr<State> state_;
};

}  // namespace fila
