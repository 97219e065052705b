#include "fila/broker_memory/memory_broker.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "fila/core/errors.h"

namespace fila {

namespace {

constexpr uint8_t kTopPriority = 9;

// Orders a queue: higher priority first, `ahead` first within a priority,
// then publish order. A requeued message keeps its key, so it returns to
// where it was.
struct Position {
  uint8_t rank = 0;  // 2 * (kTopPriority - priority), + 1 unless ahead
  uint64_t sequence = 0;
  auto operator<=>(const Position&) const = default;
};

struct Message {
  std::string body;
  bool redelivered = false;
  std::string reply_to;
  std::string correlation_id;
  std::string content_type;
};

using Queue = std::map<Position, Message>;

struct InFlight {
  std::string queue;
  Position position;
  Message message;
};

struct ConsumerState {
  std::vector<std::string> queues;  // its lanes too, last
  uint16_t prefetch = 0;
  size_t lanes = 0;  // the last `lanes` of `queues` are express lanes
  uint16_t lane_prefetch = 0;
  bool started = false;
  bool stopped = false;
  bool connected = false;
  bool woken = false;
  uint64_t epoch = 0;
  uint64_t next_tag = 1;
  std::map<uint64_t, InFlight> unacked;
};

}  // namespace

struct MemoryBroker::State {
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Queue> queues;
  std::map<uint64_t, ConsumerState> consumers;
  uint64_t next_consumer_id = 1;
  uint64_t next_sequence = 1;
  bool reachable = true;
  bool fail_next_publish = false;
  size_t published_before_failure = 0;
  size_t channel_errors = 0;
  std::vector<MemoryBroker::DeadLetterRecord> dead_letters;
  std::vector<MemoryBroker::ReplyRecord> replies;
  // Pipelined publishing: batches whose confirm the test holds, oldest
  // first, and per publisher the outcomes not collected yet.
  bool hold_confirms = false;
  struct HeldBatch {
    uint64_t publisher = 0;
    uint64_t ticket = 0;
  };
  std::vector<HeldBatch> held;
  std::map<uint64_t, std::vector<PublishOutcome>> finished;  // by publisher
  uint64_t next_publisher_id = 1;

  // All of the following expect `mutex` held.

  void Enqueue(const OutgoingMessage& outgoing) {
    Position position{
        static_cast<uint8_t>(2 * (kTopPriority - std::min(outgoing.priority, kTopPriority)) +
                             (outgoing.ahead ? 0 : 1)),
        next_sequence++};
    queues[outgoing.queue].emplace(position, Message{outgoing.body, false, {}, {}, {}});
  }

  // Ends a held batch; `index` counts from the oldest held.
  void Release(size_t index, bool confirmed, const std::string& error) {
    const HeldBatch batch = held.at(index);
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(index));
    finished[batch.publisher].push_back({batch.ticket, confirmed, error});
    changed.notify_all();
  }

  // Every batch in flight fails, as when the publishers' connections drop.
  void FailHeld() {
    while (!held.empty()) Release(0, false, "memory broker: connection lost");
  }

  void Enqueue(const std::string& queue, Message message) {
    queues[queue].emplace(Position{kTopPriority, next_sequence++}, std::move(message));
  }

  void Requeue(InFlight in_flight) {
    in_flight.message.redelivered = true;
    queues[in_flight.queue].emplace(in_flight.position, std::move(in_flight.message));
  }

  void Disconnect(ConsumerState& consumer) {
    for (auto& [tag, in_flight] : consumer.unacked) Requeue(std::move(in_flight));
    consumer.unacked.clear();
    consumer.connected = false;
  }

  // A new connection: new epoch, tags restart as on a new AMQP channel.
  void Connect(ConsumerState& consumer) {
    consumer.connected = true;
    ++consumer.epoch;
    consumer.next_tag = 1;
  }

  bool Subscribed(const ConsumerState& consumer) const {
    return consumer.started && !consumer.stopped;
  }

