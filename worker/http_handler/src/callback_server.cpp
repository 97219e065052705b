// The callback server's HTTP side: the only translation unit here with
// civetweb. civetweb rather than cpprestsdk's listener: the worker already
// runs civetweb (metrics/), its handlers are plain blocking calls on a
// fixed pool of threads (which bounds the callbacks served at once), and
// it has none of the listener's asynchronous body pitfalls
// (scheduler/api/src/api_server.cpp). Keep-alive is off: an idle sidecar
// connection would hold one of the few threads.
#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include "attempts.h"
#include "callback_routes.h"
#include "fila/core/errors.h"
#include "fila/http_handler/callback_server.h"

namespace fila {
namespace {

// What civetweb's threads read: it outlives the civetweb context.
struct Served {
  CallbackServerOptions options;
  const TaskTypes& types;
  callbacks::AttemptTable attempts;
};

using callbacks::Reply;

// civetweb's own messages may quote a request line, and a callback's path
// holds its attempt's secret token: cut every path after the prefix.
std::string Redacted(std::string text) {
  const std::string prefix(callbacks::kAttemptsPath);
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + prefix.size())) {
    size_t end = at + prefix.size();
    while (end < text.size() && text[end] != ' ' && text[end] != '"' && text[end] != '\n') ++end;
    text.replace(at + prefix.size(), end - at - prefix.size(), "…");
  }
  return text;
}

int OnLog(const mg_connection*, const char* message) {
  spdlog::debug("callback server: {}", Redacted(message == nullptr ? "" : message));
  return 1;  // logged: civetweb prints nothing itself
}

int Send(mg_connection* conn, const Reply& reply) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            reply.status, mg_get_response_code_text(conn, reply.status), reply.body.size());
  mg_write(conn, reply.body.data(), reply.body.size());
  return reply.status;
}

// Reads the body, bounded in size and in time. nullopt with `refusal` set
// when it cannot be had.
std::optional<std::string> ReadBody(mg_connection* conn, const CallbackServerOptions& o, Reply& refusal) {
  const long long declared = mg_get_request_info(conn)->content_length;
  if (declared > static_cast<long long>(o.max_body_bytes)) {
    refusal = callbacks::ErrorReply(413, "payload_too_large",
                                    "a callback body holds at most " + std::to_string(o.max_body_bytes) + " bytes");
    return std::nullopt;
  }
  const Deadline until = DeadlineIn(o.body_timeout);
  std::string body;
  if (declared > 0) body.reserve(static_cast<size_t>(declared));
  char buffer[16384];
  for (;;) {
    const int n = mg_read(conn, buffer, sizeof buffer);
    if (n == 0) return body;
    if (n < 0 || SteadyClock::now() > until) {
      refusal = callbacks::ErrorReply(408, "request_timeout", "the callback's body did not arrive in time");
      return std::nullopt;
    }
    if (body.size() + static_cast<size_t>(n) > o.max_body_bytes) {  // chunked, undeclared
      refusal = callbacks::ErrorReply(413, "payload_too_large",
                                      "a callback body holds at most " + std::to_string(o.max_body_bytes) + " bytes");
      return std::nullopt;
    }
    body.append(buffer, static_cast<size_t>(n));
  }
}

int OnCallback(mg_connection* conn, void* data) {
  auto& impl = *static_cast<Served*>(data);
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string method = info->request_method == nullptr ? "" : info->request_method;
  const std::string path = info->local_uri == nullptr ? "" : info->local_uri;
  Reply refusal;
  std::optional<std::string> body = ReadBody(conn, impl.options, refusal);
  if (!body) return Send(conn, refusal);
  return Send(conn, callbacks::Route(impl.attempts, impl.types, method, path, *body));
}

// "HOST:PORT" as civetweb's listening_ports wants it, and the host to put
// in callback URLs (a wildcard address is reached on loopback).
std::pair<std::string, std::string> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  unsigned port = 0;
  const char* end = listen.data() + listen.size();
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size() ||
      std::from_chars(listen.data() + colon + 1, end, port).ptr != end || port > 65535) {
    throw PermanentError("callback address '" + listen + "' is not HOST:PORT (e.g. 127.0.0.1:0)", "callback_listen");
  }
  std::string host = listen.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  std::string url_host = host;
  if (host == "0.0.0.0") url_host = "127.0.0.1";
  if (host == "[::]") url_host = "[::1]";
  return {host + ":" + std::to_string(port), url_host};
}

