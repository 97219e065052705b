// AMQP ingest: a producer publishes EnqueueRequests to fila.ingest with
// reply_to and correlation_id; a real fila-scheduler enqueues them in
// PostgreSQL and answers with EnqueueResponses.
//
// fila.ingest is one queue for every scheduler on the stack: each test stops
// its scheduler before it ends, uses fresh correlation ids and keys, and
// looks only at its own answers and rows (a scheduler may also take a
// leftover request of an earlier test).
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "fila/v1/payloads.pb.h"
#include "fila/v1/task.pb.h"
#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::TestDatabase;

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

struct ReplySeen {
  std::string content_type;
  std::string body;
};

// A producer on raw rabbitmq-c, as a non-fila AMQP client would be: one
// connection, a private reply queue, publishes and reads answers.
class Producer final {
 public:
  explicit Producer(const std::string& url) {
    std::string scratch = url;
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(scratch.data(), &info) != AMQP_STATUS_OK)
      throw std::runtime_error("bad FILA_AMQP_URL");
    state_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    timeval timeout{5, 0};
    if (amqp_socket_open_noblock(socket, info.host, info.port, &timeout) != AMQP_STATUS_OK)
      throw std::runtime_error("producer: cannot connect");
    const char* vhost = *info.vhost != '\0' ? info.vhost : "/";
    amqp_rpc_reply_t reply =
        amqp_login(state_, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("producer: login failed");
    amqp_set_rpc_timeout(state_, &timeout);
    amqp_channel_open(state_, 1);
    Check("channel.open");

    // The topology the adapter declares (same arguments, so idempotent):
    // requests published before a scheduler subscribed wait in the queue.
    amqp_exchange_declare(state_, 1, amqp_cstring_bytes("fila.tasks"), amqp_cstring_bytes("direct"),
                          0, /*durable=*/1, 0, 0, amqp_empty_table);
    Check("exchange.declare fila.tasks");
    amqp_table_entry_t max_priority;
    max_priority.key = amqp_cstring_bytes("x-max-priority");
    max_priority.value.kind = AMQP_FIELD_KIND_I32;
    max_priority.value.value.i32 = 10;
    amqp_queue_declare(state_, 1, amqp_cstring_bytes("fila.ingest"), 0, /*durable=*/1, 0, 0,
                       amqp_table_t{1, &max_priority});
    Check("queue.declare fila.ingest");
    amqp_queue_bind(state_, 1, amqp_cstring_bytes("fila.ingest"), amqp_cstring_bytes("fila.tasks"),
                    amqp_cstring_bytes("ingest"), amqp_empty_table);
    Check("queue.bind fila.ingest");

    // Server-named, exclusive, auto-delete: gone with this connection.
    amqp_queue_declare_ok_t* ok = amqp_queue_declare(state_, 1, amqp_empty_bytes, 0, 0,
                                                     /*exclusive=*/1, /*auto_delete=*/1,
                                                     amqp_empty_table);
    Check("queue.declare reply queue");
    reply_queue_.assign(static_cast<const char*>(ok->queue.bytes), ok->queue.len);
    amqp_basic_consume(state_, 1, amqp_cstring_bytes(reply_queue_.c_str()), amqp_empty_bytes, 0,
                       /*no_ack=*/1, 0, amqp_empty_table);
    Check("basic.consume reply queue");
  }
  ~Producer() {
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  const std::string& reply_queue() const { return reply_queue_; }

  // Publishes to the default exchange with routing key fila.ingest, or,
  // with `via_exchange`, to fila.tasks with key "ingest". An empty
  // `reply_to` asks for no answer.
  void Publish(const std::string& body, const std::string& content_type,
               const std::string& correlation_id, const std::string& reply_to,
               bool via_exchange = false) {
    amqp_basic_properties_t properties{};
    properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (!content_type.empty()) {
      properties._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
      properties.content_type = amqp_cstring_bytes(content_type.c_str());
    }
    if (!correlation_id.empty()) {
      properties._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
      properties.correlation_id = amqp_cstring_bytes(correlation_id.c_str());
    }
    if (!reply_to.empty()) {
      properties._flags |= AMQP_BASIC_REPLY_TO_FLAG;
      properties.reply_to = amqp_cstring_bytes(reply_to.c_str());
    }
    amqp_bytes_t bytes{body.size(), const_cast<char*>(body.data())};
    const int status = amqp_basic_publish(
        state_, 1, via_exchange ? amqp_cstring_bytes("fila.tasks") : amqp_empty_bytes,
        amqp_cstring_bytes(via_exchange ? "ingest" : "fila.ingest"), 0, 0, &properties, bytes);
    if (status != AMQP_STATUS_OK) throw std::runtime_error("producer: publish failed");
  }

  // Reads answers until every id of `wanted` has one or `timeout` passes.
  // Answers to other ids are counted in `strays`.
  std::map<std::string, ReplySeen> AwaitReplies(const std::set<std::string>& wanted,
                                                std::chrono::milliseconds timeout) {
    std::map<std::string, ReplySeen> seen;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen.size() < wanted.size()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= 0s) break;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
      amqp_maybe_release_buffers(state_);
      amqp_envelope_t envelope;
      amqp_rpc_reply_t reply = amqp_consume_message(state_, &envelope, &tv, 0);
      if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          reply.library_error == AMQP_STATUS_TIMEOUT) {
        break;
      }
      if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
          amqp_frame_t frame;
          if (amqp_simple_wait_frame(state_, &frame) == AMQP_STATUS_OK) continue;
        }
        throw std::runtime_error("producer: reading replies failed");
      }
      const amqp_basic_properties_t& p = envelope.message.properties;
      std::string correlation_id;
      if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
        correlation_id.assign(static_cast<const char*>(p.correlation_id.bytes),
                              p.correlation_id.len);
      }
      ReplySeen r;
      if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) {
        r.content_type.assign(static_cast<const char*>(p.content_type.bytes), p.content_type.len);
      }
      r.body.assign(static_cast<const char*>(envelope.message.body.bytes),
                    envelope.message.body.len);
      amqp_destroy_envelope(&envelope);
      if (wanted.count(correlation_id) != 0) {
        seen[correlation_id] = std::move(r);
      } else {
        ++strays;
      }
    }
    return seen;
  }

  int strays = 0;

 private:
  void Check(const std::string& what) {
    if (amqp_get_rpc_reply(state_).reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error("producer: " + what + " failed");
  }

  amqp_connection_state_t state_ = nullptr;
  std::string reply_queue_;
};

