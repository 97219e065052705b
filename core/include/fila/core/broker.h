#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/clock.h"

namespace fila {

// A message to publish onto the work queue of a logical queue name. The
// adapter maps logical names to its own (RabbitMQ: queue "fila.<queue>").
struct OutgoingMessage {
  std::string queue;
  std::string body;
  uint8_t priority = 0;  // 0..9; higher is delivered first
  std::string message_id;
  // Fair share (docs/fairness.md): its tenant holds less than its share of
  // the queue, so it goes before the messages of its priority that are not
  // `ahead`, never before a higher priority. A broker queue that cannot
  // order it (a quorum queue, a classic one declared before fila used it)
  // delivers it with its priority alone.
  bool ahead = false;
};

// The express lane of a work queue (docs/fairness.md): a broker queue of
// its own, consumed by the workers' express slots (a prefetch of its own),
// where the relay sends messages that go `ahead` while a worker has such a
// slot free. Named with a character no queue name may hold ([a-z0-9_.-]),
// so no queue can be another's lane.
inline constexpr std::string_view kExpressLaneSuffix = "~express";
inline std::string ExpressLane(std::string_view queue) {
  return std::string(queue) + std::string(kExpressLaneSuffix);
}
// The work queue a broker queue serves: `queue`, or the queue whose
// express lane it is.
inline std::string_view LaneOwner(std::string_view queue) {
  if (queue.size() > kExpressLaneSuffix.size() && queue.ends_with(kExpressLaneSuffix))
    queue.remove_suffix(kExpressLaneSuffix.size());
  return queue;
}

struct Delivery {
  std::string queue;  // logical queue name it came from
  std::string body;
  uint64_t tag = 0;    // meaningful only together with `epoch`
  uint64_t epoch = 0;  // connection generation; a reconnect starts a new one
  bool redelivered = false;
  // Request/reply properties (AMQP basic properties), set by producers that
  // expect an answer, e.g. on the ingest queue; empty when absent.
  std::string reply_to;        // where Consumer::Reply sends the answer
  std::string correlation_id;  // copied onto the answer
  std::string content_type;    // of `body`, as the producer declared it
};

// What a broker queue holds, as the broker answers a declaration.
struct QueueCounts {
  uint64_t ready = 0;      // messages waiting; delivered but unacked ones not counted
  uint64_t consumers = 0;  // subscriptions consuming it
};

// How a batch sent with Publisher::PublishAsync ended.
struct PublishOutcome {
  uint64_t ticket = 0;     // as PublishAsync returned it
  bool confirmed = false;  // false: publish the whole batch again
  std::string error;       // why, when not confirmed
};

// Publishes persistent messages with broker confirms.
// Not thread-safe: one instance per owning thread (one connection each).
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Pipelined publishing: several batches in flight on one connection.
  // Sends every message of the batch (mandatory, as PublishConfirmed) and
  // returns at once with the batch's ticket (increasing, never reused by
  // this instance); CollectConfirms() tells how it ended. The batch counts
  // as confirmed under PublishConfirmed's rules, judged by `deadline`: each
  // message confirmed and routed (an unroutable one is sent again after its
  // queue is declared again, or fails the batch). A nack fails only its own
  // batch; a lost connection fails every batch in flight. Throws
  // TransientError when the batch could not be sent (it is not in flight
  // then; batches in flight that the lost connection took are reported by
  // the next CollectConfirms). The next call reconnects.
  virtual uint64_t PublishAsync(std::span<const OutgoingMessage> messages, Deadline deadline) = 0;
  // Waits until at least one batch in flight has ended, or `deadline`;
  // returns every batch that ended since the last call (any order), each
  // once. Returns at once with nothing in flight. A batch past its own
  // deadline ends unconfirmed. Never throws for a batch's failure.
  virtual std::vector<PublishOutcome> CollectConfirms(Deadline deadline) = 0;
  // Batches sent and not yet returned by CollectConfirms.
  virtual size_t InFlight() const = 0;
  // Sends every message and returns once the broker confirmed all of them,
  // each routed to its queue: a message the broker could not route (its
  // queue was deleted) does not count as confirmed; the adapter recreates
  // the queue and sends it again, or throws. Throws TransientError on
  // connection loss, a nack, a message it could not route or a passed
  // deadline; the caller then publishes the whole batch again (downstream
  // claims make duplicates harmless). The next call reconnects. Outcomes
  // of pipelined batches that end meanwhile are kept for CollectConfirms.
  virtual void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) = 0;
  // The counts of the work queue of `queue`; declares the queue first when
  // it is missing, as publishing would. The reconciler compares them with
  // what PostgreSQL says was published. Errors as PublishConfirmed's.
  virtual QueueCounts CountQueue(const std::string& queue, Deadline deadline) = 0;
};

