// Against a real RabbitMQ: set FILA_AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672/).
// Without it the tests that need a broker are skipped; the offline ones
// (bad URL, unreachable port) always run.
// Optional: FILA_TEST_RMQ_RESTART_CMD, a shell command that restarts that
// broker, enables the reconnect test. With FILA_TEST_STACK_DIR (as ctest
// runs them), the broker is that stack's (support/harness.h).

#include "fila/broker_rabbitmq/rabbitmq_broker.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "support/harness.h"

namespace fila {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kPublishBudget{10000};

std::string RandomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string suffix;
  uint64_t bits = rng();
  for (int i = 0; i < 12; ++i, bits >>= 4) suffix += kHex[bits & 0xf];
  return suffix;
}

// A TCP port on 127.0.0.1 that nothing listens on: bound by the OS, then
// released.
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// A message found in the shared dead-letter queue "fila.dead".
struct DeadLetterSeen {
  std::string body;
  std::string reason;        // x-fila-reason
  std::string source_queue;  // x-fila-queue
  bool headers_are_strings = false;
  uint8_t delivery_mode = 0;
};

// The UTF-8 string value of header `key`, if there is one.
std::optional<std::string> StringHeader(const amqp_table_t& headers, std::string_view key) {
  for (int i = 0; i < headers.num_entries; ++i) {
    const amqp_table_entry_t& entry = headers.entries[i];
    if (std::string_view(static_cast<const char*>(entry.key.bytes), entry.key.len) != key) continue;
    if (entry.value.kind != AMQP_FIELD_KIND_UTF8) return std::nullopt;
    const amqp_bytes_t& value = entry.value.value.bytes;
    return std::string(static_cast<const char*>(value.bytes), value.len);
  }
  return std::nullopt;
}

