// The topology fila declares on a connection: its exchange, its queues and
// the dead-letter queue, with the arguments of the queue type.
#include "amqp_connection.h"

#include <amqp_framing.h>
#include <spdlog/spdlog.h>

#include "fila/core/errors.h"

namespace fila::rabbitmq {

namespace {

// The arguments of every fila queue. A queue redeclared with different
// ones fails with PRECONDITION_FAILED, so all declarations share these.
// RabbitMQ 3.10 refuses x-max-priority on a new quorum queue ("invalid arg
// 'x-max-priority' ... of queue type rabbit_quorum_queue"), so only classic
// queues carry it. A classic queue declared before x-queue-type was sent
// accepts x-queue-type=classic: the broker treats both as classic.
struct QueueArguments {
  QueueArguments(RabbitMqQueueType type, int max_priority) {
    entries[0].key = amqp_cstring_bytes("x-queue-type");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes(ToString(type));
    entries[1].key = amqp_cstring_bytes("x-max-priority");
    entries[1].value.kind = AMQP_FIELD_KIND_I32;
    entries[1].value.value.i32 = max_priority;
    count = type == RabbitMqQueueType::kClassic ? 2 : 1;
  }
  QueueArguments(const QueueArguments&) = delete;
  QueueArguments& operator=(const QueueArguments&) = delete;
  amqp_table_t table() { return amqp_table_t{count, entries}; }

  amqp_table_entry_t entries[2];
  int count;
};

constexpr uint16_t kPreconditionFailed = 406;

// queue.declare-ok's counts; zero when the reply carried none.
QueueCounts Counts(const amqp_queue_declare_ok_t* ok) {
  if (ok == nullptr) return {};
  return {ok->message_count, ok->consumer_count};
}

bool IsPreconditionFailed(const amqp_rpc_reply_t& reply) {
  return reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
         reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD && reply.reply.decoded != nullptr &&
         static_cast<const amqp_channel_close_t*>(reply.reply.decoded)->reply_code ==
             kPreconditionFailed;
}

}  // namespace

void AmqpConnection::DeclareExchange() {
  amqp_exchange_declare(
      state_, kChannel, amqp_cstring_bytes(kExchange), amqp_cstring_bytes("direct"),
      /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  CheckLastRpc(std::string("exchange.declare ") + kExchange);
  amqp_maybe_release_buffers(state_);
}

std::optional<QueueCounts> AmqpConnection::ProbeFilaQueue(const std::string& physical,
                                                          int max_priority) {
  amqp_channel_open(state_, kProbeChannel);
  CheckLastRpc("channel.open", kProbeChannel);
  QueueArguments arguments(queue_type_, max_priority);
  const amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_, kProbeChannel, Bytes(physical), /*passive=*/0, /*durable=*/1,
                         /*exclusive=*/0, /*auto_delete=*/0, arguments.table());
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (IsPreconditionFailed(reply)) {
    AnswerClose(kProbeChannel, reply.reply);  // the broker closed the channel
    return std::nullopt;
  }
  CheckLastRpc("queue.declare " + physical, kProbeChannel);
  const QueueCounts counts = Counts(ok);
  const amqp_rpc_reply_t closed = amqp_channel_close(state_, kProbeChannel, AMQP_REPLY_SUCCESS);
  if (closed.reply_type != AMQP_RESPONSE_NORMAL)
    throw TransientError("rabbitmq: channel.close failed: " + DescribeReply(closed));
  return counts;
}

QueueCounts AmqpConnection::DeclareFilaQueue(const std::string& physical, bool keep_other,
                                             int max_priority) {
  QueueArguments arguments(queue_type_, max_priority);
  const amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_, kChannel, Bytes(physical), /*passive=*/0, /*durable=*/1,
                         /*exclusive=*/0, /*auto_delete=*/0, arguments.table());
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (IsPreconditionFailed(reply)) {
    // The broker names one differing argument, which need not be the type;
    // the operator needs to know which setting decides it.
    const std::string why = DescribeReply(reply);
    AnswerClose(kChannel, reply.reply);
    if (keep_other) {
      spdlog::warn("rabbitmq: {} is used as it is: {} (fila would declare it as {})", physical, why,
                   ToString(queue_type_));
      amqp_channel_open(state_, kChannel);
      CheckLastRpc("channel.open");
      ok = amqp_queue_declare(state_, kChannel, Bytes(physical), /*passive=*/1, 0, 0, 0,
                              amqp_empty_table);
      CheckLastRpc("queue.declare passive " + physical);
      return Counts(ok);
    }
    throw TransientError(
        "rabbitmq: queue.declare " + physical + " failed: " + why + ". The queue exists with " +
        "other arguments than fila's for --queue-type/FILA_QUEUE_TYPE=" + ToString(queue_type_) +
        ": run every fila-scheduler and fila-worker with the queue's own type (rabbitmqctl " +
        "list_queues name type), or let the queue drain and delete it (rabbitmqctl delete_queue " +
        physical + ") so that fila declares it again as " + ToString(queue_type_));
  }
  CheckLastRpc("queue.declare " + physical);
  return Counts(ok);
}

