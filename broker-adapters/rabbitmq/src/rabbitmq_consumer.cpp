#include "rabbitmq_consumer.h"

#include <amqp_framing.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fila/core/errors.h"

namespace fila::rabbitmq {

namespace {

// A reconnect attempt inside Next() gets at least this long even when the
// caller's deadline is nearer, or short polling deadlines would never let a
// connection complete.
constexpr std::chrono::milliseconds kMinAttempt{1000};
// poll() takes an int of milliseconds; waits longer than this just loop.
constexpr std::chrono::milliseconds kMaxPoll{std::chrono::hours(1)};
// Dead letters are published on their own channel in confirm mode, so that
// waiting for a confirm never mixes with the deliveries of kChannel.
constexpr amqp_channel_t kDeadLetterChannel = 2;

// Copies the request/reply properties a producer set, if any.
void TakeRequestProperties(const amqp_basic_properties_t& properties, Delivery& delivery) {
  if ((properties._flags & AMQP_BASIC_REPLY_TO_FLAG) != 0)
    delivery.reply_to = ToString(properties.reply_to);
  if ((properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG) != 0)
    delivery.correlation_id = ToString(properties.correlation_id);
  if ((properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0)
    delivery.content_type = ToString(properties.content_type);
}

// The channel's limit: both groups' (0, no limit, stays 0).
uint16_t ChannelLimit(uint16_t prefetch, uint16_t lane_prefetch) {
  if (prefetch == 0) return 0;
  return static_cast<uint16_t>(std::min<uint32_t>(UINT16_MAX, uint32_t{prefetch} + lane_prefetch));
}

}  // namespace

RabbitMqConsumer::RabbitMqConsumer(std::shared_ptr<const ConnectionParams> params)
    : params_(std::move(params)), nodes_(params_->nodes.size()) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0)
    throw TransientError(std::string("rabbitmq consumer: eventfd: ") + std::strerror(errno));
}

RabbitMqConsumer::~RabbitMqConsumer() {
  if (connection_) connection_->CloseGracefully(std::min(params_->connect_timeout, kCloseBudget));
  connection_.reset();
  ::close(wake_fd_);
}

void RabbitMqConsumer::Start(const std::vector<std::string>& queues, uint16_t prefetch) {
  StartWithLanes(queues, prefetch, {}, 0);
}