// Raw rabbitmq-c for what the adapter deliberately does not offer: counting
// and deleting the test's own queues, reading the dead-letter queue.
class AdminConnection final {
 public:
  explicit AdminConnection(const std::string& url) {
    std::string scratch = url;
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(scratch.data(), &info) != AMQP_STATUS_OK)
      throw std::runtime_error("bad FILA_AMQP_URL");
    state_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    timeval timeout{5, 0};
    if (amqp_socket_open_noblock(socket, info.host, info.port, &timeout) != AMQP_STATUS_OK) {
      throw std::runtime_error("admin connection: cannot connect");
    }
    const char* vhost =
        *info.vhost != '\0' ? info.vhost : "/";  // as the adapter reads "amqp://host/"
    amqp_rpc_reply_t reply =
        amqp_login(state_, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error("admin connection: login failed");
    amqp_set_rpc_timeout(state_, &timeout);
    amqp_channel_open(state_, 1);
    Check("channel.open");
  }
  ~AdminConnection() {
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  // Ready (undelivered) messages in the queue of a logical name; the queue
  // must exist.
  uint32_t Ready(const std::string& logical) {
    const std::string physical = "fila." + logical;
    amqp_queue_declare_ok_t* ok =
        amqp_queue_declare(state_, 1, amqp_cstring_bytes(physical.c_str()),
                           /*passive=*/1, 0, 0, 0, amqp_empty_table);
    Check("queue.declare passive " + physical);
    return ok->message_count;
  }

  // Waits until Ready(logical) == expected (requeues after a connection
  // closes are asynchronous); returns the last count seen.
  uint32_t AwaitReady(const std::string& logical, uint32_t expected) {
    const Deadline deadline = DeadlineIn(milliseconds(5000));
    uint32_t ready = Ready(logical);
    while (ready != expected && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
      ready = Ready(logical);
    }
    return ready;
  }

  // Declares fila.<logical> durable but without x-max-priority, as a
  // foreign tool might have.
  void DeclareWithoutPriority(const std::string& logical) {
    const std::string physical = "fila." + logical;
    amqp_queue_declare(state_, 1, amqp_cstring_bytes(physical.c_str()), /*passive=*/0,
                       /*durable=*/1, 0, 0, amqp_empty_table);
    Check("queue.declare " + physical);
  }

  // Declares fila.<logical> as fila did before it used x-max-priority 19.
  void DeclareWithPriorityTen(const std::string& logical) {
    const std::string physical = "fila." + logical;
    amqp_table_entry_t entries[2];
    entries[0].key = amqp_cstring_bytes("x-queue-type");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes("classic");
    entries[1].key = amqp_cstring_bytes("x-max-priority");
    entries[1].value.kind = AMQP_FIELD_KIND_I32;
    entries[1].value.value.i32 = 10;
    amqp_queue_declare(state_, 1, amqp_cstring_bytes(physical.c_str()), /*passive=*/0,
                       /*durable=*/1, 0, 0, amqp_table_t{2, entries});
    Check("queue.declare " + physical);
  }

  // Takes (gets and acks) every message of the shared queue "fila.dead"
  // whose x-fila-queue is `source_queue`, until at least `expected` were
  // found or `patience` ran out. Other tests' dead letters are held only for
  // one pass over the queue, then nacked back in place: never purged, and
  // never lost to a concurrent reader.
  std::vector<DeadLetterSeen> TakeDeadLetters(const std::string& source_queue, size_t expected,
                                              milliseconds patience = milliseconds(10000)) {
    std::vector<DeadLetterSeen> mine;
    const Deadline deadline = DeadlineIn(patience);
    for (;;) {
      uint64_t last_foreign = 0;
      for (;;) {
        amqp_rpc_reply_t reply =
            amqp_basic_get(state_, 1, amqp_cstring_bytes("fila.dead"), /*no_ack=*/0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL)
          throw std::runtime_error("admin connection: basic.get fila.dead failed");
        if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) break;
        const uint64_t tag = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded)->delivery_tag;
        amqp_message_t message;
        reply = amqp_read_message(state_, 1, &message, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL)
          throw std::runtime_error("admin connection: reading a dead letter failed");
        DeadLetterSeen seen;
        seen.body.assign(static_cast<const char*>(message.body.bytes), message.body.len);
        const amqp_basic_properties_t& properties = message.properties;
        if (properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
          seen.delivery_mode = properties.delivery_mode;
        std::optional<std::string> reason, queue;
        if (properties._flags & AMQP_BASIC_HEADERS_FLAG) {
          reason = StringHeader(properties.headers, "x-fila-reason");
          queue = StringHeader(properties.headers, "x-fila-queue");
        }
        seen.headers_are_strings = reason.has_value() && queue.has_value();
        seen.reason = reason.value_or("");
        seen.source_queue = queue.value_or("");
        amqp_destroy_message(&message);
        if (seen.source_queue == source_queue) {
          if (amqp_basic_ack(state_, 1, tag, /*multiple=*/0) != AMQP_STATUS_OK)
            throw std::runtime_error("admin connection: basic.ack failed");
          mine.push_back(std::move(seen));
        } else {
          last_foreign = tag;
        }
        amqp_maybe_release_buffers(state_);
      }
      // Every tag up to it that is still unacked is someone else's.
      if (last_foreign != 0 &&
          amqp_basic_nack(state_, 1, last_foreign, /*multiple=*/1, /*requeue=*/1) != AMQP_STATUS_OK)
        throw std::runtime_error("admin connection: basic.nack failed");
      if (mine.size() >= expected || SteadyClock::now() >= deadline) return mine;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  void Delete(const std::string& logical) {
    const std::string physical = "fila." + logical;
    amqp_queue_delete(state_, 1, amqp_cstring_bytes(physical.c_str()), 0, 0);
    Check("queue.delete " + physical);
  }

 private:
  void Check(const std::string& what) {
    if (amqp_get_rpc_reply(state_).reply_type != AMQP_RESPONSE_NORMAL) {
      throw std::runtime_error("admin connection: " + what + " failed");
    }
  }

  amqp_connection_state_t state_ = nullptr;
};

OutgoingMessage Msg(const std::string& queue, std::string body, uint8_t priority = 0) {
  return OutgoingMessage{
      .queue = queue, .body = std::move(body), .priority = priority, .message_id = RandomSuffix()};
}

class RabbitMq : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest gives these tests a stack of their own (FILA_TEST_STACK_DIR:
    // the reconnect test restarts its broker); the harness knows its URL.
    url_ = EnvOr("FILA_TEST_STACK_DIR", "").empty() ? EnvOr("FILA_AMQP_URL", "") : test::Stack().amqp_url;
    if (url_.empty()) GTEST_SKIP() << "FILA_AMQP_URL is not set: no RabbitMQ to test against";
    broker_ = MakeRabbitMqBroker(RabbitMqOptions{.url = url_});
    admin_ = std::make_unique<AdminConnection>(url_);
  }

  void TearDown() override {
    if (!admin_) return;
    for (const std::string& queue : queues_) {
      try {
        admin_->Delete(queue);
      } catch (const std::exception& error) {
        ADD_FAILURE() << "cleanup: " << error.what();
        return;  // the admin channel is closed now
      }
    }
  }

  // A queue name of this test only; deleted in TearDown.
  std::string NewQueue(const std::string& what) {
    queues_.push_back("test." + what + "." + RandomSuffix());
    return queues_.back();
  }

  void Publish(const std::vector<OutgoingMessage>& messages) {
    broker_->NewPublisher()->PublishConfirmed(messages, DeadlineIn(kPublishBudget));
  }

  std::string url_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<AdminConnection> admin_;
  std::vector<std::string> queues_;
};

TEST_F(RabbitMq, PublishConfirmedThenConsumeSameBodies) {
  const std::string queue = NewQueue("roundtrip");
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(Msg(queue, "body-" + std::to_string(i)));
  batch.push_back(Msg(queue, std::string("\0binary\xff\xfe", 10)));
  batch.push_back(Msg(queue, ""));
  batch.push_back(Msg(queue, std::string(300 * 1024, 'x')));  // spans several frames
  auto publisher = broker_->NewPublisher();
  publisher->PublishConfirmed(batch, DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(queue), batch.size()) << "confirmed means enqueued";

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 50);
  EXPECT_TRUE(consumer->Connected());
  for (size_t i = 0; i < batch.size(); ++i) {
    auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(delivery.has_value()) << "delivery " << i;
    EXPECT_EQ(delivery->body, batch[i].body) << "delivery " << i;
    EXPECT_EQ(delivery->queue, queue);
    EXPECT_FALSE(delivery->redelivered);
    consumer->Ack(delivery->epoch, delivery->tag);
  }
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(300))).has_value());
  consumer.reset();
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u) << "acked messages must not come back";

  // An empty batch only checks the connection.
  EXPECT_NO_THROW(publisher->PublishConfirmed({}, DeadlineIn(kPublishBudget)));
  // The same publisher, connection reused, and a second batch.
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "again")},
                              DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(queue), 1u);
}

TEST_F(RabbitMq, HigherPriorityOvertakesBacklog) {
  const std::string queue = NewQueue("priority");
  std::vector<OutgoingMessage> backlog;
  for (int i = 0; i < 50; ++i) backlog.push_back(Msg(queue, "low-" + std::to_string(i), 0));
  Publish(backlog);
  Publish({Msg(queue, "urgent", 9)});

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto first = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "urgent");
  consumer->Ack(first->epoch, first->tag);
  auto second = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "low-0");
}

OutgoingMessage Ahead(const std::string& queue, std::string body, uint8_t priority) {
  OutgoingMessage m = Msg(queue, std::move(body), priority);
  m.ahead = true;
  return m;
}

// Bodies of every delivery until one does not come within `wait`, acked.
std::vector<std::string> DrainBodies(Consumer& consumer, milliseconds wait = milliseconds(1000)) {
  std::vector<std::string> bodies;
  while (auto delivery = consumer.Next(DeadlineIn(wait))) {
    bodies.push_back(delivery->body);
    consumer.Ack(delivery->epoch, delivery->tag);
  }
  return bodies;
}

TEST_F(RabbitMq, AheadMessagesGoFirstWithinTheirPriorityAndNeverBeforeAHigherOne) {
  // A quiet tenant's task published after a window of another tenant's
  // (docs/fairness.md).
  const std::string queue = NewQueue("ahead");
  std::vector<OutgoingMessage> window;
  for (int i = 0; i < 30; ++i) window.push_back(Msg(queue, "a" + std::to_string(i), 3));
  Publish(window);
  Publish({Msg(queue, "top", 4), Ahead(queue, "b1", 3), Ahead(queue, "b-low", 2),
           Ahead(queue, "b2", 3)});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  const auto bodies = DrainBodies(*consumer);
  ASSERT_EQ(bodies.size(), 34u);
  EXPECT_EQ((std::vector<std::string>(bodies.begin(), bodies.begin() + 4)),
            (std::vector<std::string>{"top", "b1", "b2", "a0"}));
  EXPECT_EQ(bodies.back(), "b-low");
}