v1::EnqueueResponse ParseResponse(const ReplySeen& reply) {
  v1::EnqueueResponse response;
  if (reply.content_type == kJson) {
    google::protobuf::util::JsonParseOptions options;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply.body, &response, options).ok())
        << reply.body;
  } else {
    EXPECT_TRUE(response.ParseFromString(reply.body));
  }
  return response;
}

class Ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("ing");
    tag_ = test::RandomName("t");
    producer_ = std::make_unique<Producer>(test::Stack().amqp_url);
    scheduler_ = std::make_unique<Process>(
        "fila-scheduler", std::vector<std::string>{},
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()},
                                           {"FILA_AMQP_URL", test::Stack().amqp_url},
                                           {"FILA_INGEST", "on"},
                                           {"FILA_LOG_LEVEL", "info"}});
  }

  void TearDown() override {
    // Its subscription must not outlive the test: the next test's
    // requests are for the next test's scheduler.
    if (scheduler_ && scheduler_->Running()) {
      scheduler_->Signal(SIGTERM);
      const int status = scheduler_->Wait(30s);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "status " << status << "\n" << scheduler_->Stderr();
      EXPECT_NE(scheduler_->Stderr().find("ingest stopped"), std::string::npos)
          << scheduler_->Stderr();
    }
  }

  // A fresh correlation id of this test.
  std::string Id(const std::string& name) { return tag_ + "-" + name; }

  v1::EnqueueRequest SleepRequest(const std::string& key) {
    v1::EnqueueRequest request;
    request.set_type("sleep");
    request.set_queue(queue_);
    request.set_priority(7);
    request.set_max_attempts(4);
    request.set_timeout_ms(30000);
    request.set_tenant("acme");
    request.set_idempotency_key(key);
    request.set_trace_id(tag_);
    v1::SleepPayload payload;
    payload.set_ms(5);
    request.set_payload(payload.SerializeAsString());
    return request;
  }

  // Sends `request` and returns its answer (fails the test without one).
  v1::EnqueueResponse Call(const std::string& body, const std::string& content_type,
                           const std::string& correlation_id, bool via_exchange = false) {
    producer_->Publish(body, content_type, correlation_id, producer_->reply_queue(), via_exchange);
    auto replies = producer_->AwaitReplies({correlation_id}, 30s);
    EXPECT_EQ(replies.count(correlation_id), 1u)
        << "no reply to " << correlation_id << "\n" << scheduler_->Stderr();
    if (replies.count(correlation_id) == 0) return {};
    return ParseResponse(replies[correlation_id]);
  }

  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::string tag_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Process> scheduler_;
};