void RabbitMqConsumer::StartWithLanes(const std::vector<std::string>& queues, uint16_t prefetch,
                                      const std::vector<std::string>& lanes,
                                      uint16_t lane_prefetch) {
  for (const std::string& queue : queues) PhysicalQueueName(queue);  // throws for a bad name
  for (const std::string& lane : lanes) PhysicalQueueName(lane);

  if (connection_) {
    connection_->CloseGracefully(std::min(params_->connect_timeout, kCloseBudget));
    connection_.reset();
    connected_ = false;
  }
  auto distinct = [](const std::vector<std::string>& names, std::vector<std::string>& out) {
    out.clear();
    for (const std::string& name : names) {
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
  };
  distinct(queues, queues_);
  distinct(lane_prefetch > 0 ? lanes : std::vector<std::string>{}, lanes_);
  prefetch_ = prefetch;
  lane_prefetch_ = lanes_.empty() ? 0 : lane_prefetch;
  started_ = true;
  stopped_ = false;
  backoff_.Succeeded();
  try {
    Connect(SteadyClock::now() + params_->connect_timeout);
  } catch (const TransientError& error) {
    // Next() keeps trying from here on.
    spdlog::warn("consumer: {}", error.what());
    backoff_.Failed();
    throw;
  }
}

bool RabbitMqConsumer::ChannelWidePrefetch() const {
  return params_->queue_type == RabbitMqQueueType::kClassic;
}

void RabbitMqConsumer::Connect(Deadline deadline) {
  try {
    Subscribe(deadline);
  } catch (const TransientError&) {
    // Connected but could not subscribe there, or reached no node: the next
    // attempt starts at another node.
    nodes_.Advance();
    throw;
  }
}

void RabbitMqConsumer::Subscribe(Deadline deadline) {
  auto connection = AmqpConnection::Open(*params_, nodes_, deadline, "fila-consumer");
  amqp_connection_state_t state = connection->state();
  // Each setup RPC is bounded by the attempt's deadline.
  connection->SetRpcDeadline(deadline);
  connection->DeclareExchange();
  connection->SetRpcDeadline(deadline);
  const bool dead_letters = connection->DeclareDeadLetterTopology();
  for (const auto* names : {&queues_, &lanes_}) {
    for (const std::string& queue : *names) {
      connection->SetRpcDeadline(deadline);
      connection->DeclareQueue(queue);
    }
  }
  // Before basic.consume, so no delivery can be pending when DeadLetter()
  // first needs it.
  connection->SetRpcDeadline(deadline);
  connection->OpenConfirmChannel(kDeadLetterChannel);
  if (ChannelWidePrefetch()) {
    // global=true: in RabbitMQ that is one limit for the whole channel, so
    // the prefetch is shared by all queues instead of granted to each
    // (ConsumeAll adds limits per consumer where lanes need them).
    connection->SetRpcDeadline(deadline);
    amqp_basic_qos(state, kChannel, 0, ChannelLimit(prefetch_, lane_prefetch_), 1);
    connection->CheckLastRpc("basic.qos");
  }
  std::unordered_map<std::string, std::string> tags = ConsumeAll(*connection, deadline);

  connection_ = std::move(connection);
  dead_letters_ = dead_letters;
  next_dead_letter_tag_ = 1;
  pending_.clear();  // an older epoch's, requeued by the broker
  unsettled_.Reset();
  queue_of_consumer_tag_ = std::move(tags);
  heartbeat_ = std::chrono::seconds(connection_->HeartbeatSeconds());
  last_heard_ = SteadyClock::now();
  ++epoch_;
  connected_ = true;
  spdlog::info(
      "rabbitmq consumer: connected to {} (epoch {}, {} queues, prefetch {}, {} express lanes, "
      "prefetch {}, heartbeat {}s)",
      connection_->where(), epoch_, queues_.size(), prefetch_, lanes_.size(), lane_prefetch_,
      heartbeat_.count());
}

bool RabbitMqConsumer::TryReconnect(Deadline deadline) {
  const auto now = SteadyClock::now();
  const auto budget = std::min<SteadyClock::duration>(
      params_->connect_timeout, std::max<SteadyClock::duration>(deadline - now, kMinAttempt));
  try {
    Connect(now + budget);
  } catch (const TransientError& error) {
    if (backoff_.Failures() == 0) spdlog::warn("consumer: {}; retrying with backoff", error.what());
    backoff_.Failed();
    return false;
  }
  if (backoff_.Failures() > 0) {
    spdlog::info("rabbitmq consumer: reconnected after {} failed attempts", backoff_.Failures());
  }
  backoff_.Succeeded();
  return true;
}

void RabbitMqConsumer::Lose(const std::string& why) {
  spdlog::warn("rabbitmq consumer: lost connection to {} (epoch {}): {}", connection_->where(),
               epoch_, why);
  connection_.reset();
  // Reconnects to another node: this one may be gone.
  nodes_.Advance();
  queue_of_consumer_tag_.clear();
  pending_.clear();  // unacked: the broker redelivers them
  unsettled_.Reset();
  connected_ = false;
}

std::optional<Delivery> RabbitMqConsumer::Next(Deadline deadline) {
  for (;;) {
    if (TakeWakeup()) return std::nullopt;

    // Read while DeadLetter() waited for a confirm: older than anything
    // still in rabbitmq-c's queue or the socket.
    if (connection_ && !pending_.empty()) {
      Delivery delivery = std::move(pending_.front());
      pending_.pop_front();
      if (!stopped_) return delivery;
      // As in ReadOne(): not handed out after Stop(), back to the queue.
      Reject(delivery.epoch, delivery.tag, /*requeue=*/true);
      continue;
    }

    if (!connection_) {
      if (!started_ || stopped_) {
        WaitUntil(deadline, /*with_socket=*/false);
        return std::nullopt;
      }
      const Deadline earliest = backoff_.EarliestAttempt();
      if (earliest > SteadyClock::now()) {
        // Sleep out the backoff, but never past the caller's deadline:
        // the next call carries on.
        if (WaitUntil(std::min(earliest, deadline), false) == Woken::kWakeup) return std::nullopt;
        if (SteadyClock::now() < earliest) return std::nullopt;
      }
      if (!TryReconnect(deadline) && SteadyClock::now() >= deadline) return std::nullopt;
      continue;
    }

    amqp_connection_state_t state = connection_->state();
    // Frames rabbitmq-c already pulled off the socket are invisible to poll().
    const bool buffered = amqp_frames_enqueued(state) || amqp_data_in_buffer(state);
    Woken woken = Woken::kReadable;
    if (!buffered) {
      if (heartbeat_.count() > 0 && SteadyClock::now() - last_heard_ > 2 * heartbeat_) {
        Lose("no heartbeat from the broker for " + std::to_string(2 * heartbeat_.count()) + "s");
        continue;
      }
      // Wake at least every heartbeat/2 so rabbitmq-c sends ours in time
      // (it only does so while we call into it).
      Deadline until = deadline;
      if (heartbeat_.count() > 0) {
        until = std::min<Deadline>(until,
                                   SteadyClock::now() + std::chrono::milliseconds(heartbeat_) / 2);
      }
      woken = WaitUntil(until, /*with_socket=*/true);
      if (woken == Woken::kWakeup) return std::nullopt;
    }
    // Also on a timeout: the call sends a heartbeat when one is due.
    std::optional<Delivery> delivery = ReadOne();
    if (delivery) return delivery;
    if (woken == Woken::kTimeout && SteadyClock::now() >= deadline) return std::nullopt;
  }
}

std::optional<Delivery> RabbitMqConsumer::ReadOne() {
  amqp_connection_state_t state = connection_->state();
  amqp_maybe_release_buffers(state);
  amqp_envelope_t envelope;
  timeval zero{};
  amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &zero, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    last_heard_ = SteadyClock::now();
    Delivery delivery;
    delivery.body = ToString(envelope.message.body);
    delivery.tag = envelope.delivery_tag;
    delivery.epoch = epoch_;
    unsettled_.Delivered(delivery.tag);
    delivery.redelivered = envelope.redelivered != 0;
    TakeRequestProperties(envelope.message.properties, delivery);
    auto queue = queue_of_consumer_tag_.find(ToString(envelope.consumer_tag));
    delivery.queue =
        queue != queue_of_consumer_tag_.end() ? queue->second : ToString(envelope.routing_key);
    amqp_destroy_envelope(&envelope);
    if (stopped_) {
      // In flight when Stop() cancelled: hand it straight to another
      // consumer instead of sitting on it until this connection closes.
      Reject(delivery.epoch, delivery.tag, /*requeue=*/true);
      return std::nullopt;
    }
    return delivery;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    if (reply.library_error == AMQP_STATUS_TIMEOUT) return std::nullopt;
    // A frame other than basic.deliver came first and was put back. A
    // nonzero tag means the deliver itself was read and its content was
    // not what followed: the stream is out of step.
    if (reply.library_error == AMQP_STATUS_UNEXPECTED_STATE && envelope.delivery_tag == 0) {
      HandleOtherFrame();
      return std::nullopt;
    }
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    connection_->AnswerClose(reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD ? 0 : kChannel,
                             reply.reply);
  }
  Lose("reading deliveries: " + DescribeReply(reply));
  return std::nullopt;
}