  // The best ready message over the consumer's queues whose group (the
  // queues, or the express lanes) has prefetch left.
  std::optional<Delivery> Take(ConsumerState& consumer) {
    const size_t first_lane = consumer.queues.size() - consumer.lanes;
    size_t lane_unacked = 0;
    for (const auto& [tag, in_flight] : consumer.unacked) {
      const auto& q = consumer.queues;
      if (std::find(q.begin() + static_cast<std::ptrdiff_t>(first_lane), q.end(),
                    in_flight.queue) != q.end())
        ++lane_unacked;
    }
    const size_t queue_unacked = consumer.unacked.size() - lane_unacked;
    const bool queues_open = consumer.prefetch == 0 || queue_unacked < consumer.prefetch;
    const bool lanes_open = consumer.lanes > 0 && lane_unacked < consumer.lane_prefetch;
    Queue* best_queue = nullptr;
    const std::string* best_name = nullptr;
    for (size_t i = 0; i < consumer.queues.size(); ++i) {
      if (!(i < first_lane ? queues_open : lanes_open)) continue;
      const std::string& name = consumer.queues[i];
      Queue& queue = queues[name];
      if (queue.empty()) continue;
      if (best_queue == nullptr || queue.begin()->first < best_queue->begin()->first) {
        best_queue = &queue;
        best_name = &name;
      }
    }
    if (best_queue == nullptr) return std::nullopt;
    auto node = best_queue->extract(best_queue->begin());
    Delivery delivery;
    delivery.queue = *best_name;
    delivery.body = node.mapped().body;
    delivery.tag = consumer.next_tag++;
    delivery.epoch = consumer.epoch;
    delivery.redelivered = node.mapped().redelivered;
    delivery.reply_to = node.mapped().reply_to;
    delivery.correlation_id = node.mapped().correlation_id;
    delivery.content_type = node.mapped().content_type;
    consumer.unacked.emplace(delivery.tag,
                             InFlight{*best_name, node.key(), std::move(node.mapped())});
    return delivery;
  }

  // RabbitMQ closes the channel (PRECONDITION_FAILED unknown delivery
  // tag); the consumer reconnects and everything unacked comes back.
  void ChannelError(ConsumerState& consumer) {
    ++channel_errors;
    Disconnect(consumer);
    if (reachable) Connect(consumer);
  }

  // Publishes a dead letter (as confirmed), then acks the original.
  void DeadLetter(uint64_t consumer_id, const Delivery& delivery, const std::string& reason) {
    ConsumerState& consumer = consumers.at(consumer_id);
    if (!consumer.connected || delivery.epoch != consumer.epoch) return;
    Enqueue(OutgoingMessage{.queue = MemoryBroker::kDeadLetterQueue,
                            .body = delivery.body,
                            .priority = 0,
                            .message_id = {}});
    dead_letters.push_back({delivery.queue, reason, delivery.body});
    auto it = consumer.unacked.find(delivery.tag);
    if (it == consumer.unacked.end()) {
      ChannelError(consumer);
    } else {
      consumer.unacked.erase(it);
    }
    changed.notify_all();
  }

  void Reply(uint64_t consumer_id, const Delivery& request, const std::string& body,
             const std::string& content_type) {
    const ConsumerState& consumer = consumers.at(consumer_id);
    if (request.reply_to.empty() || !consumer.connected || request.epoch != consumer.epoch) return;
    replies.push_back({request.reply_to, request.correlation_id, content_type, body});
  }

  // Acks or rejects a delivery. Tags of older epochs are ignored: their
  // messages were requeued when that connection was lost.
  void Settle(uint64_t consumer_id, uint64_t epoch, uint64_t tag, bool requeue, bool ack) {
    ConsumerState& consumer = consumers.at(consumer_id);
    if (!consumer.connected || epoch != consumer.epoch) return;
    auto it = consumer.unacked.find(tag);
    if (it == consumer.unacked.end()) {
      ChannelError(consumer);
    } else {
      InFlight in_flight = std::move(it->second);
      consumer.unacked.erase(it);
      if (!ack && requeue) Requeue(std::move(in_flight));
    }
    changed.notify_all();
  }
};

namespace {

class MemoryPublisher final : public Publisher {
 public:
  explicit MemoryPublisher(std::shared_ptr<MemoryBroker::State> state) : state_(std::move(state)) {
    std::lock_guard lock(state_->mutex);
    id_ = state_->next_publisher_id++;
  }

  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline /*deadline*/) override {
    std::lock_guard lock(state_->mutex);
    Publish(messages);
  }

  uint64_t PublishAsync(std::span<const OutgoingMessage> messages, Deadline /*deadline*/) override {
    std::lock_guard lock(state_->mutex);
    Publish(messages);
    const uint64_t ticket = next_ticket_++;
    if (state_->hold_confirms) {
      state_->held.push_back({id_, ticket});
    } else {
      state_->finished[id_].push_back({ticket, true, {}});
    }
    ++in_flight_;
    return ticket;
  }

  std::vector<PublishOutcome> CollectConfirms(Deadline deadline) override {
    std::unique_lock lock(state_->mutex);
    auto& mine = state_->finished[id_];
    state_->changed.wait_until(lock, deadline, [&] { return !mine.empty() || in_flight_ == 0; });
    in_flight_ -= mine.size();
    return std::exchange(mine, {});
  }

  size_t InFlight() const override {
    std::lock_guard lock(state_->mutex);
    return in_flight_;
  }