DeclaredQueue AmqpConnection::DeclareQueue(std::string_view logical, int known_max_priority) {
  const std::string physical = PhysicalQueueName(logical);
  DeclaredQueue declared;
  const bool classic = queue_type_ == RabbitMqQueueType::kClassic;
  std::optional<QueueCounts> fair;
  bool refused = false;
  if (classic && logical != kIngestLogical) {
    if (known_max_priority == kFairMaxPriority) {
      fair = DeclareFilaQueue(physical, /*keep_other=*/false, kFairMaxPriority);
    } else if (known_max_priority < 0) {
      fair = ProbeFilaQueue(physical, kFairMaxPriority);
      refused = !fair;
    }
  }
  if (fair) {
    declared = {*fair, kFairMaxPriority};
  } else {
    // Refused with 19, a queue of fila's type exists with 10; any other
    // difference fails here, with what the operator can do about it.
    declared = {DeclareFilaQueue(physical, /*keep_other=*/false), classic ? kMaxPriority : 0};
    if (refused) {
      spdlog::warn("rabbitmq: {} exists with x-max-priority {} (declared before fila delivered a "
                   "quiet tenant's tasks first within a priority): it is used as it is, with "
                   "priorities alone; let it drain and delete it to have it declared with {}",
                   physical, kMaxPriority, kFairMaxPriority);
    }
  }
  amqp_queue_bind(state_, kChannel, Bytes(physical), amqp_cstring_bytes(kExchange), Bytes(logical),
                  amqp_empty_table);
  CheckLastRpc("queue.bind " + physical);
  amqp_maybe_release_buffers(state_);
  return declared;
}

bool AmqpConnection::DeclareDeadLetterTopology() {
  try {
    DeclareDeadLetterQueue();
    return true;
  } catch (const TransientError& error) {
    // Say, a classic fila.dead whose node is down (404 "home node ... is
    // down or inaccessible"): the broker closed the channel, not the
    // connection. Consuming must go on; dead letters wait.
    amqp_channel_open(state_, kChannel);
    CheckLastRpc("channel.open");  // throws when the connection is gone too
    spdlog::warn("rabbitmq: consuming without a dead-letter queue for now: {}", error.what());
    return false;
  }
}

void AmqpConnection::DeclareDeadLetterQueue() {
  amqp_exchange_declare(
      state_, kChannel, amqp_cstring_bytes(kDeadExchange), amqp_cstring_bytes("fanout"),
      /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  CheckLastRpc(std::string("exchange.declare ") + kDeadExchange);
  const std::string physical = PhysicalQueueName(kDeadLetterQueue);
  // Dead letters only need a place: one of the other type (declared before
  // the queue type changed) is better than no consumer at all.
  DeclareFilaQueue(physical, /*keep_other=*/true);
  // A fanout exchange ignores routing keys.
  amqp_queue_bind(state_, kChannel, Bytes(physical), amqp_cstring_bytes(kDeadExchange),
                  amqp_empty_bytes, amqp_empty_table);
  CheckLastRpc("queue.bind " + physical);
  amqp_maybe_release_buffers(state_);
}

}  // namespace fila::rabbitmq