void RabbitMqConsumer::HandleOtherFrame() {
  amqp_connection_state_t state = connection_->state();
  amqp_frame_t frame;
  timeval zero{};
  int status = amqp_simple_wait_frame_noblock(state, &frame, &zero);
  if (status == AMQP_STATUS_TIMEOUT) return;
  if (status != AMQP_STATUS_OK) {
    Lose("reading a frame: " + DescribeStatus(status));
    return;
  }
  last_heard_ = SteadyClock::now();
  if (frame.frame_type != AMQP_FRAME_METHOD) return;  // stray content: nothing waits for it
  const amqp_method_t& method = frame.payload.method;
  switch (method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
      std::string why = DescribeClose(method);
      connection_->AnswerClose(frame.channel, method);
      Lose(why);
      return;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
      if (stopped_) return;
      // The broker ended a subscription, e.g. its queue was deleted. A new
      // connection declares the queue again and resubscribes everything.
      const auto* cancel = static_cast<const amqp_basic_cancel_t*>(method.decoded);
      auto queue = queue_of_consumer_tag_.find(ToString(cancel->consumer_tag));
      Lose("broker cancelled the subscription to queue " +
           (queue != queue_of_consumer_tag_.end() ? queue->second : std::string("?")));
      return;
    }
    default:
      // basic.cancel-ok after Stop(), connection.blocked/unblocked: nothing
      // for a consumer to do.
      amqp_maybe_release_buffers(state);
      return;
  }
}

