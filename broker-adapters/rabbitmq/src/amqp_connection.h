#pragma once

// Private to the RabbitMQ adapter: the only header that includes <amqp.h>.

#include <amqp.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "amqp_params.h"
#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/clock.h"

namespace fila::rabbitmq {

inline constexpr char kExchange[] = "fila.tasks";
inline constexpr char kQueuePrefix[] = "fila.";
inline constexpr char kContentType[] = "application/x-protobuf";
// Every Publisher and Consumer uses one channel on its own connection.
inline constexpr amqp_channel_t kChannel = 1;
// Declarations that may be refused (ProbeFilaQueue) use their own channel.
inline constexpr amqp_channel_t kProbeChannel = 3;
// RabbitMQ's supported maximum is 255, but each priority level costs memory
// and CPU in a classic queue. A work queue gets 19: message priority
// 2 * priority + ahead orders OutgoingMessage's 0..9 and, within each,
// the `ahead` ones first (docs/fairness.md). The ingest queue, which
// producers declare themselves, and a work queue declared before fila used
// 19 keep 10: there a message carries its priority alone.
inline constexpr int kMaxPriority = 10;
inline constexpr int kFairMaxPriority = 19;
inline constexpr char kIngestLogical[] = "ingest";  // producers declare it with kMaxPriority

// What declaring a queue found: its counts, and the x-max-priority it has
// (kFairMaxPriority, kMaxPriority, or 0 for a quorum queue).
struct DeclaredQueue {
  QueueCounts counts;
  int max_priority = 0;
};

// Dead letters: a durable fanout exchange and a queue bound to it. The queue
// is an ordinary fila queue (same name mapping, same arguments), so the
// logical queue "dead" can be consumed like any other.
inline constexpr char kDeadExchange[] = "fila.dead";
inline constexpr char kDeadLetterQueue[] = "dead";  // logical name of "fila.dead"
inline constexpr char kReasonHeader[] = "x-fila-reason";
inline constexpr char kSourceQueueHeader[] = "x-fila-queue";
// Long enough for an exception message with some context; a header that
// size still fits the frame of the content header with plenty of room.
inline constexpr size_t kMaxReasonBytes = 1000;

// "fila." + logical name. Throws PermanentError for names RabbitMQ would
// refuse (empty, or too long for an AMQP short string).
std::string PhysicalQueueName(std::string_view logical);

amqp_bytes_t Bytes(std::string_view text);
std::string ToString(amqp_bytes_t bytes);
timeval ToTimeval(std::chrono::nanoseconds duration);  // negative -> zero
std::string DescribeStatus(int status);
std::string DescribeReply(const amqp_rpc_reply_t& reply);
// Reply code and text of a channel.close or connection.close method.
std::string DescribeClose(const amqp_method_t& method);
// `text` made valid UTF-8 (invalid bytes become U+FFFD) and cut at a
// character boundary to at most `max_bytes` (marked with "..." when cut,
// max_bytes >= 3): safe as an AMQP long-string header value for clients
// that decode header strings as UTF-8.
std::string HeaderText(std::string_view text, size_t max_bytes);

// Spacing of consecutive failed connection attempts: 100 ms doubling up to
// 5 s, reset by a success. The first attempt after a loss is immediate.
class Backoff final {
 public:
  static constexpr std::chrono::milliseconds kInitial{100};
  static constexpr std::chrono::milliseconds kMax{5000};

  SteadyClock::time_point EarliestAttempt() const { return earliest_; }
  int Failures() const { return failures_; }
  void Failed() {
    earliest_ = SteadyClock::now() + delay_;
    delay_ = std::min(delay_ * 2, kMax);
    ++failures_;
  }
  void Succeeded() { *this = Backoff{}; }

 private:
  std::chrono::milliseconds delay_ = kInitial;
  SteadyClock::time_point earliest_{};
  int failures_ = 0;
};

// The node a client tries first. The clients of one process start at
// successive nodes, from a random one per process, so that a fleet spreads
// over a cluster. Every failed attempt and every lost connection moves it
// on: the next attempt starts at another node. Not thread-safe: one per
// client.
class NodeCursor final {
 public:
  explicit NodeCursor(size_t nodes);
  size_t Current() const { return current_; }
  void Set(size_t node) { current_ = node % nodes_; }
  void Advance() { current_ = (current_ + 1) % nodes_; }