// Consumes a set of queues with manual acks. At-least-once: a message not
// acked before the connection is lost is delivered again.
// Not thread-safe, except Wakeup() and Connected(): one owning thread.
class Consumer {
 public:
  virtual ~Consumer() = default;
  // Declares and subscribes to `queues`; at most `prefetch` unacked
  // deliveries are outstanding across all of them. Throws TransientError
  // when the broker cannot be reached. With no queues it only keeps a
  // connection open (Next() serves its heartbeats and reconnects), so that
  // Connected() tells whether the broker is reachable.
  virtual void Start(const std::vector<std::string>& queues, uint16_t prefetch) = 0;
  // Start() with express lanes (docs/fairness.md, rule 7): `lanes` get
  // `lane_prefetch` more deliveries on top of `prefetch`, as that many
  // subscriptions of a prefetch of 1 split between them (at least one
  // each), so a lane's message never waits for a slot of the queues, and
  // a lane's consumer count is the express slots that serve it. On
  // RabbitMQ classic queues the channel's limit is the sum: the queues of
  // a worker that consumes several may use the lanes' part too. This
  // default shares one prefetch over all of them.
  virtual void StartWithLanes(const std::vector<std::string>& queues, uint16_t prefetch,
                              const std::vector<std::string>& lanes, uint16_t lane_prefetch) {
    std::vector<std::string> all = queues;
    all.insert(all.end(), lanes.begin(), lanes.end());
    Start(all, static_cast<uint16_t>(prefetch + lane_prefetch));
  }
  // Returns the next delivery, or nullopt when `deadline` passes or Wakeup()
  // is called. On connection loss it reconnects with backoff, re-subscribes
  // and starts a new epoch; it never throws for a lost connection.
  virtual std::optional<Delivery> Next(Deadline deadline) = 0;
  // Acks a delivery. A tag of an older epoch is ignored: the broker already
  // requeued that message when the old connection died.
  virtual void Ack(uint64_t epoch, uint64_t tag) = 0;
  // Acks several deliveries of one epoch at once; the adapter may send
  // fewer broker operations (AMQP: one `multiple` ack for a contiguous
  // range). A tag not outstanding is ignored, as is an older epoch.
  virtual void AckMany(uint64_t epoch, std::span<const uint64_t> tags) {
    for (uint64_t tag : tags) Ack(epoch, tag);
  }
  // Rejects a delivery, requeueing it or not.
  virtual void Reject(uint64_t epoch, uint64_t tag, bool requeue) = 0;
  // Moves a delivery that can never be processed (poison) to the durable
  // dead-letter queue: publishes its body, with a confirm, to the fanout
  // exchange "fila.dead" (bound queue "fila.dead", logical name "dead"),
  // headers x-fila-reason = `reason` and x-fila-queue = the source queue,
  // then acks it. A crash in between dead-letters it twice, never zero
  // times. A tag of an older epoch is ignored (the broker redelivers it).
  // Connection loss is handled like Ack's: the delivery comes back later.
  virtual void DeadLetter(const Delivery& delivery, const std::string& reason) = 0;
  // Answers a request delivery: sends `body` (of `content_type`) straight to
  // the queue named by request.reply_to, carrying request.correlation_id.
  // An empty reply_to means the producer wants no answer: nothing is sent.
  // Fire-and-forget: not confirmed and not persistent, since reply queues
  // live only as long as their requester's connection; a vanished reply
  // queue drops the answer silently. A request of an older epoch is not
  // answered: the broker requeued it, and it is answered when it comes
  // back. Connection loss is handled like Ack's. Call it before Ack(), so a
  // crash in between answers twice rather than never.
  virtual void Reply(const Delivery& request, const std::string& body,
                     const std::string& content_type) = 0;
  // Cancels the subscriptions: no new deliveries; unacked ones stay ackable.
  // A delivery racing the cancel goes back to the queue, for other
  // consumers.
  virtual void Stop() = 0;
  // Subscribes again after Stop(): the same queues and prefetch. Unacked
  // deliveries stay ackable. Never throws for a lost connection: Next()
  // reconnects and subscribes then.
  virtual void Resume() = 0;
  // Thread-safe: makes a blocked Next() return early.
  virtual void Wakeup() = 0;
  // Thread-safe: whether the consumer channel is open and subscribed.
  virtual bool Connected() const = 0;
};

// A factory of connections to one broker. Thread-safe.
class Broker {
 public:
  virtual ~Broker() = default;
  virtual std::unique_ptr<Publisher> NewPublisher() = 0;
  virtual std::unique_ptr<Consumer> NewConsumer() = 0;
};

}  // namespace fila