void RabbitMqConsumer::Ack(uint64_t epoch, uint64_t tag) { AckMany(epoch, {&tag, 1}); }

void RabbitMqConsumer::AckMany(uint64_t epoch, std::span<const uint64_t> tags) {
  // An older epoch's message was requeued by the broker when that
  // connection died; acking its tag on this channel would be an error.
  if (!connection_ || epoch != epoch_) return;
  const AckWindow::Plan plan = unsettled_.Ack(tags);
  amqp_connection_state_t state = connection_->state();
  if (plan.multiple_up_to != 0 &&
      amqp_basic_ack(state, kChannel, plan.multiple_up_to, /*multiple=*/1) != AMQP_STATUS_OK) {
    Lose("basic.ack failed");
    return;
  }
  for (uint64_t tag : plan.singles) {
    int status = amqp_basic_ack(state, kChannel, tag, /*multiple=*/0);
    if (status != AMQP_STATUS_OK) {
      Lose("basic.ack failed: " + DescribeStatus(status));
      return;
    }
  }
}

void RabbitMqConsumer::Reject(uint64_t epoch, uint64_t tag, bool requeue) {
  if (!connection_ || epoch != epoch_ || !unsettled_.Settle(tag)) return;
  int status = amqp_basic_reject(connection_->state(), kChannel, tag, requeue ? 1 : 0);
  if (status != AMQP_STATUS_OK) Lose("basic.reject failed: " + DescribeStatus(status));
}

void RabbitMqConsumer::DeadLetter(const Delivery& delivery, const std::string& reason) {
  // An older epoch's message was requeued when its connection died; it
  // comes back and is dead-lettered then.
  if (!connection_ || delivery.epoch != epoch_) return;
  if (!dead_letters_) {
    // Publishing would only come back unroutable. Unacked, it returns with
    // the next connection, which may find fila.dead again.
    spdlog::warn("rabbitmq consumer: no dead-letter queue on this connection: delivery {} stays "
                 "unacked until the next one",
                 delivery.tag);
    return;
  }
  amqp_connection_state_t state = connection_->state();

  const std::string reason_text = HeaderText(reason, kMaxReasonBytes);
  const std::string queue_text = HeaderText(delivery.queue, kMaxReasonBytes);
  amqp_table_entry_t headers[2];
  headers[0].key = amqp_cstring_bytes(kReasonHeader);
  headers[0].value.kind = AMQP_FIELD_KIND_UTF8;
  headers[0].value.value.bytes = Bytes(reason_text);
  headers[1].key = amqp_cstring_bytes(kSourceQueueHeader);
  headers[1].value.kind = AMQP_FIELD_KIND_UTF8;
  headers[1].value.value.bytes = Bytes(queue_text);
  amqp_basic_properties_t properties{};
  properties._flags =
      AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  properties.content_type = amqp_cstring_bytes(kContentType);
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties.headers = amqp_table_t{2, headers};

  // mandatory: if "fila.dead" was deleted under us, the broker returns the
  // message instead of confirming it into nowhere.
  const int status =
      amqp_basic_publish(state, kDeadLetterChannel, amqp_cstring_bytes(kDeadExchange),
                         amqp_empty_bytes, /*mandatory=*/1, /*immediate=*/0, &properties,
                         Bytes(delivery.body));
  if (status != AMQP_STATUS_OK) {
    Lose("dead-letter publish failed: " + DescribeStatus(status));
    return;
  }
  const uint64_t publish_tag = next_dead_letter_tag_++;
  if (auto failure =
          AwaitDeadLetterConfirm(publish_tag, SteadyClock::now() + params_->connect_timeout)) {
    Lose(*failure);
    return;
  }
  // Only now: a crash before this ack dead-letters the message twice, never
  // zero times.
  Ack(delivery.epoch, delivery.tag);
}