TEST_F(Ingest, ProtobufRequestIsEnqueuedAndAnswered) {
  const std::string key = Id("key");
  v1::EnqueueRequest request = SleepRequest(key);
  v1::EnqueueResponse response = Call(request.SerializeAsString(), kProtobuf, Id("c1"));
  EXPECT_EQ(response.error_code(), "") << response.error_message();
  ASSERT_FALSE(response.id().empty());
  EXPECT_EQ(response.state(), v1::TASK_STATE_QUEUED);
  EXPECT_TRUE(response.created());

  auto rows = db_->Rows(
      "SELECT type, queue, priority, max_attempts, timeout_ms, tenant, idempotency_key, "
      "trace_id, encode(payload, 'hex') FROM tasks WHERE id = '" + response.id() + "'");
  ASSERT_EQ(rows.size(), 1u);
  v1::SleepPayload payload;
  payload.set_ms(5);
  std::string hex;
  for (unsigned char c : payload.SerializeAsString()) {
    static const char kHex[] = "0123456789abcdef";
    hex += kHex[c >> 4];
    hex += kHex[c & 0xf];
  }
  EXPECT_EQ(rows[0], (std::vector<std::string>{"sleep", queue_, "7", "4", "30000", "acme", key,
                                               tag_, hex}));
}

TEST_F(Ingest, JsonRequestThroughTheTasksExchange) {
  const std::string body = R"({"type":"sleep","queue":")" + queue_ +
                           R"(","args":{"ms":3},"idempotency_key":")" + Id("json") +
                           R"(","trace_id":")" + tag_ + R"("})";
  producer_->Publish(body, kJson, Id("j1"), producer_->reply_queue(), /*via_exchange=*/true);
  auto replies = producer_->AwaitReplies({Id("j1")}, 30s);
  ASSERT_EQ(replies.count(Id("j1")), 1u) << scheduler_->Stderr();
  EXPECT_EQ(replies[Id("j1")].content_type, kJson);
  EXPECT_NE(replies[Id("j1")].body.find("\"created\":true"), std::string::npos)
      << replies[Id("j1")].body;
  v1::EnqueueResponse response = ParseResponse(replies[Id("j1")]);
  EXPECT_EQ(response.error_code(), "") << response.error_message();
  ASSERT_FALSE(response.id().empty());
  EXPECT_EQ(response.state(), v1::TASK_STATE_QUEUED);
  // No tenant in the request: the default one.
  EXPECT_EQ(db_->Scalar("SELECT tenant || ' ' || type || ' ' || queue FROM tasks WHERE id = '" +
                        response.id() + "'"),
            "default sleep " + queue_);
}

TEST_F(Ingest, RepeatedIdempotencyKeyAnswersTheSameTask) {
  const std::string body = SleepRequest(Id("same")).SerializeAsString();
  v1::EnqueueResponse first = Call(body, kProtobuf, Id("first"));
  v1::EnqueueResponse second = Call(body, "", Id("second"));  // no content type: protobuf
  ASSERT_FALSE(first.id().empty());
  EXPECT_TRUE(first.created());
  EXPECT_EQ(second.id(), first.id());
  EXPECT_FALSE(second.created());
  EXPECT_EQ(second.error_code(), "");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE trace_id = '" + tag_ + "'"), 1);
}

TEST_F(Ingest, UnknownTypeIsAnsweredWithTheFieldAndNothingWritten) {
  v1::EnqueueRequest request = SleepRequest(Id("unknown"));
  request.set_type("no.such.type");
  v1::EnqueueResponse response = Call(request.SerializeAsString(), kProtobuf, Id("u1"));
  EXPECT_EQ(response.error_code(), "invalid_argument");
  EXPECT_EQ(response.error_field(), "type");
  EXPECT_FALSE(response.error_message().empty());
  EXPECT_TRUE(response.id().empty());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE trace_id = '" + tag_ + "'"), 0);
}

TEST_F(Ingest, GarbageIsAnsweredAndTheNextRequestIsServed) {
  // Field 1 as a varint, then a truncated length-delimited field: never a
  // valid message.
  const std::string garbage("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x12\x7f", 13);
  v1::EnqueueResponse bad = Call(garbage, kProtobuf, Id("garbage"));
  EXPECT_EQ(bad.error_code(), "invalid_argument");
  v1::EnqueueResponse bad_json = Call("{not json", kJson, Id("badjson"));
  EXPECT_EQ(bad_json.error_code(), "invalid_argument");
  v1::EnqueueResponse bad_type = Call("hello", "text/plain", Id("text"));
  EXPECT_FALSE(bad_type.error_code().empty());
  ASSERT_TRUE(scheduler_->Running()) << scheduler_->Stderr();

  v1::EnqueueResponse good =
      Call(SleepRequest(Id("after")).SerializeAsString(), kProtobuf, Id("good"));
  EXPECT_EQ(good.error_code(), "");
  EXPECT_FALSE(good.id().empty());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE trace_id = '" + tag_ + "'"), 1);
}

