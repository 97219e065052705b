// Against a real RabbitMQ: set FILA_AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672/).
// Without it the tests that need a broker are skipped; the offline ones
// (bad URL, unreachable port) always run.
// Optional: FILA_TEST_RMQ_RESTART_CMD, a shell command that restarts that
// broker, enables the reconnect test.

#include "fila/rabbitmq_broker.h"

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
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fila/config.h"
#include "fila/errors.h"

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

// Raw rabbitmq-c for what the adapter deliberately does not offer: counting
// and deleting the test's own queues.
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
    url_ = EnvOr("FILA_AMQP_URL", "");
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

TEST(RabbitMqOffline, BadUrlIsPermanentError) {
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = "http://localhost:5672/"}),
               PermanentError);
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = "amqp://localhost:notaport/"}),
               PermanentError);
  EXPECT_THROW(MakeRabbitMqBroker(RabbitMqOptions{.url = ""}), PermanentError);
  try {
    MakeRabbitMqBroker(RabbitMqOptions{.url = "amqp://user:s3cret@localhost:port/"});
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

}  // namespace
}  // namespace fila