TEST_F(RabbitMq, AQueueDeclaredWithPriorityTenIsUsedAsItIsWithItsPrioritiesIntact) {
  // Declared by an earlier fila: declaring it with 19 would be refused. It
  // is kept, and a message goes with its priority alone: 9 must not become
  // 10 of 10 with 5 (2 x 5), nor ahead messages jump their priority's FIFO.
  const std::string queue = NewQueue("priority-ten");
  admin_->DeclareWithPriorityTen(queue);
  Publish({Msg(queue, "low", 0), Ahead(queue, "mid-ahead", 5), Msg(queue, "mid", 5),
           Ahead(queue, "low-ahead", 0), Msg(queue, "high", 9)});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  EXPECT_EQ(DrainBodies(*consumer),
            (std::vector<std::string>{"high", "mid-ahead", "mid", "low", "low-ahead"}));
}

TEST_F(RabbitMq, PrefetchCapsUnackedAcrossQueues) {
  const std::string a = NewQueue("prefetch-a");
  const std::string b = NewQueue("prefetch-b");
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(Msg(a, "a" + std::to_string(i)));
    batch.push_back(Msg(b, "b" + std::to_string(i)));
  }
  Publish(batch);

  auto consumer = broker_->NewConsumer();
  consumer->Start({a, b}, 3);
  std::vector<Delivery> held;
  while (auto delivery = consumer->Next(DeadlineIn(milliseconds(1000)))) held.push_back(*delivery);
  ASSERT_EQ(held.size(), 3u) << "prefetch 3 is one cap for both queues together";
  EXPECT_EQ(admin_->Ready(a) + admin_->Ready(b), 7u);

  consumer->Ack(held[0].epoch, held[0].tag);
  auto fourth = consumer->Next(DeadlineIn(milliseconds(5000)));
  EXPECT_TRUE(fourth.has_value()) << "an ack frees one slot";
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value());
}

// A worker's express lanes have a prefetch of their own (docs/fairness.md):
// with the queue's prefetch all taken, the lane's message is still
// delivered, and the lane's prefetch caps the lane. Classic queues (a limit
// per consumer under the channel's) and quorum ones (limits per consumer
// only).
TEST_F(RabbitMq, AnExpressLaneIsDeliveredWhileTheQueuesPrefetchIsTaken) {
  auto quorum = MakeRabbitMqBroker(
      RabbitMqOptions{.url = url_, .queue_type = RabbitMqQueueType::kQuorum});
  for (Broker* broker : {broker_.get(), quorum.get()}) {
    const std::string what = broker == quorum.get() ? "quorum" : "classic";
    const std::string queue = NewQueue("lane-" + what);
    const std::string lane = ExpressLane(queue);
    queues_.push_back(lane);
    auto publisher = broker->NewPublisher();
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < 4; ++i) batch.push_back(Msg(queue, "q" + std::to_string(i)));
    publisher->PublishConfirmed(batch, DeadlineIn(kPublishBudget));
    auto consumer = broker->NewConsumer();
    consumer->StartWithLanes({queue}, 2, {lane}, 1);
    std::vector<Delivery> held;
    while (auto d = consumer->Next(DeadlineIn(milliseconds(1000)))) held.push_back(*d);
    ASSERT_EQ(held.size(), 2u) << what << ": the queue's prefetch is 2";
    publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(lane, "x1"), Msg(lane, "x2")},
                                DeadlineIn(kPublishBudget));
    auto express = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(express.has_value()) << what << ": the lane waits for no slot of the queue";
    EXPECT_EQ(express->body, "x1");
    EXPECT_EQ(express->queue, lane);
    EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value())
        << what << ": the lane's prefetch is 1";
    consumer->Ack(express->epoch, express->tag);
    auto second = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(second.has_value()) << what << ": an ack frees the lane's slot";
    EXPECT_EQ(second->body, "x2");
    EXPECT_EQ(admin_->Ready(queue), 2u) << what << ": the queue's slots are still taken";
    // The lane's consumers are the express slots: the relay counts them.
    auto other = broker->NewConsumer();
    other->StartWithLanes({}, 0, {lane}, 3);
    EXPECT_EQ(publisher->CountQueue(lane, DeadlineIn(kPublishBudget)).consumers, 4u) << what;
  }
}

TEST_F(RabbitMq, UnackedAreRedeliveredAfterConsumerIsDestroyed) {
  const std::string queue = NewQueue("redeliver");
  Publish({Msg(queue, "one"), Msg(queue, "two"), Msg(queue, "three")});
  {
    auto consumer = broker_->NewConsumer();
    consumer->Start({queue}, 10);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(consumer->Next(DeadlineIn(milliseconds(5000))).has_value());
  }
  EXPECT_EQ(admin_->AwaitReady(queue, 3), 3u);

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 10);
  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(delivery.has_value());
    EXPECT_TRUE(delivery->redelivered);
    bodies.push_back(delivery->body);
    consumer->Ack(delivery->epoch, delivery->tag);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"one", "two", "three"}));
}