void RabbitMqConsumer::Reply(const Delivery& request, const std::string& body,
                             const std::string& content_type) {
  if (request.reply_to.empty()) return;  // the producer wants no answer
  // An older epoch's request was requeued; it is answered when it returns.
  if (!connection_ || request.epoch != epoch_) return;
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  // Transient: a reply queue is the requester's own (typically exclusive,
  // auto-delete) queue and dies with its connection; persisting replies
  // would cost a disk write each for nothing.
  properties.delivery_mode = AMQP_DELIVERY_NONPERSISTENT;
  if (!content_type.empty()) {
    properties._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    properties.content_type = Bytes(content_type);
  }
  if (!request.correlation_id.empty()) {
    properties._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    properties.correlation_id = Bytes(request.correlation_id);
  }
  // Default exchange, not mandatory: a requester that went away simply
  // gets nothing, and no basic.return has to be read back.
  const int status = amqp_basic_publish(connection_->state(), kChannel, amqp_empty_bytes,
                                        Bytes(request.reply_to), /*mandatory=*/0,
                                        /*immediate=*/0, &properties, Bytes(body));
  if (status != AMQP_STATUS_OK) Lose("reply publish failed: " + DescribeStatus(status));
}

std::optional<std::string> RabbitMqConsumer::AwaitDeadLetterConfirm(uint64_t tag,
                                                                    Deadline deadline) {
  // While waiting, the broker keeps sending deliveries on kChannel. They
  // cannot be left to rabbitmq-c: 0.11 exports no way to put a frame back
  // (amqp_put_back_frame and amqp_queue_frame are internal), and its
  // amqp_simple_wait_frame_on_channel() is internal too, has no timeout,
  // and unlinks every queued frame ahead of the one it finds. So frames are
  // read with amqp_simple_wait_frame_noblock(), which returns rabbitmq-c's
  // queued frames first, then the socket's, i.e. in arrival order, and
  // kChannel's deliveries are assembled here (bodies copied at once, so no
  // pool lifetime matters) into pending_, which Next() hands out before
  // reading more. A delivery still incomplete when the confirm arrives is
  // read to its end first, so the stream stays at a message boundary.
  amqp_connection_state_t state = connection_->state();
  std::optional<Delivery> partial;  // deliver read, header and body to come
  bool have_header = false;
  uint64_t body_size = 0;
  bool confirmed = false;
  bool returned = false;

  // Takes one frame of kChannel. Returns why the connection must go.
  auto take_delivery_frame = [&](const amqp_frame_t& frame) -> std::optional<std::string> {
    if (frame.frame_type == AMQP_FRAME_METHOD) {
      if (partial) return std::string("a method frame interrupted a delivery's content");
      const amqp_method_t& method = frame.payload.method;
      switch (method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
          const auto* deliver = static_cast<const amqp_basic_deliver_t*>(method.decoded);
          partial.emplace();
          partial->tag = deliver->delivery_tag;
          partial->epoch = epoch_;
          unsettled_.Delivered(partial->tag);
          partial->redelivered = deliver->redelivered != 0;
          auto queue = queue_of_consumer_tag_.find(ToString(deliver->consumer_tag));
          partial->queue = queue != queue_of_consumer_tag_.end() ? queue->second
                                                                 : ToString(deliver->routing_key);
          have_header = false;
          return std::nullopt;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD: {
          std::string why = DescribeClose(method);
          connection_->AnswerClose(frame.channel, method);
          return why;
        }
        case AMQP_BASIC_CANCEL_METHOD: {
          if (stopped_) return std::nullopt;
          const auto* cancel = static_cast<const amqp_basic_cancel_t*>(method.decoded);
          auto queue = queue_of_consumer_tag_.find(ToString(cancel->consumer_tag));
          return "broker cancelled the subscription to queue " +
                 (queue != queue_of_consumer_tag_.end() ? queue->second : std::string("?"));
        }
        default:
          return std::nullopt;  // basic.cancel-ok after Stop() and the like
      }
    }
    if (!partial) return std::string("content frame without a basic.deliver");
    if (frame.frame_type == AMQP_FRAME_HEADER) {
      if (have_header) return std::string("second content header of one delivery");
      have_header = true;
      body_size = frame.payload.properties.body_size;
      if (frame.payload.properties.class_id == AMQP_BASIC_CLASS &&
          frame.payload.properties.decoded != nullptr) {
        TakeRequestProperties(
            *static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded),
            *partial);
      }
      if (body_size > partial->body.max_size())
        return std::string("delivery too large: " + std::to_string(body_size) + " bytes");
      partial->body.reserve(static_cast<size_t>(body_size));
    } else if (frame.frame_type == AMQP_FRAME_BODY) {
      if (!have_header) return std::string("body frame before the content header");
      const amqp_bytes_t& fragment = frame.payload.body_fragment;
      if (partial->body.size() + fragment.len > body_size)
        return std::string("delivery body longer than announced");
      partial->body.append(static_cast<const char*>(fragment.bytes), fragment.len);
    } else {
      return std::nullopt;
    }
    if (partial->body.size() < body_size) return std::nullopt;
    if (stopped_) {
      // As ReadOne(): delivered while cancelling, handed straight back.
      const uint64_t rejected = partial->tag;
      partial.reset();
      if (!unsettled_.Settle(rejected)) return std::nullopt;
      int status = amqp_basic_reject(state, kChannel, rejected, /*requeue=*/1);
      if (status != AMQP_STATUS_OK) return "basic.reject failed: " + DescribeStatus(status);
      return std::nullopt;
    }
    pending_.push_back(std::move(*partial));
    partial.reset();
    return std::nullopt;
  };

  while (!confirmed || partial) {
    const auto left = deadline - SteadyClock::now();
    if (left <= SteadyClock::duration::zero()) {
      return confirmed ? std::string("a delivery's content did not arrive in time")
                       : "no confirm for a dead-letter publish within " +
                             std::to_string(params_->connect_timeout.count()) + " ms";
    }
    timeval tv = ToTimeval(left);
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(state, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) continue;
    if (status != AMQP_STATUS_OK)
      return "waiting for a dead-letter confirm: " + DescribeStatus(status);
    last_heard_ = SteadyClock::now();

    if (frame.channel == kChannel) {
      if (auto failure = take_delivery_frame(frame)) return failure;
      continue;
    }
    // Content frames of a basic.return on kDeadLetterChannel: not needed.
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_t& method = frame.payload.method;
    switch (method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        if (frame.channel != kDeadLetterChannel) break;
        if (ack->delivery_tag == tag || (ack->multiple != 0 && ack->delivery_tag > tag)) {
          // The broker confirms an unroutable (returned) message as well.
          if (returned) {
            return std::string("dead letter unroutable: queue fila.") + kDeadLetterQueue +
                   " is not bound to exchange " + kDeadExchange +
                   " (deleted?); reconnecting declares it again";
          }
          confirmed = true;
        }
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
        if (frame.channel != kDeadLetterChannel) break;
        if (nack->delivery_tag == tag || (nack->multiple != 0 && nack->delivery_tag > tag))
          return std::string("broker nacked a dead-letter publish");
        break;
      }
      case AMQP_BASIC_RETURN_METHOD:
        // Only this publish is ever outstanding on the channel.
        if (frame.channel == kDeadLetterChannel) returned = true;
        break;
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        std::string why = DescribeClose(method);
        connection_->AnswerClose(frame.channel, method);
        return why;
      }
      default:
        break;  // connection.blocked/unblocked: the deadline covers them
    }
  }
  amqp_maybe_release_buffers_on_channel(state, kDeadLetterChannel);
  return std::nullopt;
}