 private:
  size_t nodes_;
  size_t current_;
};

// One logged-in AMQP connection with channel kChannel open. Not
// thread-safe: one owning thread. Destroying it drops the socket without
// the closing handshake; call CloseGracefully() first when the peer is
// still healthy.
// How long a consumer or publisher waits for close-ok when it closes its
// connection (AmqpConnection::CloseGracefully), at most.
inline constexpr std::chrono::milliseconds kCloseBudget{1000};

class AmqpConnection final {
 public:
  // Connects, logs in and opens the channel before `deadline`, trying the
  // nodes in turn from nodes.Current() (each gets an equal share of what is
  // left); on success nodes.Current() is the node connected to. `role`
  // names the connection in the broker's management UI. Leaves the RPC
  // timeout at what is left until `deadline`. Throws TransientError naming
  // every node's failure.
  static std::unique_ptr<AmqpConnection> Open(const ConnectionParams& params, NodeCursor& nodes,
                                              Deadline deadline, const char* role);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  amqp_connection_state_t state() const { return state_; }
  // The node connected to (password masked), for logs.
  const std::string& where() const { return node_->redacted_url; }
  int Sockfd() const { return amqp_get_sockfd(state_); }
  // Negotiated heartbeat in seconds; 0 when disabled.
  int HeartbeatSeconds() const { return amqp_get_heartbeat(state_); }
  // Bounds every following RPC by what is left until `deadline` (at least
  // 1 ms). A timed-out RPC leaves the connection unusable: callers drop it.
  void SetRpcDeadline(Deadline deadline);
  // Throws TransientError naming `what` unless the last RPC, made on
  // `channel`, succeeded.
  void CheckLastRpc(std::string_view what, amqp_channel_t channel = kChannel);
  // Declares the exchange. Throws TransientError.
  void DeclareExchange();
  // Declares queue "fila.<logical>" (of the parameters' queue type) and
  // binds it; returns queue.declare-ok's counts. Throws TransientError; when
  // the queue exists with other arguments, its message says what the
  // operator can do.
  // A classic work queue is declared with kFairMaxPriority, and one that
  // exists with kMaxPriority is used as it is. `known_max_priority`, what an
  // earlier declaration on this connection returned, skips the probe.
  DeclaredQueue DeclareQueue(std::string_view logical, int known_max_priority = -1);
  // Declares the fanout exchange kDeadExchange and the queue "fila.dead"
  // (arguments as DeclareQueue's; an existing one of the other queue type is
  // kept, with a warning), bound to it. Idempotent. False, after a warning,
  // when the broker refused it but channel kChannel could be opened again
  // (the queue's node is down, say). Throws TransientError when the
  // connection failed.
  bool DeclareDeadLetterTopology();
  // Opens another channel of this connection and puts it in confirm mode:
  // its publishes are then numbered 1, 2, ... for basic.ack/nack. Frames of
  // other channels arriving meanwhile are queued by rabbitmq-c, in order.
  // Throws TransientError.
  void OpenConfirmChannel(amqp_channel_t channel);
  // Answers a broker-initiated channel.close or connection.close so the
  // broker records a clean shutdown. Never throws.
  void AnswerClose(amqp_channel_t channel, const amqp_method_t& method) noexcept;
  // connection.close, waiting at most `budget` for close-ok. Never throws.
  void CloseGracefully(std::chrono::milliseconds budget) noexcept;

 private:
  AmqpConnection(amqp_connection_state_t state, const ConnectionParams& params, size_t node)
      : state_(state), node_(&params.nodes[node]), queue_type_(params.queue_type) {}
  // Opens one node; see Open().
  static std::unique_ptr<AmqpConnection> OpenNode(const ConnectionParams& params, size_t node,
                                                  Deadline deadline, const char* role);
  // queue.declare of a fila queue (durable, arguments of queue_type_). One
  // that exists with other arguments fails, or with `keep_other` is used as
  // it is, after a warning.
  QueueCounts DeclareFilaQueue(const std::string& physical, bool keep_other,
                               int max_priority = kMaxPriority);
  // As DeclareFilaQueue, on a channel of its own that a refusal closes
  // (kChannel may have publishes in flight): nothing when the queue exists
  // with other arguments.
  std::optional<QueueCounts> ProbeFilaQueue(const std::string& physical, int max_priority);
  void DeclareDeadLetterQueue();  // DeclareDeadLetterTopology() without the tolerance

  amqp_connection_state_t state_;
  const NodeParams* node_;  // in the ConnectionParams, which outlive every connection
  RabbitMqQueueType queue_type_;
};

}  // namespace fila::rabbitmq