// AckMany sends one `multiple` ack for the settled prefix and single acks
// after a gap: the unacked message in the gap must stay unacked (it comes
// back after the consumer goes), and none of the acked ones may.
TEST_F(RabbitMq, AckManyNeverCoversAnOutstandingDelivery) {
  const std::string queue = NewQueue("ackmany");
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 8; ++i) batch.push_back(Msg(queue, "m" + std::to_string(i)));
  Publish(batch);
  {
    auto consumer = broker_->NewConsumer();
    consumer->Start({queue}, 8);
    std::vector<Delivery> held;
    for (int i = 0; i < 8; ++i) {
      auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
      ASSERT_TRUE(delivery.has_value()) << "delivery " << i;
      held.push_back(*delivery);
    }
    // m2 finishes first, on its own; then the rest, out of order and one
    // twice, while m3 and m6 keep running. The `multiple` must stop at m1:
    // naming m2 (acked already) would make the broker close the channel.
    consumer->Ack(held[2].epoch, held[2].tag);
    std::vector<uint64_t> tags{held[5].tag, held[0].tag, held[1].tag,
                               held[7].tag, held[4].tag, held[0].tag};
    consumer->AckMany(held[0].epoch, tags);
    consumer->Reject(held[6].epoch, held[6].tag, /*requeue=*/true);
    auto again = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->body, "m6") << "only the rejected one comes back while we hold m3";
    EXPECT_TRUE(consumer->Connected()) << "a repeated tag must not reach the broker";
    consumer->AckMany(again->epoch, std::vector<uint64_t>{again->tag});
    EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(300))).has_value());
  }
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 8);
  auto back = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->body, "m3");
  EXPECT_TRUE(back->redelivered);
  consumer->Ack(back->epoch, back->tag);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value());
}

TEST_F(RabbitMq, RejectRequeuesOrDrops) {
  const std::string queue = NewQueue("reject");
  Publish({Msg(queue, "keep"), Msg(queue, "drop")});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 2);
  auto keep = consumer->Next(DeadlineIn(milliseconds(5000)));
  auto drop = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(keep.has_value());
  ASSERT_TRUE(drop.has_value());
  consumer->Reject(drop->epoch, drop->tag, /*requeue=*/false);
  consumer->Reject(keep->epoch, keep->tag, /*requeue=*/true);
  auto again = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "keep");
  EXPECT_TRUE(again->redelivered);
  consumer->Ack(again->epoch, again->tag);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(300))).has_value());
  EXPECT_TRUE(consumer->Connected());
}

TEST_F(RabbitMq, StopEndsDeliveriesAndUnackedStayAckable) {
  const std::string queue = NewQueue("stop");
  Publish({Msg(queue, "a"), Msg(queue, "b"), Msg(queue, "c")});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto held = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(held.has_value());
  consumer->Stop();
  EXPECT_FALSE(consumer->Connected());
  consumer->Ack(held->epoch, held->tag);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value());
  EXPECT_EQ(admin_->AwaitReady(queue, 2), 2u) << "the ack went through and nothing else was taken";
}

// The worker's hand-back: paused, a rejected delivery goes to another
// consumer, not back to this one; resumed, it consumes again.
TEST_F(RabbitMq, AStoppedConsumersRejectGoesToAnotherAndResumeConsumesAgain) {
  const std::string queue = NewQueue("resume");
  Publish({Msg(queue, "a")});
  auto first = broker_->NewConsumer();
  first->Start({queue}, 1);
  auto held = first->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(held.has_value());
  auto other = broker_->NewConsumer();
  other->Start({queue}, 1);
  first->Stop();
  first->Reject(held->epoch, held->tag, /*requeue=*/true);
  auto elsewhere = other->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(elsewhere.has_value());
  EXPECT_EQ(elsewhere->body, "a");
  other.reset();  // unacked: back to the queue
  EXPECT_FALSE(first->Next(DeadlineIn(milliseconds(300))).has_value()) << "still stopped";
  first->Resume();
  EXPECT_TRUE(first->Connected());
  auto again = first->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "a");
  first->Ack(again->epoch, again->tag);
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u);
}

TEST_F(RabbitMq, WakeupFromAnotherThreadInterruptsNext) {
  const std::string queue = NewQueue("wakeup");
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  std::atomic<bool> connected_seen{false};
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(200));
    connected_seen = consumer->Connected();
    consumer->Wakeup();
  });
  const auto started = SteadyClock::now();
  auto delivery = consumer->Next(DeadlineIn(milliseconds(30000)));
  const auto waited = SteadyClock::now() - started;
  waker.join();
  EXPECT_FALSE(delivery.has_value());
  EXPECT_LT(waited, milliseconds(2000));
  EXPECT_TRUE(connected_seen);

  // The consumer still works after a wakeup.
  Publish({Msg(queue, "after")});
  auto after = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "after");
}

TEST_F(RabbitMq, IdleConnectionsSurviveHeartbeats) {
  const std::string queue = NewQueue("heartbeat");
  auto broker = MakeRabbitMqBroker(RabbitMqOptions{.url = url_, .heartbeat = seconds(1)});
  auto publisher = broker->NewPublisher();
  auto consumer = broker->NewConsumer();
  consumer->Start({queue}, 5);
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "before")},
                              DeadlineIn(kPublishBudget));
  auto before = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(before.has_value());

  // Idle for several heartbeat periods: the consumer must keep sending
  // heartbeats from inside Next() so the broker does not drop it.
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(4500))).has_value());
  EXPECT_TRUE(consumer->Connected());

  // The idle publisher must not fail its next batch either.
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "after")},
                              DeadlineIn(kPublishBudget));
  auto after = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "after");
  EXPECT_EQ(after->epoch, before->epoch) << "no reconnect happened";
  consumer->Ack(before->epoch, before->tag);
  consumer->Ack(after->epoch, after->tag);
}

TEST_F(RabbitMq, DeclaringAnExistingQueueIsIdempotent) {
  const std::string queue = NewQueue("idempotent");
  auto first = broker_->NewConsumer();
  first->Start({queue}, 1);
  auto second = broker_->NewConsumer();
  second->Start({queue}, 1);  // declares again with the same arguments
  Publish({Msg(queue, "x")});
  Publish({Msg(queue, "y")});
  EXPECT_TRUE(first->Connected());
  EXPECT_TRUE(second->Connected());
}

// Deleted under a publisher that declared it, a queue routes nothing: the
// mandatory publishes come back, and the publisher declares the queue again
// and publishes them again before it reports them confirmed.
TEST_F(RabbitMq, PublishingToADeletedQueueDeclaresItAgain) {
  const std::string queue = NewQueue("deleted");
  const std::string other = NewQueue("intact");
  auto publisher = broker_->NewPublisher();
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "lost"), Msg(other, "o1")},
                              DeadlineIn(kPublishBudget));
  admin_->Delete(queue);
  publisher->PublishConfirmed(
      std::vector<OutgoingMessage>{Msg(queue, "low"), Msg(other, "o2"), Msg(queue, "high", 7)},
      DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(queue), 2u) << "confirmed means enqueued";
  EXPECT_EQ(admin_->Ready(other), 2u) << "each message once";

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 10);
  for (const char* body : {"high", "low"}) {  // its priority came back with it
    auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(delivery.has_value());
    EXPECT_EQ(delivery->body, body);
    consumer->Ack(delivery->epoch, delivery->tag);
  }
}

