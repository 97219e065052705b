#include "amqp_connection.h"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <atomic>
#include <random>

#include "fila/core/config.h"
#include "fila/core/errors.h"

namespace fila::rabbitmq {

namespace {

// RabbitMQ's default frame_max; larger bodies are split across frames.
constexpr int kFrameMax = 131072;
// AMQP short strings carry at most 255 bytes.
constexpr size_t kMaxShortString = 255;

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF) at the start of `text`; 0 if none.
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (lead == 0xED && byte(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (lead == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string PhysicalQueueName(std::string_view logical) {
  if (logical.empty()) throw PermanentError("queue name is empty", "queue");
  std::string physical = std::string(kQueuePrefix) + std::string(logical);
  if (physical.size() > kMaxShortString) {
    throw PermanentError(
        "queue name is longer than " + std::to_string(kMaxShortString - 5) + " bytes", "queue");
  }
  return physical;
}

amqp_bytes_t Bytes(std::string_view text) {
  // rabbitmq-c only reads through this pointer when sending.
  return amqp_bytes_t{text.size(), const_cast<char*>(text.data())};
}

std::string ToString(amqp_bytes_t bytes) {
  if (bytes.len == 0) return {};
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

timeval ToTimeval(std::chrono::nanoseconds duration) {
  if (duration.count() < 0) duration = std::chrono::nanoseconds(0);
  auto micros = std::chrono::ceil<std::chrono::microseconds>(duration).count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(micros / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(micros % 1000000);
  return tv;
}

std::string DescribeStatus(int status) { return amqp_error_string2(status); }

std::string DescribeClose(const amqp_method_t& method) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD && method.decoded != nullptr) {
    const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
    return "connection closed by broker: " + std::to_string(close->reply_code) + " " +
           ToString(close->reply_text);
  }
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD && method.decoded != nullptr) {
    const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
    return "channel closed by broker: " + std::to_string(close->reply_code) + " " +
           ToString(close->reply_text);
  }
  const char* name = amqp_method_name(method.id);
  return std::string("unexpected method ") + (name != nullptr ? name : "(unknown)");
}

std::string HeaderText(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  static constexpr std::string_view kCut = "...";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  // The last character boundary of `out` that leaves room for kCut.
  size_t last_fit = 0;
  while (!text.empty()) {
    size_t length = Utf8SequenceLength(text);
    std::string_view piece = length > 0 ? text.substr(0, length) : kReplacement;
    text.remove_prefix(length > 0 ? length : 1);
    if (out.size() + piece.size() > max_bytes) {
      out.resize(last_fit);
      out += kCut;
      return out;
    }
    out += piece;
    if (out.size() + kCut.size() <= max_bytes) last_fit = out.size();
  }
  return out;
}

std::string DescribeReply(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return DescribeStatus(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return DescribeClose(reply.reply);
  }
  return "unknown reply type";
}

namespace {

// What is left until `deadline`, but at least a moment: a zero timeval
// would mean "do not wait at all" to some rabbitmq-c calls.
timeval Remaining(Deadline deadline) {
  return ToTimeval(
      std::max<SteadyClock::duration>(deadline - SteadyClock::now(), std::chrono::milliseconds(1)));
}

}  // namespace

NodeCursor::NodeCursor(size_t nodes) : nodes_(std::max<size_t>(nodes, 1)) {
  // Random per process, successive per client.
  static std::atomic<size_t> next{std::random_device{}()};
  current_ = next.fetch_add(1) % nodes_;
}

std::unique_ptr<AmqpConnection> AmqpConnection::Open(const ConnectionParams& params,
                                                     NodeCursor& nodes, Deadline deadline,
                                                     const char* role) {
  const size_t count = params.nodes.size();
  std::string failures;
  for (size_t tried = 0; tried < count; ++tried) {
    const size_t node = (nodes.Current() + tried) % count;
    // A node that does not answer must not eat the others' time.
    const auto share = (deadline - SteadyClock::now()) / static_cast<int64_t>(count - tried);
    try {
      auto connection = OpenNode(params, node, SteadyClock::now() + share, role);
      nodes.Set(node);
      connection->SetRpcDeadline(deadline);
      return connection;
    } catch (const TransientError& error) {
      if (count == 1) throw;
      std::string_view what = error.what();
      if (what.starts_with("rabbitmq: ")) what.remove_prefix(10);
      failures.append(failures.empty() ? "" : "; ").append(what);
    }
  }
  throw TransientError("rabbitmq: no node of " + std::to_string(count) + " reachable: " + failures);
}

std::unique_ptr<AmqpConnection> AmqpConnection::OpenNode(const ConnectionParams& params,
                                                         size_t node, Deadline deadline,
                                                         const char* role) {
  auto remaining = [deadline] { return Remaining(deadline); };
  const NodeParams& target = params.nodes[node];
  const std::string& where = target.redacted_url;

  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) throw TransientError("rabbitmq: cannot allocate a connection");
  std::unique_ptr<AmqpConnection> connection(new AmqpConnection(state, params, node));

  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) throw TransientError("rabbitmq: cannot allocate a socket");
  timeval tv = remaining();
  int status = amqp_socket_open_noblock(socket, target.host.c_str(), target.port, &tv);
  if (status != AMQP_STATUS_OK) {
    throw TransientError("rabbitmq: cannot connect to " + where + ": " + DescribeStatus(status));
  }

  tv = remaining();
  amqp_set_handshake_timeout(state, &tv);
  amqp_set_rpc_timeout(state, &tv);

  // connection_name shows up in the management UI and `rabbitmqctl
  // list_connections`; consumer_cancel_notify makes the broker tell us when
  // a queue we consume is deleted instead of silently starving us.
  amqp_table_entry_t capabilities[1];
  capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capabilities[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capabilities[0].value.value.boolean = 1;
  amqp_table_entry_t properties[2];
  properties[0].key = amqp_cstring_bytes("connection_name");
  properties[0].value.kind = AMQP_FIELD_KIND_UTF8;
  properties[0].value.value.bytes = amqp_cstring_bytes(role);
  properties[1].key = amqp_cstring_bytes("capabilities");
  properties[1].value.kind = AMQP_FIELD_KIND_TABLE;
  properties[1].value.value.table = amqp_table_t{1, capabilities};
  amqp_table_t client_properties{2, properties};

  amqp_rpc_reply_t reply = amqp_login_with_properties(
      state, target.vhost.c_str(), 0, kFrameMax, params.heartbeat_seconds, &client_properties,
      AMQP_SASL_METHOD_PLAIN, target.user.c_str(), target.password.c_str());
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    throw TransientError("rabbitmq: login to " + where + " failed: " + DescribeReply(reply));
  }

  tv = remaining();
  amqp_set_rpc_timeout(state, &tv);
  amqp_channel_open(state, kChannel);
  connection->CheckLastRpc("channel.open");
  return connection;
}

AmqpConnection::~AmqpConnection() { amqp_destroy_connection(state_); }

void AmqpConnection::SetRpcDeadline(Deadline deadline) {
  timeval tv = Remaining(deadline);
  amqp_set_rpc_timeout(state_, &tv);
}

void AmqpConnection::CheckLastRpc(std::string_view what, amqp_channel_t channel) {
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    AnswerClose(reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD ? 0 : channel, reply.reply);
  }
  throw TransientError("rabbitmq: " + std::string(what) + " failed: " + DescribeReply(reply));
}

void AmqpConnection::OpenConfirmChannel(amqp_channel_t channel) {
  amqp_channel_open(state_, channel);
  CheckLastRpc("channel.open " + std::to_string(channel), channel);
  amqp_confirm_select(state_, channel);
  CheckLastRpc("confirm.select " + std::to_string(channel), channel);
}

void AmqpConnection::AnswerClose(amqp_channel_t channel, const amqp_method_t& method) noexcept {
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_ok_t ok{};
    amqp_send_method(state_, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  } else if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  }
}

void AmqpConnection::CloseGracefully(std::chrono::milliseconds budget) noexcept {
  SetRpcDeadline(SteadyClock::now() + budget);
  amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
}

}  // namespace fila::rabbitmq