// Opens and closes a connection to `address` (an IPv4 sockaddr), ignoring
// failures.
void WakeUp(const sockaddr_storage& address) {
  if (address.ss_family == AF_UNSPEC) return;
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  (void)::connect(fd, reinterpret_cast<const sockaddr*>(&address),
                  address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  ::close(fd);
}

class OpenAttempt final : public CallbackServer::Attempt {
 public:
  OpenAttempt(callbacks::AttemptTable& table, TaskContext& ctx, const std::string& base)
      : table_(table), token_(table.Open(ctx)), url_(base + std::string(callbacks::kAttemptsPath) + token_) {}
  ~OpenAttempt() override { table_.Close(token_); }
  const std::string& Url() const override { return url_; }

 private:
  callbacks::AttemptTable& table_;
  std::string token_;
  std::string url_;
};

}  // namespace

struct CallbackServer::Impl {
  Served served;
  std::string address;
  std::string base_url;  // http://HOST:PORT
  mg_context* context = nullptr;
  sockaddr_storage wake{};  // where a connection wakes civetweb (the listening address)

  Impl(CallbackServerOptions o, const TaskTypes& t) : served{std::move(o), t, {}} {}
};

CallbackServer::CallbackServer(CallbackServerOptions options, const TaskTypes& types)
    : impl_(std::make_unique<Impl>(std::move(options), types)) {
  auto [listen, url_host] = ParseListen(impl_->served.options.listen);
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
  const std::string threads = std::to_string(std::max(1, impl_->served.options.threads));
  const std::string timeout = std::to_string(impl_->served.options.body_timeout.count());
  const char* config[] = {"listening_ports", listen.c_str(), "num_threads", threads.c_str(),
                          "request_timeout_ms", timeout.c_str(), "enable_keep_alive", "no",
                          "max_request_size", "16384", "decode_url", "no", nullptr};
  mg_callbacks hooks{};
  hooks.log_message = &OnLog;
  char error[256] = "";
  mg_error_data error_data{nullptr, error, sizeof error};
  mg_init_data init{&hooks, &impl_->served, config};
  impl_->context = mg_start2(&init, &error_data);
  if (impl_->context == nullptr) {
    throw TransientError("cannot serve callbacks on " + impl_->served.options.listen + ": " +
                         (error[0] != '\0' ? std::string(error) : "civetweb failed to start"));
  }
  // civetweb matches a handler's path as a prefix followed by '/'.
  const std::string prefix(callbacks::kAttemptsPath.substr(0, callbacks::kAttemptsPath.size() - 1));
  mg_set_request_handler(impl_->context, prefix.c_str(), &OnCallback, &impl_->served);
  mg_server_port port{};
  if (mg_get_server_ports(impl_->context, 1, &port) < 1) {
    mg_stop(impl_->context);
    throw TransientError("cannot serve callbacks on " + impl_->served.options.listen + ": no port");
  }
  impl_->address = url_host + ":" + std::to_string(port.port);
  const std::string host = url_host.starts_with('[') ? url_host.substr(1, url_host.size() - 2) : url_host;
  if (port.protocol == 2) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&impl_->wake);
    if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(port.port));
    }
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&impl_->wake);
    if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<uint16_t>(port.port));
    }
  }
  impl_->base_url = "http://" + impl_->address;
}

CallbackServer::~CallbackServer() {
  if (impl_->context == nullptr) return;
  // civetweb's master thread notices the stop flag only when its poll of
  // the listening socket returns, after up to 2 s: a connection wakes it.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    mg_stop(impl_->context);
    stopped = true;
  });
  for (int i = 0; i < 100 && !stopped; ++i) {
    WakeUp(impl_->wake);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stopper.join();
}

const std::string& CallbackServer::Address() const { return impl_->address; }

std::unique_ptr<CallbackServer::Attempt> CallbackServer::Open(TaskContext& context) {
  return std::make_unique<OpenAttempt>(impl_->served.attempts, context, impl_->base_url);
}

size_t CallbackServer::OpenAttempts() const { return impl_->served.attempts.Size(); }

}  // namespace fila