// Pipelined: several batches in flight on the one channel, each confirmed
// once all of its messages are, in the order the broker answers.
TEST_F(RabbitMq, PipelinedBatchesAreEachConfirmedOnce) {
  const std::string queue = NewQueue("pipelined");
  auto publisher = broker_->NewPublisher();
  std::set<uint64_t> tickets;
  size_t sent = 0;
  for (int b = 0; b < 6; ++b) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < 200; ++i) batch.push_back(Msg(queue, std::to_string(b) + "-" + std::to_string(i)));
    tickets.insert(publisher->PublishAsync(batch, DeadlineIn(kPublishBudget)));
    sent += batch.size();
  }
  EXPECT_EQ(tickets.size(), 6u) << "a ticket per batch";
  EXPECT_EQ(publisher->InFlight(), 6u);
  std::set<uint64_t> confirmed;
  const Deadline give_up = DeadlineIn(kPublishBudget);
  while (publisher->InFlight() > 0 && SteadyClock::now() < give_up) {
    for (const PublishOutcome& outcome : publisher->CollectConfirms(give_up)) {
      EXPECT_TRUE(outcome.confirmed) << outcome.error;
      EXPECT_TRUE(confirmed.insert(outcome.ticket).second) << "reported twice";
    }
  }
  EXPECT_EQ(confirmed, tickets);
  EXPECT_EQ(admin_->Ready(queue), sent) << "confirmed means enqueued";
  EXPECT_TRUE(publisher->CollectConfirms(DeadlineIn(milliseconds(10))).empty());
  // PublishConfirmed still works on the same connection.
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "sync")},
                              DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(queue), sent + 1);
}

// A queue deleted under batches in flight: their unroutable messages come
// back, are published again after the queue is declared again, and only
// then is their batch confirmed; a batch for another queue is unaffected.
TEST_F(RabbitMq, PipelinedBatchesToADeletedQueueAreSentAgainWithinTheirBatch) {
  const std::string queue = NewQueue("pipe-deleted");
  const std::string other = NewQueue("pipe-intact");
  auto publisher = broker_->NewPublisher();
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "first"), Msg(other, "o")},
                              DeadlineIn(kPublishBudget));
  admin_->Delete(queue);
  std::vector<OutgoingMessage> a{Msg(queue, "a1"), Msg(other, "a2"), Msg(queue, "a3", 5)};
  std::vector<OutgoingMessage> b{Msg(other, "b1")};
  std::vector<OutgoingMessage> c{Msg(queue, "c1"), Msg(queue, "c2")};
  std::set<uint64_t> tickets;
  for (const auto* batch : {&a, &b, &c})
    tickets.insert(publisher->PublishAsync(*batch, DeadlineIn(kPublishBudget)));
  std::set<uint64_t> confirmed;
  const Deadline give_up = DeadlineIn(kPublishBudget);
  while (publisher->InFlight() > 0 && SteadyClock::now() < give_up) {
    for (const PublishOutcome& outcome : publisher->CollectConfirms(give_up)) {
      EXPECT_TRUE(outcome.confirmed) << outcome.error;
      confirmed.insert(outcome.ticket);
    }
  }
  EXPECT_EQ(confirmed, tickets);
  EXPECT_EQ(admin_->Ready(queue), 4u) << "a1, a3, c1, c2: each once, none lost";
  EXPECT_EQ(admin_->Ready(other), 3u);
}

TEST_F(RabbitMq, CountQueueCountsReadyMessagesAndConsumersAndDeclaresAMissingQueue) {
  const std::string queue = NewQueue("counted");
  auto publisher = broker_->NewPublisher();
  const auto count = [&] { return publisher->CountQueue(queue, DeadlineIn(kPublishBudget)); };
  EXPECT_EQ(count().ready, 0u);
  EXPECT_EQ(admin_->Ready(queue), 0u) << "declared by CountQueue";
  publisher->PublishConfirmed(
      std::vector<OutgoingMessage>{Msg(queue, "a"), Msg(queue, "b"), Msg(queue, "c")},
      DeadlineIn(kPublishBudget));
  EXPECT_EQ(count().ready, 3u);
  EXPECT_EQ(count().consumers, 0u);

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(delivery.has_value());
  const QueueCounts consumed = count();
  EXPECT_EQ(consumed.ready, 2u) << "unacked is not ready";
  EXPECT_EQ(consumed.consumers, 1u);
  consumer.reset();

  admin_->Delete(queue);
  EXPECT_EQ(count().ready, 0u);
  EXPECT_EQ(admin_->Ready(queue), 0u) << "declared again";
}

TEST_F(RabbitMq, QueueDeclaredWithOtherArgumentsFailsWithTheBrokersReason) {
  const std::string queue = NewQueue("mismatch");
  admin_->DeclareWithoutPriority(queue);
  auto publisher = broker_->NewPublisher();
  try {
    publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "x")},
                                DeadlineIn(kPublishBudget));
    ADD_FAILURE() << "expected TransientError";
  } catch (const TransientError& error) {
    EXPECT_NE(std::string(error.what()).find("PRECONDITION_FAILED"), std::string::npos)
        << error.what();
  }
  auto consumer = broker_->NewConsumer();
  EXPECT_THROW(consumer->Start({queue}, 1), TransientError);
  EXPECT_FALSE(consumer->Connected());
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(200))).has_value());

  // Other queues are unaffected on a fresh attempt of the same publisher.
  const std::string fine = NewQueue("fine");
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(fine, "y")},
                              DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(fine), 1u);
}

