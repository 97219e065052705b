// The raw broker baseline: what RabbitMQ alone does on this machine with
// the durability fila keeps (durable queue, persistent messages, publisher
// confirms, manual acks), for messages of a fila envelope's size.
//
// rabbitmq-c connections are not thread-safe: the publisher and the
// consumer threads each own one; the main thread has its own for setup.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "fila/core/envelope.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr amqp_channel_t kChannel = 1;
constexpr auto kIoTimeout = std::chrono::seconds(30);
// Like every fila work queue (broker-adapters/rabbitmq): a priority queue
// costs the broker more than a plain one, and fila pays that.
constexpr int kMaxPriority = 10;

std::string ReplyText(const amqp_rpc_reply_t& reply) {
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    return amqp_error_string2(reply.library_error);
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD ||
        reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      // Both close methods start with reply_code and reply_text.
      const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
      return "closed by broker: " + std::to_string(close->reply_code) + " " +
             std::string(static_cast<const char*>(close->reply_text.bytes), close->reply_text.len);
    }
    return "server exception";
  }
  return "no reply";
}

timeval Timeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>(d.count() % 1000 * 1000)};
}

// One blocking connection with channel 1 open. Owned by one thread.
class Link final {
 public:
  Link(const std::string& url, const char* name) : state_(amqp_new_connection()) {
    try {
      Open(url, name);
    } catch (...) {
      amqp_destroy_connection(state_);
      throw;
    }
  }
  ~Link() {
    amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  amqp_connection_state_t get() const { return state_; }
  void Check(const std::string& what) { Check(amqp_get_rpc_reply(state_), what); }
  static void Check(const amqp_rpc_reply_t& reply, const std::string& what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      throw BenchError("rabbitmq " + what + " failed: " + ReplyText(reply));
    }
  }

 private:
  void Open(const std::string& url, const char* name) {
    std::string scratch = url;  // amqp_parse_url writes into its argument
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(scratch.data(), &info) != AMQP_STATUS_OK) {
      throw BenchError("invalid AMQP URL");
    }
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    timeval tv = Timeval(kIoTimeout);
    if (socket == nullptr ||
        amqp_socket_open_noblock(socket, info.host, info.port, &tv) != AMQP_STATUS_OK) {
      throw BenchError(std::string("cannot connect to RabbitMQ at ") + info.host);
    }
    amqp_set_rpc_timeout(state_, &tv);
    amqp_table_entry_t property;
    property.key = amqp_cstring_bytes("connection_name");
    property.value.kind = AMQP_FIELD_KIND_UTF8;
    property.value.value.bytes = amqp_cstring_bytes(name);
    amqp_table_t properties{1, &property};
    const char* vhost = *info.vhost != '\0' ? info.vhost : "/";
    Check(amqp_login_with_properties(state_, vhost, 0, 131072, 0, &properties,
                                     AMQP_SASL_METHOD_PLAIN, info.user, info.password),
          "login");
    amqp_channel_open(state_, kChannel);
    Check("channel.open");
  }

  amqp_connection_state_t state_;
};

amqp_bytes_t Bytes(const std::string& text) {
  return amqp_bytes_t{text.size(), const_cast<char*>(text.data())};
}

// The body fila's relay would publish for a noop task.
std::string NoopEnvelope(const std::string& queue) {
  const NewTask task = NoopTask(queue);
  Envelope e;
  e.id = "01234567-89ab-4cde-8f01-23456789abcd";  // a UUID's length
  e.type = task.type;
  e.queue = task.queue;
  e.priority = task.priority;
  e.max_attempts = task.max_attempts;
  e.timeout_ms = task.timeout_ms;
  e.tenant = task.tenant;
  e.payload = task.payload;
  e.enqueued_at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  return EncodeEnvelope(e);
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<bool> consuming{false};
  std::atomic<bool> done{false};  // last_ack is set
  Clock::time_point first_publish;
  Clock::time_point last_ack;
  std::mutex mutex;
  std::string error;

  void Fail(const std::string& why) {
    std::lock_guard lock(mutex);
    if (error.empty()) error = why;
    stop = true;
  }
};

