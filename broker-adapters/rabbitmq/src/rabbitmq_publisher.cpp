#include "rabbitmq_publisher.h"

#include <amqp_framing.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fila/core/errors.h"

namespace fila::rabbitmq {

namespace {

constexpr std::chrono::milliseconds kIdleCloseBudget{250};
constexpr uint8_t kTopPriority = 9;
// Times a batch's unroutable messages are sent again, each after declaring
// their queues again, before the batch fails.
constexpr int kReturnRounds = 3;

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
  const uint64_t ticket = PublishAsync(messages, deadline);
  std::vector<PublishOutcome> others;
  for (;;) {
    for (PublishOutcome& outcome : CollectConfirms(deadline)) {
      if (outcome.ticket != ticket) {
        others.push_back(std::move(outcome));
        continue;
      }
      tracker_.Keep(std::move(others));
      if (!outcome.confirmed) throw TransientError("rabbitmq: " + outcome.error);
      return;
    }
  }
}

uint64_t RabbitMqPublisher::PublishAsync(std::span<const OutgoingMessage> messages,
                                         Deadline deadline) {
  for (const OutgoingMessage& message : messages) PhysicalQueueName(message.queue);
  EnsureConnected(deadline);
  DeclareQueues(messages, deadline);
  // Sending a batch that cannot be confirmed in time only makes duplicates.
  if (SteadyClock::now() >= deadline)
    throw TransientError("rabbitmq: deadline passed before publishing");
  const uint64_t ticket = next_ticket_++;
  tracker_.Sent(ticket, Send(messages), messages, deadline);
  last_used_ = SteadyClock::now();
  return ticket;
}

std::vector<PublishOutcome> RabbitMqPublisher::CollectConfirms(Deadline deadline) {
  try {
    while (tracker_.InFlight() > 0) {
      const auto now = SteadyClock::now();
      tracker_.Expire(now);
      SendReturnedAgain();
      if (tracker_.InFlight() == 0) break;
      // Once something ended, only what is already here is read.
      const bool wait = !tracker_.HasFinished() && now < deadline;
      if (!ReadFrame(wait ? std::min(deadline, tracker_.EarliestDeadline()) : now) &&
          tracker_.HasFinished()) {
        break;
      }
      if (!wait && !tracker_.HasFinished()) break;  // the caller's deadline passed
    }
    if (connection_) last_used_ = SteadyClock::now();
  } catch (const TransientError&) {
    // Fail() dropped the connection: the tracker failed every batch.
  }
  return tracker_.TakeFinished();
}

QueueCounts RabbitMqPublisher::CountQueue(const std::string& queue, Deadline deadline) {
  PhysicalQueueName(queue);
  EnsureConnected(deadline);
  const QueueCounts counts = Declare(queue, deadline);
  last_used_ = SteadyClock::now();
  return counts;
}

bool RabbitMqPublisher::FairOrdering(const std::string& queue) const {
  const auto it = declared_.find(queue);
  return it != declared_.end() && it->second >= kFairMaxPriority;
}

uint8_t RabbitMqPublisher::AmqpPriority(const OutgoingMessage& message) const {
  // Clamped rather than refused: a whole batch must not fail forever for
  // one out-of-range priority.
  const uint8_t priority = std::min(message.priority, kTopPriority);
  if (!FairOrdering(message.queue)) return priority;
  return static_cast<uint8_t>(2 * priority + (message.ahead ? 1 : 0));
}

uint64_t RabbitMqPublisher::Send(std::span<const OutgoingMessage> messages) {
  amqp_connection_state_t state = connection_->state();
  const uint64_t first = next_tag_;
  for (const OutgoingMessage& message : messages) {
    amqp_basic_properties_t properties{};
    properties._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    properties.content_type = amqp_cstring_bytes(kContentType);
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    properties.priority = AmqpPriority(message);
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
  return first;
}

void RabbitMqPublisher::SendReturnedAgain() {
  // A returned message reached no queue: its queue was deleted (or
  // unbound) since this connection declared it. Declared again, the queue
  // takes the message; a return is never counted as delivered.
  for (const ConfirmTracker::Resend& resend : tracker_.TakeResends()) {
    if (resend.round > kReturnRounds + 1) {
      tracker_.Fail(resend.ticket, std::to_string(resend.messages.size()) +
                                       " messages still unroutable after declaring their "
                                       "queues again");
      continue;
    }
    spdlog::warn("rabbitmq publisher: {} messages came back unroutable (queue {} deleted?); "
                 "declaring it again and publishing them again",
                 resend.messages.size(), PhysicalQueueName(resend.messages.front().queue));
    for (const OutgoingMessage& message : resend.messages) declared_.erase(message.queue);
    DeclareQueues(resend.messages, resend.deadline);
    tracker_.Resent(resend, Send(resend.messages));
  }
}

bool RabbitMqPublisher::ReadFrame(Deadline deadline) {
  amqp_connection_state_t state = connection_->state();
  const auto left = std::max(deadline - SteadyClock::now(), SteadyClock::duration::zero());
  timeval tv = ToTimeval(left);
  amqp_frame_t frame;
  int status = amqp_simple_wait_frame_noblock(state, &frame, &tv);
  if (status == AMQP_STATUS_TIMEOUT) return false;
  if (status != AMQP_STATUS_OK) Fail("waiting for publisher confirms: " + DescribeStatus(status));
  if (frame.frame_type != AMQP_FRAME_METHOD) return true;

  const amqp_method_t& method = frame.payload.method;
  switch (method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
      tracker_.Answered(ack->delivery_tag, ack->multiple != 0, /*ack=*/true);
      break;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
      tracker_.Answered(nack->delivery_tag, nack->multiple != 0, /*ack=*/false);
      break;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
      std::string why = DescribeClose(method);
      connection_->AnswerClose(frame.channel, method);
      Fail(why);
    }
    case AMQP_BASIC_RETURN_METHOD:
      // RabbitMQ sends a message's basic.return before its basic.ack: once
      // every tag of a batch is answered, every return of it is here.
      tracker_.Returned(ReadReturned(frame));
      break;
    default:
      break;  // connection.blocked/unblocked: the deadlines cover them
  }
  amqp_maybe_release_buffers(state);
  return true;
}

void RabbitMqPublisher::EnsureConnected(Deadline deadline) {
  // With batches in flight the connection is in use, and what it reads
  // are their confirms.
  if (connection_ && tracker_.InFlight() == 0 && !StillUsable()) {
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
    const auto known = declared_.find(queue);
    const DeclaredQueue declared =
        connection_->DeclareQueue(queue, known == declared_.end() ? -1 : known->second);
    declared_[queue] = declared.max_priority;
    return declared.counts;
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
  if (properties._flags & AMQP_BASIC_PRIORITY_FLAG) {
    // Sent again as it was first sent: undo AmqpPriority.
    message.priority = properties.priority;
    if (FairOrdering(message.queue)) {
      message.priority = static_cast<uint8_t>(properties.priority / 2);
      message.ahead = properties.priority % 2 == 1;
    }
  }
  if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    message.message_id = ToString(properties.message_id);
  amqp_destroy_message(&content);
  return message;
}

void RabbitMqPublisher::Drop(const std::string& why) {
  spdlog::warn("rabbitmq publisher: dropping connection to {}: {}", connection_->where(), why);
  connection_.reset();
  tracker_.FailAll("connection lost: " + why);
  // The next attempt starts at another node: this one may be the problem.
  nodes_.Advance();
}

void RabbitMqPublisher::Fail(const std::string& why) {
  Drop(why);
  throw TransientError("rabbitmq: " + why);
}

}  // namespace fila::rabbitmq