// What an operator sees when the queue has the other type, in either
// direction: the broker's reason and the setting that decides it.
void ExpectTypeMismatch(Publisher& publisher, const std::string& queue, const char* ours) {
  try {
    publisher.PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "x")},
                               DeadlineIn(kPublishBudget));
    ADD_FAILURE() << "expected TransientError";
  } catch (const TransientError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("PRECONDITION_FAILED"), std::string::npos) << what;
    EXPECT_NE(what.find(std::string("FILA_QUEUE_TYPE=") + ours), std::string::npos) << what;
    EXPECT_NE(what.find("rabbitmqctl delete_queue fila." + queue), std::string::npos) << what;
  }
}

TEST_F(RabbitMq, QuorumQueuesHaveNoPriorityAndAClassicQueueIsRefusedClearly) {
  auto quorum = MakeRabbitMqBroker(
      RabbitMqOptions{.url = url_, .queue_type = RabbitMqQueueType::kQuorum});
  auto quorum_publisher = quorum->NewPublisher();
  // Declared without x-max-priority (RabbitMQ refuses it on a new quorum
  // queue); a message's priority is accepted and ignored.
  const std::string queue = NewQueue("quorum");
  quorum_publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "q", 9)},
                                     DeadlineIn(kPublishBudget));
  EXPECT_EQ(admin_->Ready(queue), 1u);
  auto classic_publisher = broker_->NewPublisher();
  ExpectTypeMismatch(*classic_publisher, queue, "classic");

  const std::string classic = NewQueue("classic");
  Publish({Msg(classic, "c")});
  ExpectTypeMismatch(*quorum_publisher, classic, "quorum");

  // A quorum consumer: fila.dead exists as a classic queue (the classic
  // consumer makes sure), and is kept as it is rather than stopping it.
  broker_->NewConsumer()->Start({classic}, 1);
  auto consumer = quorum->NewConsumer();
  consumer->Start({queue}, 4);
  EXPECT_TRUE(consumer->Connected());
  auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->body, "q");
  consumer->Ack(delivery->epoch, delivery->tag);
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u);
}

// A cluster's URL whose first node is down: every client, whichever node it
// tries first, ends up on the live one.
TEST_F(RabbitMq, NodeListSkipsANodeThatIsDown) {
  // On url_'s virtual host: every node of a list must name the same one.
  const size_t path = url_.find('/', url_.find("://") + 3);
  const std::string dead = "amqp://guest:guest@127.0.0.1:" + std::to_string(UnusedPort()) +
                           (path == std::string::npos ? "/" : url_.substr(path));
  auto broker = MakeRabbitMqBroker(
      RabbitMqOptions{.url = dead + "," + url_, .connect_timeout = milliseconds(3000)});
  const std::string queue = NewQueue("nodes");
  for (int i = 0; i < 4; ++i) {
    broker->NewPublisher()->PublishConfirmed(
        std::vector<OutgoingMessage>{Msg(queue, "m" + std::to_string(i))},
        DeadlineIn(kPublishBudget));
  }
  EXPECT_EQ(admin_->Ready(queue), 4u);
  for (int i = 0; i < 2; ++i) {
    auto consumer = broker->NewConsumer();
    consumer->Start({queue}, 1);
    EXPECT_TRUE(consumer->Connected());
    auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(delivery.has_value());
    consumer->Ack(delivery->epoch, delivery->tag);
  }
  EXPECT_EQ(admin_->AwaitReady(queue, 2), 2u);
}

// Restarts the broker (FILA_TEST_RMQ_RESTART_CMD) under a consumer holding
// an unacked delivery and an idle publisher.
TEST_F(RabbitMq, ReconnectsAfterBrokerRestart) {
  const std::string restart = EnvOr("FILA_TEST_RMQ_RESTART_CMD", "");
  if (restart.empty()) GTEST_SKIP() << "FILA_TEST_RMQ_RESTART_CMD is not set";
  const std::string queue = NewQueue("restart");
  auto publisher = broker_->NewPublisher();
  publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "survivor")},
                              DeadlineIn(kPublishBudget));
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto held = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(held.has_value());

  admin_.reset();  // its connection dies with the broker
  ASSERT_EQ(std::system(restart.c_str()), 0) << restart;

  // Next() never throws; it reconnects with backoff and starts a new epoch.
  std::optional<Delivery> redelivered;
  const Deadline give_up = DeadlineIn(milliseconds(60000));
  while (!redelivered && SteadyClock::now() < give_up)
    redelivered = consumer->Next(DeadlineIn(milliseconds(500)));
  ASSERT_TRUE(redelivered.has_value()) << "no delivery within 60 s of the restart";
  EXPECT_EQ(redelivered->body, "survivor");
  EXPECT_TRUE(redelivered->redelivered);
  EXPECT_GT(redelivered->epoch, held->epoch);
  EXPECT_TRUE(consumer->Connected());
  consumer->Ack(held->epoch, held->tag);  // stale: ignored, must not break the channel
  consumer->Ack(redelivered->epoch, redelivered->tag);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value());
  EXPECT_TRUE(consumer->Connected());

  // The publisher's old connection is dead: at most a TransientError, then
  // it works again.
  bool published = false;
  int transient_errors = 0;
  while (!published && SteadyClock::now() < give_up) {
    try {
      publisher->PublishConfirmed(std::vector<OutgoingMessage>{Msg(queue, "fresh")},
                                  DeadlineIn(kPublishBudget));
      published = true;
    } catch (const TransientError&) {
      ++transient_errors;
    }
  }
  EXPECT_TRUE(published);
  EXPECT_LE(transient_errors, 1);
  auto fresh = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->body, "fresh");
  consumer->Ack(fresh->epoch, fresh->tag);
  admin_ = std::make_unique<AdminConnection>(url_);  // for TearDown
}

// Bodies of the dead-letter tests carry a unique prefix and their number.
int IndexOf(const std::string& body, const std::string& prefix) {
  if (body.compare(0, prefix.size(), prefix) != 0) return -1;
  return std::stoi(body.substr(prefix.size()));
}

std::string ReasonFor(int index) { return "poison #" + std::to_string(index) + ": bad payload"; }