// Publishes in batches and waits for the confirms of each batch before
// sending the next, as fila's relay does.
void Publish(const Options& options, const std::string& queue, const std::string& body,
             int64_t count, Shared& shared) {
  try {
    Link link(options.amqp_url, "fila-bench-raw-publisher");
    amqp_connection_state_t state = link.get();
    amqp_confirm_select(state, kChannel);
    link.Check("confirm.select");
    amqp_basic_properties_t properties{};
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                        AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    properties.content_type = amqp_cstring_bytes("application/x-protobuf");
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    properties.priority = 0;
    const std::string message_id = "01234567-89ab-4cde-8f01-23456789abcd";
    properties.message_id = Bytes(message_id);

    while (!shared.consuming && !shared.stop)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    shared.first_publish = Clock::now();
    uint64_t tag = 0;
    for (int64_t sent = 0; sent < count && !shared.stop;) {
      const int64_t batch = std::min<int64_t>(options.publish_batch, count - sent);
      const uint64_t first = tag + 1;
      for (int64_t i = 0; i < batch; ++i) {
        int status = amqp_basic_publish(state, kChannel, amqp_empty_bytes, Bytes(queue), 0, 0,
                                        &properties, Bytes(body));
        if (status != AMQP_STATUS_OK)
          throw BenchError(std::string("publish: ") + amqp_error_string2(status));
        ++tag;
      }
      // Confirms may be single or `multiple`; collect until all of this batch.
      std::vector<bool> confirmed(static_cast<size_t>(batch), false);
      int64_t pending = batch;
      const auto deadline = Clock::now() + kIoTimeout;
      while (pending > 0) {
        if (Clock::now() > deadline) throw BenchError("publisher confirms timed out");
        amqp_frame_t frame;
        timeval tv = Timeval(std::chrono::milliseconds(1000));
        int status = amqp_simple_wait_frame_noblock(state, &frame, &tv);
        if (status == AMQP_STATUS_TIMEOUT) continue;
        if (status != AMQP_STATUS_OK)
          throw BenchError(std::string("confirms: ") + amqp_error_string2(status));
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        const amqp_method_t& method = frame.payload.method;
        if (method.id == AMQP_BASIC_NACK_METHOD) throw BenchError("the broker nacked a publish");
        if (method.id == AMQP_CHANNEL_CLOSE_METHOD || method.id == AMQP_CONNECTION_CLOSE_METHOD) {
          throw BenchError("the broker closed the publisher's channel");
        }
        if (method.id != AMQP_BASIC_ACK_METHOD) continue;
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        const uint64_t low = ack->multiple != 0 ? first : ack->delivery_tag;
        for (uint64_t t = std::max(low, first); t <= ack->delivery_tag && t <= tag; ++t) {
          if (!confirmed[t - first]) {
            confirmed[t - first] = true;
            --pending;
          }
        }
        amqp_maybe_release_buffers(state);
      }
      sent += batch;
    }
  } catch (const std::exception& e) {
    shared.Fail(std::string("publisher: ") + e.what());
  }
}

// Acks what arrived together with one basic.ack `multiple`, as a
// fila-worker acks a batch of finished tasks.
void Consume(const Options& options, const std::string& queue, size_t body_size, int64_t count,
             Shared& shared) {
  try {
    Link link(options.amqp_url, "fila-bench-raw-consumer");
    amqp_connection_state_t state = link.get();
    const auto prefetch =
        static_cast<uint16_t>(std::min(options.workers * options.concurrency, 65535));
    amqp_basic_qos(state, kChannel, 0, prefetch, 0);
    link.Check("basic.qos");
    amqp_basic_consume(state, kChannel, Bytes(queue), amqp_empty_bytes, 0, /*no_ack=*/0, 0,
                       amqp_empty_table);
    link.Check("basic.consume");
    shared.consuming = true;
    auto last_delivery = Clock::now();
    uint16_t unacked = 0;
    for (int64_t received = 0; received < count;) {
      if (shared.stop) return;
      amqp_maybe_release_buffers(state);
      amqp_envelope_t envelope;
      timeval tv = Timeval(std::chrono::milliseconds(500));
      amqp_rpc_reply_t reply = amqp_consume_message(state, &envelope, &tv, 0);
      if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          reply.library_error == AMQP_STATUS_TIMEOUT) {
        if (Clock::now() - last_delivery > kIoTimeout) {
          throw BenchError("no delivery for 30 s after " + std::to_string(received));
        }
        continue;
      }
      Link::Check(reply, "consume");
      const bool right_size = envelope.message.body.len == body_size;
      const uint64_t tag = envelope.delivery_tag;
      amqp_destroy_envelope(&envelope);
      if (!right_size) throw BenchError("a delivery of the wrong size");
      ++received;
      ++unacked;
      last_delivery = Clock::now();
      // One `multiple` ack for what arrived together, as fila-worker acks
      // a batch; at most half the prefetch waits, so deliveries never stall.
      const bool more_buffered = amqp_frames_enqueued(state) || amqp_data_in_buffer(state);
      if (more_buffered && unacked < prefetch / 2 && received < count) continue;
      if (int status = amqp_basic_ack(state, kChannel, tag, /*multiple=*/1);
          status != AMQP_STATUS_OK) {
        throw BenchError(std::string("ack: ") + amqp_error_string2(status));
      }
      unacked = 0;
    }
    shared.last_ack = Clock::now();
    shared.done = true;
  } catch (const std::exception& e) {
    shared.Fail(std::string("consumer: ") + e.what());
  }
}

}  // namespace