  QueueCounts CountQueue(const std::string& queue, Deadline /*deadline*/) override {
    std::lock_guard lock(state_->mutex);
    if (!state_->reachable) throw TransientError("memory broker: unreachable");
    QueueCounts counts{state_->queues[queue].size(), 0};
    for (const auto& [id, consumer] : state_->consumers) {
      const auto& queues = consumer.queues;
      const auto it = std::find(queues.begin(), queues.end(), queue);
      if (!state_->Subscribed(consumer) || !consumer.connected || it == queues.end()) continue;
      // A lane is subscribed once per express slot (its part of them), as
      // RabbitMqConsumer does.
      const auto first_lane = static_cast<std::ptrdiff_t>(queues.size() - consumer.lanes);
      const bool lane = it - queues.begin() >= first_lane;
      counts.consumers += lane ? std::max<size_t>(1, consumer.lane_prefetch / consumer.lanes) : 1;
    }
    return counts;
  }

 private:
  // Expects the mutex held.
  void Publish(std::span<const OutgoingMessage> messages) {
    for (const OutgoingMessage& message : messages) {
      if (message.queue.empty()) throw PermanentError("queue name is empty", "queue");
    }
    if (!state_->reachable) throw TransientError("memory broker: unreachable");
    size_t count = messages.size();
    const bool fail = state_->fail_next_publish;
    if (fail) {
      state_->fail_next_publish = false;
      count = std::min(count, state_->published_before_failure);
    }
    for (size_t i = 0; i < count; ++i) state_->Enqueue(messages[i]);
    if (count > 0) state_->changed.notify_all();
    if (fail) {
      // The connection is gone: what it had in flight failed too.
      state_->FailHeld();
      throw TransientError("memory broker: injected publish failure");
    }
  }

  std::shared_ptr<MemoryBroker::State> state_;
  uint64_t id_ = 0;
  uint64_t next_ticket_ = 1;
  size_t in_flight_ = 0;  // sent and not collected; guarded by the mutex
};

class MemoryConsumer final : public Consumer {
 public:
  explicit MemoryConsumer(std::shared_ptr<MemoryBroker::State> state) : state_(std::move(state)) {
    std::lock_guard lock(state_->mutex);
    id_ = state_->next_consumer_id++;
    state_->consumers.emplace(id_, ConsumerState{});
  }

  ~MemoryConsumer() override {
    std::lock_guard lock(state_->mutex);
    state_->Disconnect(state_->consumers.at(id_));
    state_->consumers.erase(id_);
    state_->changed.notify_all();
  }

  void Start(const std::vector<std::string>& queues, uint16_t prefetch) override {
    StartWithLanes(queues, prefetch, {}, 0);
  }

  void StartWithLanes(const std::vector<std::string>& queues, uint16_t prefetch,
                      const std::vector<std::string>& lanes, uint16_t lane_prefetch) override {
    for (const auto* names : {&queues, &lanes}) {
      for (const std::string& queue : *names) {
        if (queue.empty()) throw PermanentError("queue name is empty", "queue");
      }
    }
    std::lock_guard lock(state_->mutex);
    if (!state_->reachable) throw TransientError("memory broker: unreachable");
    ConsumerState& consumer = state_->consumers.at(id_);
    if (consumer.connected) state_->Disconnect(consumer);
    consumer.queues.clear();
    auto add = [&](const std::string& queue) {
      if (std::find(consumer.queues.begin(), consumer.queues.end(), queue) != consumer.queues.end())
        return false;
      consumer.queues.push_back(queue);
      state_->queues[queue];  // declare
      return true;
    };
    for (const std::string& queue : queues) add(queue);
    consumer.lanes = 0;
    if (lane_prefetch > 0) {
      for (const std::string& lane : lanes) consumer.lanes += add(lane) ? 1 : 0;
    }
    consumer.prefetch = prefetch;
    consumer.lane_prefetch = lane_prefetch;
    consumer.started = true;
    consumer.stopped = false;
    state_->Connect(consumer);
    state_->changed.notify_all();
  }

  std::optional<Delivery> Next(Deadline deadline) override {
    std::unique_lock lock(state_->mutex);
    ConsumerState& consumer = state_->consumers.at(id_);
    for (;;) {
      if (consumer.woken) {
        consumer.woken = false;
        return std::nullopt;
      }
      if (state_->Subscribed(consumer)) {
        if (!consumer.connected && state_->reachable) state_->Connect(consumer);
        if (consumer.connected) {
          if (auto delivery = state_->Take(consumer)) return delivery;
        }
      }
      if (SteadyClock::now() >= deadline) return std::nullopt;
      state_->changed.wait_until(lock, deadline);
    }
  }

  void Ack(uint64_t epoch, uint64_t tag) override {
    std::lock_guard lock(state_->mutex);
    state_->Settle(id_, epoch, tag, /*requeue=*/false, /*ack=*/true);
  }