// Dead-letters every other message while deliveries keep arriving: the
// confirm of each dead-letter publish is awaited on the same connection
// that receives them, and none may be lost, duplicated or reordered into
// a redelivery.
TEST_F(RabbitMq, DeadLetterWhileDeliveriesAreInFlight) {
  const std::string queue = NewQueue("dead-letter");
  const std::string prefix = "dl-" + RandomSuffix() + "-";
  constexpr int kCount = 200;
  std::vector<OutgoingMessage> batch;
  std::map<int, std::string> body_of;
  for (int i = 0; i < kCount; ++i) {
    std::string body = prefix + std::to_string(i) + ";";
    // Some deliveries span several frames, so that one may be half read
    // when a confirm arrives.
    if (i % 7 == 3) body += std::string(150 * 1024 + i, static_cast<char>('a' + i % 26));
    body_of[i] = body;
    batch.push_back(Msg(queue, std::move(body)));
  }
  Publish(batch);

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 50);
  std::map<int, int> times_seen;
  std::deque<Delivery> unsettled;  // keeps deliveries in flight meanwhile
  uint64_t epoch = 0;
  int dead_lettered = 0;
  auto settle = [&](const Delivery& delivery) {
    const int index = IndexOf(delivery.body, prefix);
    if (index % 2 == 0) {
      consumer->DeadLetter(delivery, ReasonFor(index));
      ++dead_lettered;
    } else {
      consumer->Ack(delivery.epoch, delivery.tag);
    }
  };
  int received = 0;
  while (received < kCount) {
    auto delivery = consumer->Next(DeadlineIn(milliseconds(10000)));
    ASSERT_TRUE(delivery.has_value()) << "only " << received << " of " << kCount << " delivered";
    ++received;
    const int index = IndexOf(delivery->body, prefix);
    ASSERT_GE(index, 0) << "foreign body of " << delivery->body.size() << " bytes";
    ASSERT_LT(index, kCount);
    EXPECT_EQ(delivery->body, body_of[index]) << "delivery " << index << " corrupted";
    EXPECT_EQ(delivery->queue, queue);
    EXPECT_FALSE(delivery->redelivered) << "delivery " << index;
    if (epoch == 0) epoch = delivery->epoch;
    ASSERT_EQ(delivery->epoch, epoch) << "the consumer reconnected: something failed";
    ++times_seen[index];
    unsettled.push_back(std::move(*delivery));
    // Settle in bursts, lagging behind: several dead letters in a row
    // while up to 50 deliveries are unacked and more stream in.
    if (unsettled.size() >= 25) {
      while (unsettled.size() > 5) {
        settle(unsettled.front());
        unsettled.pop_front();
      }
    }
  }
  while (!unsettled.empty()) {
    settle(unsettled.front());
    unsettled.pop_front();
  }
  EXPECT_EQ(dead_lettered, kCount / 2);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(500))).has_value())
      << "no duplicates, no redeliveries";
  EXPECT_TRUE(consumer->Connected());
  EXPECT_EQ(times_seen.size(), static_cast<size_t>(kCount));
  for (const auto& [index, times] : times_seen) EXPECT_EQ(times, 1) << "message " << index;
  EXPECT_EQ(admin_->Ready(queue), 0u);
  consumer.reset();
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u) << "everything was acked, nothing comes back";

  std::vector<DeadLetterSeen> letters = admin_->TakeDeadLetters(queue, kCount / 2);
  std::set<int> dead;
  for (const DeadLetterSeen& letter : letters) {
    const int index = IndexOf(letter.body, prefix);
    ASSERT_GE(index, 0);
    EXPECT_EQ(index % 2, 0) << "acked message " << index << " was dead-lettered";
    EXPECT_TRUE(dead.insert(index).second) << "message " << index << " dead-lettered twice";
    EXPECT_EQ(letter.body, body_of[index]);
    EXPECT_TRUE(letter.headers_are_strings);
    EXPECT_EQ(letter.reason, ReasonFor(index));
    EXPECT_EQ(letter.source_queue, queue);
    EXPECT_EQ(letter.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  }
  EXPECT_EQ(dead.size(), static_cast<size_t>(kCount / 2));
}

TEST_F(RabbitMq, DeadLetterKeepsALargeBodyIntact) {
  const std::string queue = NewQueue("dead-large");
  std::string large(300 * 1024, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 131 + 7) % 256);
  Publish({Msg(queue, "small-before"), Msg(queue, large), Msg(queue, "small-after")});

  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 3);
  std::vector<Delivery> deliveries;
  for (int i = 0; i < 3; ++i) {
    auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
    ASSERT_TRUE(delivery.has_value());
    deliveries.push_back(*delivery);
  }
  ASSERT_EQ(deliveries[1].body, large);
  consumer->DeadLetter(deliveries[1], "too big to handle");
  consumer->Ack(deliveries[0].epoch, deliveries[0].tag);
  consumer->Ack(deliveries[2].epoch, deliveries[2].tag);
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(300))).has_value());
  EXPECT_TRUE(consumer->Connected());
  consumer.reset();
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u);

  auto letters = admin_->TakeDeadLetters(queue, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].body.size(), large.size());
  EXPECT_TRUE(letters[0].body == large) << "dead-lettered body differs";
  EXPECT_EQ(letters[0].reason, "too big to handle");
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2
                                  : lead >= 0xE0 && lead <= 0xEF ? 3
                                  : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                                 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

TEST_F(RabbitMq, DeadLetterReasonIsCutToValidUtf8) {
  const std::string queue = NewQueue("dead-reason");
  Publish({Msg(queue, "long-reason"), Msg(queue, "bad-bytes")});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 2);
  auto first = consumer->Next(DeadlineIn(milliseconds(5000)));
  auto second = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  // 5000 bytes of two-byte characters after one ASCII byte: every cut at an
  // even byte count would split a character.
  std::string long_reason = "x";
  for (int i = 0; i < 2500; ++i) long_reason += "\xC3\xA9";  // é
  consumer->DeadLetter(*first, long_reason);
  consumer->DeadLetter(*second, std::string("bad \xFF\xC3 bytes\0end", 16));
  EXPECT_TRUE(consumer->Connected());

  auto letters = admin_->TakeDeadLetters(queue, 2);
  ASSERT_EQ(letters.size(), 2u);
  for (const DeadLetterSeen& letter : letters) {
    EXPECT_TRUE(IsValidUtf8(letter.reason)) << letter.body;
    EXPECT_LE(letter.reason.size(), 1000u) << letter.body;
    if (letter.body == "long-reason") {
      EXPECT_GE(letter.reason.size(), 990u);
      EXPECT_EQ(letter.reason.compare(0, 3, "x\xC3\xA9"), 0);
      EXPECT_EQ(letter.reason.substr(letter.reason.size() - 3), "...");
    } else {
      EXPECT_EQ(letter.reason, std::string("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes\0end", 20));
    }
  }
}

