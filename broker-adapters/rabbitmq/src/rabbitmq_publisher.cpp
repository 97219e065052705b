#include "rabbitmq_publisher.h"

#include <amqp_framing.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fila/core/errors.h"

namespace fila::rabbitmq {

namespace {

constexpr std::chrono::milliseconds kCloseBudget{1000};
constexpr std::chrono::milliseconds kIdleCloseBudget{250};
constexpr uint8_t kTopPriority = 9;
// Times a batch's unroutable messages are sent again, each after declaring
// their queues again, before PublishConfirmed gives up (TransientError).
constexpr int kReturnRounds = 3;

enum Answer : uint8_t { kPending = 0, kAcked = 1, kNacked = 2 };

}  // namespace

RabbitMqPublisher::RabbitMqPublisher(std::shared_ptr<const ConnectionParams> params)
    : params_(std::move(params)), nodes_(params_->nodes.size()) {}

RabbitMqPublisher::~RabbitMqPublisher() {
  if (connection_) connection_->CloseGracefully(std::min(params_->connect_timeout, kCloseBudget));
}

void RabbitMqPublisher::PublishConfirmed(std::span<const OutgoingMessage> messages,
                                         Deadline deadline) {
  // A bad name must fail the batch before any of it is sent.
  for (const OutgoingMessage& message : messages) PhysicalQueueName(message.queue);

  EnsureConnected(deadline);
  if (messages.empty()) return;  // callers use it as a reachability check
  std::vector<OutgoingMessage> returned = SendConfirmed(messages, deadline);
  // A returned message reached no queue: its queue was deleted (or
  // unbound) since this connection declared it. Declared again, the queue
  // takes the message; a return is never counted as delivered.
  for (int round = 1; !returned.empty(); ++round) {
    if (round > kReturnRounds) {
      throw TransientError("rabbitmq: " + std::to_string(returned.size()) +
                           " messages still unroutable after declaring their queues again");
    }
    spdlog::warn("rabbitmq publisher: {} messages came back unroutable (queue {} deleted?); "
                 "declaring it again and publishing them again",
                 returned.size(), PhysicalQueueName(returned.front().queue));
    for (const OutgoingMessage& message : returned) declared_.erase(message.queue);
    const std::vector<OutgoingMessage> again = std::move(returned);
    returned = SendConfirmed(again, deadline);
  }
  last_used_ = SteadyClock::now();
}

QueueCounts RabbitMqPublisher::CountQueue(const std::string& queue, Deadline deadline) {
  PhysicalQueueName(queue);
  EnsureConnected(deadline);
  const QueueCounts counts = Declare(queue, deadline);
  last_used_ = SteadyClock::now();
  return counts;
}

std::vector<OutgoingMessage> RabbitMqPublisher::SendConfirmed(
    std::span<const OutgoingMessage> messages, Deadline deadline) {
  DeclareQueues(messages, deadline);
  // Sending a batch that cannot be confirmed in time only makes duplicates.
  if (SteadyClock::now() >= deadline)
    throw TransientError("rabbitmq: deadline passed before publishing");

  amqp_connection_state_t state = connection_->state();
  const uint64_t first = next_tag_;
  for (const OutgoingMessage& message : messages) {
    amqp_basic_properties_t properties{};
    properties._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    properties.content_type = amqp_cstring_bytes(kContentType);
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    // Clamped rather than refused: a whole batch must not fail forever for
    // one out-of-range priority.
    properties.priority = std::min(message.priority, kTopPriority);
    if (!message.message_id.empty()) {
      properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
      properties.message_id = Bytes(message.message_id);
    }
    // Mandatory: a message no queue takes comes back (basic.return) instead
    // of being confirmed and dropped.
    int status =
        amqp_basic_publish(state, kChannel, amqp_cstring_bytes(kExchange), Bytes(message.queue),
                           /*mandatory=*/1, /*immediate=*/0, &properties, Bytes(message.body));
    if (status != AMQP_STATUS_OK) Fail("publish failed: " + DescribeStatus(status));
    ++next_tag_;
  }
  return AwaitConfirms(first, next_tag_ - 1, deadline);
}

void RabbitMqPublisher::EnsureConnected(Deadline deadline) {
  if (connection_ && !StillUsable()) {
    // Usually still healthy: a clean close spares the broker log a warning.
    connection_->CloseGracefully(kIdleCloseBudget);
    connection_.reset();
  }
  if (connection_) return;

  Deadline earliest = backoff_.EarliestAttempt();
  if (earliest > SteadyClock::now()) {
    if (earliest >= deadline) {
      throw TransientError("rabbitmq: broker " + params_->redacted_url +
                           " unavailable, next connection attempt after the deadline");
    }
    std::this_thread::sleep_until(earliest);
  }
  const auto now = SteadyClock::now();
  if (now >= deadline)
    throw TransientError("rabbitmq: deadline passed before connecting to " + params_->redacted_url);
  const Deadline attempt_deadline = std::min<Deadline>(deadline, now + params_->connect_timeout);
  try {
    auto connection = AmqpConnection::Open(*params_, nodes_, attempt_deadline, "fila-publisher");
    amqp_confirm_select(connection->state(), kChannel);
    connection->CheckLastRpc("confirm.select");
    connection->DeclareExchange();
    connection_ = std::move(connection);
  } catch (const TransientError& error) {
    if (backoff_.Failures() == 0) spdlog::warn("publisher: {}", error.what());
    backoff_.Failed();
    nodes_.Advance();
    throw;
  }
  next_tag_ = 1;
  declared_.clear();
  last_used_ = SteadyClock::now();
  if (backoff_.Failures() > 0) {
    spdlog::info("rabbitmq publisher: reconnected to {} after {} failed attempts",
                 connection_->where(), backoff_.Failures());
  } else {
    spdlog::info("rabbitmq publisher: connected to {}", connection_->where());
  }
  backoff_.Succeeded();
}

bool RabbitMqPublisher::StillUsable() {
  // An idle publisher sends no heartbeats, and the broker drops a client
  // silent for two heartbeat periods. Well before that, a fresh connection
  // is cheaper than finding out halfway through a batch.
  const auto heartbeat =
      std::chrono::milliseconds(std::chrono::seconds(connection_->HeartbeatSeconds()));
  if (heartbeat.count() > 0 && SteadyClock::now() - last_used_ > heartbeat * 3 / 2) {
    spdlog::debug("rabbitmq publisher: reconnecting to {} after an idle period",
                  connection_->where());
    return false;
  }

  amqp_connection_state_t state = connection_->state();
  for (;;) {
    amqp_frame_t frame;
    timeval zero{};
    int status = amqp_simple_wait_frame_noblock(state, &frame, &zero);
    if (status == AMQP_STATUS_TIMEOUT) return true;
    if (status != AMQP_STATUS_OK) {
      spdlog::warn("rabbitmq publisher: connection to {} lost while idle: {}",
                   connection_->where(), DescribeStatus(status));
      nodes_.Advance();
      return false;
    }
    if (frame.frame_type == AMQP_FRAME_METHOD &&
        (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
      spdlog::warn("rabbitmq publisher: {}", DescribeClose(frame.payload.method));
      connection_->AnswerClose(frame.channel, frame.payload.method);
      nodes_.Advance();
      return false;
    }
    // Anything else (confirms of a batch that timed out) is stale.
    amqp_maybe_release_buffers(state);
  }
}

QueueCounts RabbitMqPublisher::Declare(const std::string& queue, Deadline deadline) {
  connection_->SetRpcDeadline(
      std::min<Deadline>(deadline, SteadyClock::now() + params_->connect_timeout));
  try {
    const QueueCounts counts = connection_->DeclareQueue(queue);
    declared_.insert(queue);
    return counts;
  } catch (const TransientError& error) {
    Drop(error.what());
    throw;
  }
}

void RabbitMqPublisher::DeclareQueues(std::span<const OutgoingMessage> messages,
                                      Deadline deadline) {
  for (const OutgoingMessage& message : messages) {
    if (!declared_.contains(message.queue)) Declare(message.queue, deadline);
  }
}

std::vector<OutgoingMessage> RabbitMqPublisher::AwaitConfirms(uint64_t first, uint64_t last,
                                                              Deadline deadline) {
  const size_t count = last - first + 1;
  // RabbitMQ sends a message's basic.return before its basic.ack: once
  // every tag is answered, every return of the batch is here.
  std::vector<OutgoingMessage> returned;
  std::vector<uint8_t> answers(count, kPending);
  size_t pending = count;
  size_t nacked = 0;
  size_t lowest_pending = 0;  // every index below it is answered

  // A multiple-flagged answer covers every tag up to `tag`. Tags below
  // `first` belong to an earlier batch that timed out: ignored.
  auto record = [&](uint64_t tag, bool multiple, Answer answer) {
    if (tag < first) return;
    const size_t top = static_cast<size_t>(std::min(tag, last) - first);
    auto mark = [&](size_t index) {
      if (answers[index] != kPending) return;
      answers[index] = answer;
      --pending;
      if (answer == kNacked) ++nacked;
    };
    if (multiple) {
      for (size_t index = lowest_pending; index <= top; ++index) mark(index);
      lowest_pending = std::max(lowest_pending, top + 1);
    } else if (tag <= last) {
      mark(top);
    }
  };

  amqp_connection_state_t state = connection_->state();
  while (pending > 0) {
    const auto left = deadline - SteadyClock::now();
    if (left <= SteadyClock::duration::zero()) {
      // The connection stays: late confirms carry tags below the next
      // batch's first and are ignored then.
      throw TransientError("rabbitmq: deadline passed with " + std::to_string(pending) + " of " +
                           std::to_string(count) + " publishes unconfirmed");
    }
    timeval tv = ToTimeval(left);
    amqp_frame_t frame;
    int status = amqp_simple_wait_frame_noblock(state, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) continue;
    if (status != AMQP_STATUS_OK) Fail("waiting for publisher confirms: " + DescribeStatus(status));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;

    const amqp_method_t& method = frame.payload.method;
    switch (method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        record(ack->delivery_tag, ack->multiple != 0, kAcked);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
        record(nack->delivery_tag, nack->multiple != 0, kNacked);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        std::string why = DescribeClose(method);
        connection_->AnswerClose(frame.channel, method);
        Fail(why);
      }
      case AMQP_BASIC_RETURN_METHOD:
        returned.push_back(ReadReturned(frame));
        break;
      default:
        break;  // connection.blocked/unblocked: the deadline covers them
    }
    amqp_maybe_release_buffers(state);
  }
  if (nacked > 0) {
    throw TransientError("rabbitmq: broker nacked " + std::to_string(nacked) + " of " +
                         std::to_string(count) + " publishes");
  }
  return returned;
}

OutgoingMessage RabbitMqPublisher::ReadReturned(const amqp_frame_t& frame) {
  const auto* method = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
  OutgoingMessage message;
  message.queue = ToString(method->routing_key);
  // Its content frames follow; reading them keeps the stream in step.
  amqp_message_t content;
  amqp_rpc_reply_t reply = amqp_read_message(connection_->state(), frame.channel, &content, 0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL)
    Fail("reading a returned message: " + DescribeReply(reply));
  message.body = ToString(content.body);
  const amqp_basic_properties_t& properties = content.properties;
  if (properties._flags & AMQP_BASIC_PRIORITY_FLAG) message.priority = properties.priority;
  if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    message.message_id = ToString(properties.message_id);
  amqp_destroy_message(&content);
  return message;
}

void RabbitMqPublisher::Drop(const std::string& why) {
  spdlog::warn("rabbitmq publisher: dropping connection to {}: {}", connection_->where(), why);
  connection_.reset();
  // The next attempt starts at another node: this one may be the problem.
  nodes_.Advance();
}

void RabbitMqPublisher::Fail(const std::string& why) {
  Drop(why);
  throw TransientError("rabbitmq: " + why);
}

}  // namespace fila::rabbitmq