  void Reject(uint64_t epoch, uint64_t tag, bool requeue) override {
    std::lock_guard lock(state_->mutex);
    state_->Settle(id_, epoch, tag, requeue, /*ack=*/false);
  }

  void DeadLetter(const Delivery& delivery, const std::string& reason) override {
    std::lock_guard lock(state_->mutex);
    state_->DeadLetter(id_, delivery, reason);
  }

  void Reply(const Delivery& request, const std::string& body,
             const std::string& content_type) override {
    std::lock_guard lock(state_->mutex);
    state_->Reply(id_, request, body, content_type);
  }

  void Stop() override {
    std::lock_guard lock(state_->mutex);
    state_->consumers.at(id_).stopped = true;
  }

  void Resume() override {
    std::lock_guard lock(state_->mutex);
    state_->consumers.at(id_).stopped = false;
    state_->changed.notify_all();
  }

  void Wakeup() override {
    std::lock_guard lock(state_->mutex);
    state_->consumers.at(id_).woken = true;
    state_->changed.notify_all();
  }

  bool Connected() const override {
    std::lock_guard lock(state_->mutex);
    const ConsumerState& consumer = state_->consumers.at(id_);
    return consumer.connected && state_->Subscribed(consumer);
  }

 private:
  std::shared_ptr<MemoryBroker::State> state_;
  uint64_t id_ = 0;
};

}  // namespace

MemoryBroker::MemoryBroker() : state_(std::make_shared<State>()) {}

MemoryBroker::~MemoryBroker() = default;

std::unique_ptr<Publisher> MemoryBroker::NewPublisher() {
  return std::make_unique<MemoryPublisher>(state_);
}

std::unique_ptr<Consumer> MemoryBroker::NewConsumer() {
  return std::make_unique<MemoryConsumer>(state_);
}

size_t MemoryBroker::Depth(const std::string& queue) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->queues.find(queue);
  return it == state_->queues.end() ? 0 : it->second.size();
}

size_t MemoryBroker::Purge(const std::string& queue) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->queues.find(queue);
  if (it == state_->queues.end()) return 0;
  const size_t dropped = it->second.size();
  it->second.clear();
  return dropped;
}

size_t MemoryBroker::Unacked() const {
  std::lock_guard lock(state_->mutex);
  size_t total = 0;
  for (const auto& [id, consumer] : state_->consumers) total += consumer.unacked.size();
  return total;
}

void MemoryBroker::FailNextPublish(size_t published_before_failure) {
  std::lock_guard lock(state_->mutex);
  state_->fail_next_publish = true;
  state_->published_before_failure = published_before_failure;
}

void MemoryBroker::DropConnections() {
  std::lock_guard lock(state_->mutex);
  for (auto& [id, consumer] : state_->consumers) {
    if (!consumer.connected) continue;
    state_->Disconnect(consumer);
    if (state_->reachable && state_->Subscribed(consumer)) state_->Connect(consumer);
  }
  state_->changed.notify_all();
}

void MemoryBroker::SetReachable(bool reachable) {
  std::lock_guard lock(state_->mutex);
  state_->reachable = reachable;
  if (!reachable) {
    state_->FailHeld();
    for (auto& [id, consumer] : state_->consumers) {
      if (consumer.connected) state_->Disconnect(consumer);
    }
  }
  state_->changed.notify_all();
}

void MemoryBroker::HoldConfirms(bool hold) {
  std::lock_guard lock(state_->mutex);
  state_->hold_confirms = hold;
}

size_t MemoryBroker::HeldBatches() const {
  std::lock_guard lock(state_->mutex);
  return state_->held.size();
}

void MemoryBroker::ConfirmHeld(size_t index) {
  std::lock_guard lock(state_->mutex);
  state_->Release(index, true, {});
}

void MemoryBroker::NackHeld(size_t index) {
  std::lock_guard lock(state_->mutex);
  state_->Release(index, false, "memory broker: nacked");
}

size_t MemoryBroker::ChannelErrors() const {
  std::lock_guard lock(state_->mutex);
  return state_->channel_errors;
}

std::vector<MemoryBroker::DeadLetterRecord> MemoryBroker::DeadLetters() const {
  std::lock_guard lock(state_->mutex);
  return state_->dead_letters;
}

void MemoryBroker::PublishRequest(const std::string& queue, const std::string& body,
                                  const std::string& reply_to, const std::string& correlation_id,
                                  const std::string& content_type) {
  std::lock_guard lock(state_->mutex);
  state_->Enqueue(queue, Message{body, false, reply_to, correlation_id, content_type});
  state_->changed.notify_all();
}

std::vector<MemoryBroker::ReplyRecord> MemoryBroker::Replies() const {
  std::lock_guard lock(state_->mutex);
  return state_->replies;
}

}  // namespace fila