TEST_F(Ingest, RequestWithoutReplyToIsStillEnqueued) {
  producer_->Publish(SleepRequest(Id("silent")).SerializeAsString(), kProtobuf, Id("s1"), "");
  EXPECT_TRUE(test::WaitFor(
      [&] {
        return db_->Count("SELECT count(*) FROM tasks WHERE idempotency_key = '" + Id("silent") +
                          "'") == 1;
      },
      30s))
      << scheduler_->Stderr();
  // And no answer went anywhere near our reply queue.
  EXPECT_TRUE(producer_->AwaitReplies({Id("s1")}, 500ms).empty());
}

TEST_F(Ingest, FiveHundredPipelinedRequests) {
  constexpr int kRequests = 500;
  // Wait for the scheduler's subscription first, so the figure measures
  // ingest rather than the scheduler's start.
  v1::EnqueueResponse warm = Call(SleepRequest(Id("warm")).SerializeAsString(), kProtobuf,
                                  Id("warm"));
  ASSERT_FALSE(warm.id().empty());

  std::set<std::string> ids;
  std::vector<std::string> bodies;
  for (int i = 0; i < kRequests; ++i) {
    v1::EnqueueRequest request = SleepRequest(Id("bulk-" + std::to_string(i)));
    request.set_trace_id(tag_ + "-bulk");
    bodies.push_back(request.SerializeAsString());
    ids.insert(Id("p" + std::to_string(i)));
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i) {
    producer_->Publish(bodies[i], kProtobuf, Id("p" + std::to_string(i)), producer_->reply_queue());
  }
  auto replies = producer_->AwaitReplies(ids, 60s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(replies.size(), static_cast<size_t>(kRequests)) << scheduler_->Stderr();
  std::set<std::string> task_ids;
  for (const auto& [id, reply] : replies) {
    v1::EnqueueResponse response = ParseResponse(reply);
    EXPECT_EQ(response.error_code(), "") << response.error_message();
    EXPECT_TRUE(response.created());
    task_ids.insert(response.id());
  }
  EXPECT_EQ(task_ids.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE trace_id = '" + tag_ + "-bulk'"),
            kRequests);
  std::printf("[ metric ] AMQP ingest: %d pipelined EnqueueRequests answered in %.3f s "
              "(%.0f requests/s, one scheduler)\n",
              kRequests, seconds, kRequests / seconds);
}

TEST_F(Ingest, ABadRequestInABatchFailsAloneAndTheOthersAreEnqueued) {
  v1::EnqueueResponse warm = Call(SleepRequest(Id("warm")).SerializeAsString(), kProtobuf,
                                  Id("warm"));
  ASSERT_FALSE(warm.id().empty());
  constexpr int kRequests = 50;
  constexpr int kBad = 7;  // depends on a task that does not exist: the database refuses it
  std::set<std::string> ids;
  for (int i = 0; i < kRequests; ++i) {
    v1::EnqueueRequest request = SleepRequest(Id("mixed-" + std::to_string(i)));
    request.set_trace_id(tag_ + "-mixed");
    if (i == kBad) request.add_depends_on("00000000-0000-4000-8000-000000000000");
    ids.insert(Id("m" + std::to_string(i)));
    producer_->Publish(request.SerializeAsString(), kProtobuf, Id("m" + std::to_string(i)),
                       producer_->reply_queue());
  }
  auto replies = producer_->AwaitReplies(ids, 60s);
  ASSERT_EQ(replies.size(), static_cast<size_t>(kRequests)) << scheduler_->Stderr();
  for (const auto& [id, reply] : replies) {
    v1::EnqueueResponse response = ParseResponse(reply);
    if (id == Id("m" + std::to_string(kBad))) {
      EXPECT_EQ(response.error_code(), "invalid_argument");
      EXPECT_EQ(response.error_field(), "depends_on");
    } else {
      EXPECT_EQ(response.error_code(), "") << response.error_message();
      EXPECT_TRUE(response.created());
    }
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE trace_id = '" + tag_ + "-mixed'"),
            kRequests - 1);
}

}  // namespace
}  // namespace fila
