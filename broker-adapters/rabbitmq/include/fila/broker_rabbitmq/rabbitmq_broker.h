#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "fila/core/broker.h"

namespace fila {

// How fila's queues are declared (x-queue-type). Classic: one node holds
// each queue, and x-max-priority=10 makes the broker deliver by priority.
// Quorum: replicated over the cluster (Raft), survives the loss of a
// minority of nodes; no x-max-priority (RabbitMQ refuses it on a new quorum
// queue), so before RabbitMQ 4.0 delivery is in publish order.
enum class RabbitMqQueueType { kClassic, kQuorum };

// "classic" or "quorum". Throws PermanentError for anything else.
RabbitMqQueueType ParseRabbitMqQueueType(std::string_view name);
const char* ToString(RabbitMqQueueType type);

struct RabbitMqOptions {
  // amqp://user:password@host:port/vhost (amqps:// is not supported yet).
  // An empty vhost ("amqp://host/") means the default vhost "/", as "%2f".
  // A cluster: the nodes' URLs separated by commas
  // ("amqp://u:p@h1:5672/,amqp://u:p@h2:5672/"), or one URL with a host
  // list ("amqp://u:p@h1:5672,h2:5673/vhost"); every node must name the same
  // vhost. At most 32 nodes.
  std::string url;
  RabbitMqQueueType queue_type = RabbitMqQueueType::kClassic;
  // Budget of one connection attempt: TCP connect, login, channel open and
  // the setup RPCs (declare, confirm.select or qos and consume).
  std::chrono::milliseconds connect_timeout{5000};
  // Requested AMQP heartbeat (whole seconds; 0 disables). The broker may
  // lower it. rabbitmq-c sends heartbeats only from inside its calls: a
  // consumer must call Next() regularly (it wakes itself every heartbeat/2
  // while blocked in it); a publisher idle for over 1.5 heartbeats
  // reconnects before its next batch instead of finding a dropped socket.
  std::chrono::milliseconds heartbeat{std::chrono::seconds(10)};
};

// A Broker on RabbitMQ (rabbitmq-c). Topology, declared idempotently by both
// publishers and consumers: a durable direct exchange "fila.tasks"; each
// logical queue Q is the durable queue "fila.Q" bound with routing key Q,
// declared with x-queue-type (options.queue_type) and, when classic,
// x-max-priority=10 (a signed 32-bit int).
// Messages are persistent, carry their priority and message_id, and have
// content type application/x-protobuf.
//
// Dead letters (Consumer::DeadLetter): every consumer connection also
// declares the durable fanout exchange "fila.dead" and the queue
// "fila.dead" (the logical queue "dead", same arguments as every fila
// queue, so an ordinary Consumer can read it; one that exists with the
// other queue type is used as it is, after a warning), bound to it. When
// the broker refuses that (a classic fila.dead whose node is down) the
// consumer consumes anyway, and DeadLetter leaves its delivery unacked
// until the next connection. A dead letter
// is published on a second channel of the consumer's connection, in
// confirm mode and mandatory: persistent, the original body, content type
// application/x-protobuf, headers x-fila-reason (the reason as valid UTF-8,
// cut to at most 1000 bytes) and x-fila-queue (the logical source queue).
// Only after the broker's confirm is the original acked; no confirm within
// connect_timeout, a nack, or an unroutable return (fila.dead deleted)
// drops the connection instead, so the original is redelivered and
// dead-lettered again. Deliveries arriving while DeadLetter waits are kept
// and returned by the following Next() calls, in order.
//
// Replies (Consumer::Reply): published on the consumer's channel 1 to the
// default exchange with routing key = the request's reply_to, so any queue
// name works, including RabbitMQ's direct reply-to (amq.rabbitmq.reply-to).
// Not mandatory, not confirmed, non-persistent, content type and
// correlation_id as given; a reply queue that is gone drops the reply.
// Deliveries carry reply_to, correlation_id and content_type from the
// message's basic properties.
//
// PublishConfirmed with an empty batch only connects (or checks the
// connection): a cheap reachability check at startup. Its publishes are
// mandatory: a message the exchange cannot route (its queue was deleted or
// unbound after this connection declared it) comes back as basic.return,
// which RabbitMQ sends before that message's confirm. A returned message
// never counts as confirmed: the publisher declares its queue again and
// publishes the returned messages again, up to 3 rounds within the
// deadline, before it returns; still returned after that, TransientError.
// Publisher::CountQueue declares the queue (recreating a deleted one) and
// answers queue.declare-ok's counts: ready messages (not unacked ones) and
// consumers.
//
// Threading: the returned Broker is thread-safe and never connects by
// itself. Every Publisher and Consumer it makes owns one AMQP connection,
// which is not thread-safe: one connection per owning thread. Only
// Consumer::Wakeup() and Consumer::Connected() may be called from other
// threads.
//
// Failures: a lost connection is a TransientError from
// Publisher::PublishConfirmed and Consumer::Start, and the next call
// reconnects; Consumer::Next never throws for it but reconnects in place
// (new epoch). Consecutive failed connection attempts back off from 100 ms,
// doubling up to 5 s, and never sleep past the caller's deadline; one
// attempt in Consumer::Next may overrun its deadline (and delay a Wakeup)
// by up to min(connect_timeout, 1 s) when the broker is slow to answer.
// Consumer::Start's prefetch 0 means no limit, as in AMQP. With quorum
// queues, which refuse a channel-wide prefetch, each of k queues gets
// prefetch/k (at least 1). Acking or
// rejecting an unknown tag of the current epoch (a double ack) makes the
// broker close the channel: the consumer reconnects (new epoch) and all its
// unacked messages are redelivered.
// A queue that exists with other arguments (say, without x-max-priority,
// or of the other queue type) fails declaring with a TransientError carrying
// the broker's PRECONDITION_FAILED text and what to do about it; fixing it
// takes an operator, and the clients keep retrying until then.
//
// Clusters: each Publisher and Consumer connects to one node at a time. The
// clients of a process start at successive nodes, from a random one, so a
// fleet spreads over the cluster. A connection attempt tries the nodes in
// turn (each gets its share of the attempt's budget); a lost connection or
// a failed attempt moves the next attempt to the following node; the
// backoff below spaces attempts in which every node failed.
//
// Throws PermanentError when the URL cannot be parsed.
std::unique_ptr<Broker> MakeRabbitMqBroker(RabbitMqOptions options);

}  // namespace fila