TEST_F(RabbitMq, DeadLetterOfAStaleEpochIsIgnored) {
  const std::string queue = NewQueue("dead-stale");
  Publish({Msg(queue, "poison")});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto again = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(again.has_value());
  // The same delivery as an older connection's (the epoch before) would
  // carry it: its tag means nothing on this channel.
  Delivery old = *again;
  old.epoch = again->epoch - 1;
  // An unknown tag never reaches the broker (it would close the channel).
  consumer->Ack(again->epoch, again->tag + 1000);

  consumer->DeadLetter(old, "stale");  // ignored: publishes nothing, acks nothing
  EXPECT_EQ(admin_->TakeDeadLetters(queue, 1, milliseconds(300)).size(), 0u);
  EXPECT_TRUE(consumer->Connected());
  EXPECT_EQ(admin_->Ready(queue), 0u) << "still held by the consumer";

  consumer->DeadLetter(*again, "current");
  consumer.reset();
  EXPECT_EQ(admin_->AwaitReady(queue, 0), 0u);
  auto letters = admin_->TakeDeadLetters(queue, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "current");
}

// "dead" is an ordinary logical queue: a consumer of it declares fila.dead
// with the same arguments as the dead-letter topology (no
// PRECONDITION_FAILED) and receives dead letters.
TEST_F(RabbitMq, DeadQueueCanBeConsumedByAnOrdinaryConsumer) {
  const std::string queue = NewQueue("dead-consume");
  const std::string body = "to-the-dead-" + RandomSuffix();
  Publish({Msg(queue, body)});
  auto consumer = broker_->NewConsumer();
  consumer->Start({queue}, 1);
  auto delivery = consumer->Next(DeadlineIn(milliseconds(5000)));
  ASSERT_TRUE(delivery.has_value());
  consumer->DeadLetter(*delivery, "reason");

  // Other tests' dead letters may be in the shared queue. Without a
  // prefetch limit they all arrive; those stay unacked and go back when
  // this consumer closes.
  auto dead = broker_->NewConsumer();
  ASSERT_NO_THROW(dead->Start({"dead"}, 0));
  EXPECT_TRUE(dead->Connected());
  bool found = false;
  const Deadline give_up = DeadlineIn(milliseconds(10000));
  while (!found && SteadyClock::now() < give_up) {
    auto letter = dead->Next(DeadlineIn(milliseconds(1000)));
    if (!letter) continue;
    EXPECT_EQ(letter->queue, "dead");
    if (letter->body == body) {
      found = true;
      dead->Ack(letter->epoch, letter->tag);
    }
  }
  EXPECT_TRUE(found);
}

TEST(RabbitMqOffline, BadUrlIsPermanentError) {
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = "http://localhost:5672/"}),
               PermanentError);
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = "amqp://localhost:notaport/"}),
               PermanentError);
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = ""}), PermanentError);
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = "amqp://h1/,,amqp://h2/"}),
               PermanentError);
  try {
    MakeRabbitMqBroker(
        RabbitMqOptions{.url = "amqp://user:s3cret@h1/,amqp://user:s3cret@localhost:port/"});
    ADD_FAILURE() << "expected PermanentError";
  } catch (const PermanentError& error) {
    EXPECT_EQ(std::string(error.what()).find("s3cret"), std::string::npos)
        << "password leaked: " << error.what();
  }
}

TEST(RabbitMqOffline, UnreachablePortIsTransientAndNextWaitsOutItsDeadline) {
  const std::string url = "amqp://guest:guest@127.0.0.1:" + std::to_string(UnusedPort()) + "/";
  // Making the broker and its clients does not connect.
  auto broker =
      MakeRabbitMqBroker(RabbitMqOptions{.url = url, .connect_timeout = milliseconds(1000)});
  auto publisher = broker->NewPublisher();
  auto consumer = broker->NewConsumer();

  std::vector<OutgoingMessage> batch{Msg("unreachable", "x")};
  EXPECT_THROW(publisher->PublishConfirmed(batch, DeadlineIn(milliseconds(2000))), TransientError);
  // An empty batch is the reachability check and fails the same way.
  EXPECT_THROW(publisher->PublishConfirmed({}, DeadlineIn(milliseconds(2000))), TransientError);
  EXPECT_THROW(consumer->Start({"unreachable"}, 1), TransientError);
  EXPECT_FALSE(consumer->Connected());

  for (int i = 0; i < 3; ++i) {
    const auto started = SteadyClock::now();
    std::optional<Delivery> delivery;
    EXPECT_NO_THROW(delivery = consumer->Next(DeadlineIn(milliseconds(300))));
    const auto waited = SteadyClock::now() - started;
    EXPECT_FALSE(delivery.has_value());
    EXPECT_GE(waited, milliseconds(290));
    EXPECT_LT(waited, milliseconds(1500));
  }
  EXPECT_FALSE(consumer->Connected());
  // A second publish backs off or retries, and fails the same way.
  EXPECT_THROW(publisher->PublishConfirmed(batch, DeadlineIn(milliseconds(2000))), TransientError);
}

TEST(RabbitMqOffline, EveryNodeDownIsTransientAndNamesEachNode) {
  const std::string first = std::to_string(UnusedPort());
  const std::string second = std::to_string(UnusedPort());
  auto broker = MakeRabbitMqBroker(
      RabbitMqOptions{.url = "amqp://u:s3cret@127.0.0.1:" + first + ",127.0.0.1:" + second + "/",
                      .connect_timeout = milliseconds(1000)});
  try {
    broker->NewPublisher()->PublishConfirmed({}, DeadlineIn(milliseconds(2000)));
    ADD_FAILURE() << "expected TransientError";
  } catch (const TransientError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("no node of 2"), std::string::npos) << what;
    EXPECT_NE(what.find(":" + first + "/"), std::string::npos) << what;
    EXPECT_NE(what.find(":" + second + "/"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace fila