void RabbitMqConsumer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  connected_ = false;
  if (!connection_) return;
  connection_->SetRpcDeadline(SteadyClock::now() +
                              std::min(params_->connect_timeout, kCloseBudget));
  for (const auto& [tag, queue] : queue_of_consumer_tag_) {
    // Deliveries racing the cancel are queued by rabbitmq-c and rejected
    // back to the queue by the next Next().
    amqp_basic_cancel(connection_->state(), kChannel, Bytes(tag));
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(connection_->state());
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      Lose("basic.cancel of queue " + queue + ": " + DescribeReply(reply));
      return;
    }
  }
  amqp_maybe_release_buffers(connection_->state());
  spdlog::info("rabbitmq consumer: stopped consuming (epoch {})", epoch_);
}

std::unordered_map<std::string, std::string> RabbitMqConsumer::ConsumeAll(
    AmqpConnection& connection, Deadline deadline) {
  amqp_connection_state_t state = connection.state();
  std::unordered_map<std::string, std::string> tags;
  const bool channel_wide = ChannelWidePrefetch();
  // Limits per consumer (global=false) apply to the basic.consume calls
  // after them.
  auto per_consumer = [&](uint16_t prefetch) {
    connection.SetRpcDeadline(deadline);
    amqp_basic_qos(state, kChannel, 0, prefetch, 0);
    connection.CheckLastRpc("basic.qos");
  };
  auto consume = [&](const std::string& queue) {
    connection.SetRpcDeadline(deadline);
    const std::string physical = PhysicalQueueName(queue);
    amqp_basic_consume_ok_t* ok =
        amqp_basic_consume(state, kChannel, Bytes(physical), amqp_empty_bytes,
                           /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
    connection.CheckLastRpc("basic.consume " + physical);
    tags.emplace(ToString(ok->consumer_tag), queue);
  };
  // Quorum queues refuse the channel-wide limit (540 NOT_IMPLEMENTED "does
  // not support global qos"): each subscription then gets an equal part,
  // so that the whole never exceeds the prefetch (a worker's free slots)
  // with two queues or more; a queue may then wait while another's part is
  // idle. With lanes on classic queues each subscription is limited to its
  // group's prefetch, and the channel to the sum: a lane's deliveries never
  // wait for the other queues' slots (but the queues of a worker that
  // consumes several may take the lane's part when it is idle).
  if (!channel_wide || !lanes_.empty()) {
    uint16_t each = prefetch_;
    if (!channel_wide && prefetch_ > 0 && queues_.size() > 1)
      each = static_cast<uint16_t>(std::max<size_t>(1, prefetch_ / queues_.size()));
    if (!queues_.empty()) per_consumer(each);
  }
  for (const std::string& queue : queues_) consume(queue);
  // A lane is subscribed once per express slot (its part of them), each
  // with a prefetch of 1: the lane's consumers, as the broker counts them,
  // are the fleet's express slots, which is what the relay reads to know
  // whether one is free (docs/fairness.md, rule 7).
  if (!lanes_.empty()) {
    per_consumer(1);
    const size_t each = std::max<size_t>(1, lane_prefetch_ / lanes_.size());
    for (const std::string& lane : lanes_) {
      for (size_t i = 0; i < each; ++i) consume(lane);
    }
  }
  amqp_maybe_release_buffers(state);
  return tags;
}

void RabbitMqConsumer::Resume() {
  if (!stopped_) return;
  stopped_ = false;
  // No connection: Next() connects and subscribes.
  if (!connection_) return;
  try {
    queue_of_consumer_tag_ = ConsumeAll(
        *connection_, SteadyClock::now() + std::min(params_->connect_timeout, kCloseBudget));
  } catch (const std::exception& error) {
    // Next() reconnects and subscribes everything.
    Lose("resuming: " + std::string(error.what()));
    return;
  }
  connected_ = true;
  spdlog::info("rabbitmq consumer: consuming again (epoch {})", epoch_);
}

void RabbitMqConsumer::Wakeup() {
  uint64_t one = 1;
  // Only fails when the counter is about to overflow: a wakeup is pending
  // anyway.
  [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof(one));
}

bool RabbitMqConsumer::Connected() const { return connected_.load(); }

bool RabbitMqConsumer::TakeWakeup() {
  uint64_t count = 0;
  return ::read(wake_fd_, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count));
}

RabbitMqConsumer::Woken RabbitMqConsumer::WaitUntil(Deadline until, bool with_socket) {
  for (;;) {
    const auto left = until - SteadyClock::now();
    int timeout_ms = 0;
    if (left > SteadyClock::duration::zero()) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(
          std::min<SteadyClock::duration>(left, kMaxPoll));
      timeout_ms = static_cast<int>(ms.count());
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {with_socket ? connection_->Sockfd() : -1, POLLIN, 0}};
    int ready = ::poll(fds, with_socket ? 2 : 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Woken::kTimeout;
    }
    if (fds[0].revents != 0 && TakeWakeup()) return Woken::kWakeup;
    // POLLHUP/POLLERR count as readable: reading reports the error.
    if (with_socket && fds[1].revents != 0) {
      last_heard_ = SteadyClock::now();
      return Woken::kReadable;
    }
    if (ready == 0 && SteadyClock::now() >= until) return Woken::kTimeout;
  }
}

}  // namespace fila::rabbitmq
