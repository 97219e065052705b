// The only translation unit with cpprestsdk: HTTP in, Router, HTTP out.
#include "fila/api_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <cpprest/uri.h>
#include <spdlog/spdlog.h>

#include "fila/errors.h"
#include "fila/postgres_store.h"
#include "event_hub.h"
#include "router.h"
#include "store_pool.h"

namespace fila {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using http::experimental::listener::http_listener_config;

std::string Header(const http::http_request& request, const char* name) {
  auto it = request.headers().find(name);
  return it == request.headers().end() ? std::string() : it->second;
}

void Send(http::http_request& request, const api::Response& response) {
  http::http_response reply(static_cast<http::status_code>(response.status));
  if (!response.body.empty()) {
    reply.set_body(std::vector<unsigned char>(response.body.begin(), response.body.end()));
    reply.headers().set_content_type(response.content_type);
  }
  request.reply(reply).then([](pplx::task<void> sent) {
    try {
      sent.get();
    } catch (const std::exception& e) {
      spdlog::debug("api: reply not delivered: {}", e.what());  // client went away
    }
  });
}

}  // namespace

struct ApiServer::Impl {
  ApiOptions options;
  std::string database_url;
  const TaskTypes& types;
  TenantGate& tenants;
  SchedulerMetrics& metrics;
  std::unique_ptr<api::StorePool> stores;
  std::unique_ptr<api::Router> router;
  std::unique_ptr<api::EventHub> events;
  std::unique_ptr<http_listener> listener;
  uint16_t port = 0;

  Impl(ApiOptions o, std::string url, const TaskTypes& t, TenantGate& g, SchedulerMetrics& m)
      : options(std::move(o)), database_url(std::move(url)), types(t), tenants(g), metrics(m) {}

  // GET /v1/tasks/{id}/events: a Server-Sent Events stream fed by the hub.
  // Returns false when the path is not an event stream; else sets `status`.
  bool Watch(http::http_request& request, const api::Request& r, int& status) {
    const std::string kPrefix = "/v1/tasks/";
    const std::string kSuffix = "/events";
    if (r.path.size() <= kPrefix.size() + kSuffix.size() || r.path.rfind(kPrefix, 0) != 0 ||
        r.path.compare(r.path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return false;
    }
    const std::string id = r.path.substr(kPrefix.size(), r.path.size() - kPrefix.size() - kSuffix.size());
    api::Response check = router->AuthorizeWatch(r, id);
    status = check.status;
    if (check.status != 200) {
      Send(request, check);
      return true;
    }
    auto buffer = std::make_shared<concurrency::streams::producer_consumer_buffer<uint8_t>>();
    http::http_response reply(http::status_codes::OK);
    reply.headers().set_content_type("text/event-stream");
    reply.headers().add("Cache-Control", "no-cache");
    reply.set_body(buffer->create_istream());
    request.reply(reply).then([](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception& e) {
        spdlog::debug("api: event stream ended: {}", e.what());
      }
    });
    events->Subscribe(
        id,
        [buffer](const std::string& chunk, bool last) {
          try {
            if (!chunk.empty()) {
              buffer->putn_nocopy(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()).wait();
              buffer->sync().wait();
            }
            if (last) buffer->close(std::ios_base::out).wait();
            return true;
          } catch (const std::exception&) {
            return false;  // the client went away
          }
        },
        options.event_stream_max);
    return true;
  }

  void Serve(http::http_request request) {
    const auto started = SteadyClock::now();
    std::string method = "other";
    std::string route = "other";
    auto record = [&](int status) {
      metrics.ApiRequest(method, route, status,
                         std::chrono::duration<double>(SteadyClock::now() - started).count());
    };
    api::Response response;
    try {
      api::Request r;
      r.method = request.method();
      r.path = web::uri::decode(request.relative_uri().path());
      for (const auto& [key, value] : web::uri::split_query(request.relative_uri().query())) {
        r.query[web::uri::decode(key)] = web::uri::decode(value);
      }
      r.content_type = Header(request, "Content-Type");
      r.accept = Header(request, "Accept");
      r.authorization = Header(request, "Authorization");
      method = api::MethodLabel(r.method);
      route = api::RouteOf(r.path);
      if (int status = 0; r.method == "GET" && Watch(request, r, status)) {
        record(status);
        return;
      }
      auto declared = request.headers().content_length();
      if (declared > options.max_body_bytes) {
        response = {413, "application/json",
                    R"({"code":"payload_too_large","message":"request body over the limit","field":""})"};
      } else {
        auto bytes = request.extract_vector().get();
        if (bytes.size() > options.max_body_bytes) {
          response = {413, "application/json",
                      R"({"code":"payload_too_large","message":"request body over the limit","field":""})"};
        } else {
          r.body.assign(bytes.begin(), bytes.end());
          response = router->Handle(r);
        }
      }
    } catch (const std::exception& e) {
      // Malformed URIs and broken connections end up here, never in a crash.
      response = {400, "application/json",
                  R"({"code":"invalid_argument","message":"malformed request","field":""})"};
      spdlog::debug("api: malformed request: {}", e.what());
    }
    Send(request, response);
    record(response.status);
  }
};

ApiServer::ApiServer(ApiOptions options, std::string database_url, const TaskTypes& types,
                     TenantGate& tenants, SchedulerMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(database_url), types, tenants,
                                   metrics)) {}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Start() {
  Impl& m = *impl_;
  auto colon = m.options.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw PermanentError("--api-listen must be HOST:PORT, got '" + m.options.listen + "'",
                         "api-listen");
  }
  int port = 0;
  try {
    port = std::stoi(m.options.listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    throw PermanentError("--api-listen has a bad port: '" + m.options.listen + "'", "api-listen");
  }
  const std::string url = m.database_url;
  m.stores = std::make_unique<api::StorePool>(
      [url] { return std::make_unique<PostgresStore>(url); }, m.options.database_connections);
  m.router = std::make_unique<api::Router>(m.options, *m.stores, m.types, m.tenants, m.metrics);
  m.events = std::make_unique<api::EventHub>(m.database_url, m.types);
  m.events->Start();
  try {
    http_listener_config config;
    config.set_timeout(std::chrono::seconds(30));
    m.listener = std::make_unique<http_listener>(
        web::uri("http://" + m.options.listen.substr(0, colon) + ":" + std::to_string(port) + "/"),
        config);
    m.listener->support([&m](http::http_request request) { m.Serve(std::move(request)); });
    m.listener->open().wait();
  } catch (const std::exception& e) {
    m.listener.reset();
    throw TransientError("cannot listen on " + m.options.listen + ": " + e.what());
  }
  m.port = static_cast<uint16_t>(port);
  spdlog::info("api listening on http://{}", m.options.listen);
}

void ApiServer::Stop() {
  if (!impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    spdlog::warn("api: closing the listener: {}", e.what());
  }
  impl_->listener.reset();
  if (impl_->events) impl_->events->Stop();
}

uint16_t ApiServer::Port() const { return impl_->port; }

}  // namespace fila