Result RunRawBroker(const Options& options, const std::string& /*log_dir*/) {
  const int64_t count = options.tasks;
  const std::string queue = "fila-bench-raw-" + RandomSuffix();
  const std::string body = NoopEnvelope("bench" + RandomSuffix());
  Say("raw broker: " + Thousands(static_cast<double>(count)) + " messages of " +
      std::to_string(body.size()) + " bytes through queue " + queue);

  Link admin(options.amqp_url, "fila-bench-raw-admin");
  amqp_table_entry_t max_priority;
  max_priority.key = amqp_cstring_bytes("x-max-priority");
  max_priority.value.kind = AMQP_FIELD_KIND_I32;
  max_priority.value.value.i32 = kMaxPriority;
  amqp_queue_declare(admin.get(), kChannel, Bytes(queue), 0, /*durable=*/1, 0, 0,
                     amqp_table_t{1, &max_priority});
  admin.Check("queue.declare");

  Shared shared;
  std::thread consumer(Consume, std::cref(options), queue, body.size(), count, std::ref(shared));
  std::thread publisher(Publish, std::cref(options), queue, body, count, std::ref(shared));
  while (!shared.done && !shared.stop) {
    try {
      ThrowIfInterrupted();
    } catch (const BenchError&) {
      shared.Fail("interrupted");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  publisher.join();
  consumer.join();
  amqp_queue_delete(admin.get(), kChannel, Bytes(queue), 0, 0);
  if (!shared.error.empty()) throw BenchError("raw broker: " + shared.error);

  const double seconds =
      std::chrono::duration<double>(shared.last_ack - shared.first_publish).count();
  Result r;
  r.kind = Result::Kind::kRawBroker;
  r.tasks = count;
  r.label = "raw broker (" + Thousands(static_cast<double>(count)) + " messages)";
  r.tasks_per_s = static_cast<double>(count) / seconds;
  char line[200];
  std::snprintf(line, sizeof line,
                "%zu-byte bodies (a fila noop envelope), persistent, durable x-max-priority queue; "
                "confirms per %d; 1 consumer, prefetch %d, basic.ack multiple per batch received",
                body.size(), options.publish_batch, options.workers * options.concurrency);
  r.notes.emplace_back(line);
  std::snprintf(line, sizeof line, "%.2f s first publish→last ack", seconds);
  r.notes.emplace_back(line);
  Say("raw broker: " + Thousands(r.tasks_per_s) + " messages/s");
  return r;
}

void DeleteFilaQueue(const std::string& amqp_url, const std::string& queue) {
  try {
    Link link(amqp_url, "fila-bench-cleanup");
    const std::string physical = "fila." + queue;
    amqp_queue_delete(link.get(), kChannel, Bytes(physical), 0, 0);
    link.Check("queue.delete " + physical);
  } catch (const std::exception& e) {
    Say("warning: cannot delete broker queue fila." + queue + ": " + e.what());
  }
}

}  // namespace fila::bench
