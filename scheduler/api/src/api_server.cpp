// The only translation unit with cpprestsdk: HTTP in, Router, HTTP out.
//
// cpprestsdk's listener (http_server_asio.cpp) hands a request over as soon
// as its headers are parsed and keeps reading the body into the request's
// stream; it has no read timeout, no connection limit, and writes no reply
// before the request's content is complete. Hence:
// - limits and the token are checked from the headers, before any body;
// - the body is read with continuations (a pool thread never waits for a
//   client), up to the size limit and within a deadline kept by a timer;
// - an answer given before the body is all in says Connection: close and
//   completes the request's content (AbandonBody), so the listener writes
//   it at once and then closes the socket, which also ends the upload.
// Every pplx task is observed: an unobserved failed task terminates.
//
// pplx (cpprestsdk's tasks) raises SIGTRAP and terminates when a task's
// exception is never observed. Our tasks are all observed, but the
// listener's own are not always: under a flood of short connections a
// reply it makes itself while a connection closes (_reply_if_not_already)
// fails unobserved, and took the scheduler down (reproduced: about one run
// of the token flood in twenty). The report is this file's to define
// (pplxlinux.h's hook), and the process uses its copy of the exception
// holder: a lost reply to a client that went away is logged, not fatal.
#include <cstdint>

namespace fila::api {
void OnUnobservedTaskException() noexcept;
}  // namespace fila::api
#define _REPORT_PPLTASK_UNOBSERVED_EXCEPTION() ::fila::api::OnUnobservedTaskException()

#include "fila/api/api_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <pplx/threadpool.h>
#include <cpprest/uri.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "admission.h"
#include "console_route.h"
#include "deadline_timer.h"
#include "event_hub.h"
#include "fila/core/errors.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/type_store_pg.h"
#include "router.h"
#include "router_support.h"
#include "store_pool.h"

namespace fila {
namespace api {

void OnUnobservedTaskException() noexcept {
  static std::atomic<uint64_t> count{0};
  const uint64_t n = ++count;
  // A client that went away is routine: say so now and then, never die of it.
  if ((n & (n - 1)) == 0) {
    spdlog::debug("api: {} asynchronous operations of the HTTP listener failed unobserved (a client "
                  "went away); ignored",
                  n);
  }
}

}  // namespace api

namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using http::experimental::listener::http_listener_config;
using Buffer = concurrency::streams::producer_consumer_buffer<uint8_t>;

constexpr size_t kReadChunk = 64 * 1024;
// An event stream whose reader leaves more than this unread is dropped
// rather than buffered: a stalled client costs at most this much.
constexpr size_t kMaxUnreadStreamBytes = 64 * 1024;

std::string Header(const http::http_request& request, const char* name) {
  auto it = request.headers().find(name);
  return it == request.headers().end() ? std::string() : it->second;
}

template <typename T>
void Observe(pplx::task<T> task) {
  task.then([](pplx::task<T> done) {
    try {
      done.get();
    } catch (const std::exception& e) {
      spdlog::debug("api: {}", e.what());  // a client went away
    }
  });
}

// Completes the content of a request whose body the listener may still be
// reading: the listener then writes our reply without waiting for the body,
// and stops reading it at its next chunk. Calls an internal of cpprestsdk
// (http_msg_base::_complete, public in its headers; the listener calls it
// itself on a read error): there is no public way to abandon a body.
void AbandonBody(const http::http_request& request) {
  try {
    request._get_impl()->_complete(0, std::make_exception_ptr(std::runtime_error("request body abandoned")));
  } catch (const std::exception& e) {
    spdlog::debug("api: abandoning a request body: {}", e.what());
  }
}

// Completed once the listener has the whole body (or failed to read it).
// content_ready() would add a continuation to it on every call, and with it
// a hand-over to a pool thread; this is the request's own event.
pplx::task<utility::size64_t> ContentDone(const http::http_request& request) {
  return pplx::create_task(request._get_impl()->_get_data_available());
}

bool Chunked(const http::http_request& request) {
  return Header(request, "Transfer-Encoding").find("chunked") != std::string::npos;
}

// The task id of GET /v1/tasks/{id}/events, or "".
std::string EventStreamTask(const api::Request& r) {
  const std::string kPrefix = "/v1/tasks/";
  const std::string kSuffix = "/events";
  if (r.method != "GET" || r.path.size() <= kPrefix.size() + kSuffix.size() ||
      r.path.rfind(kPrefix, 0) != 0 || !r.path.ends_with(kSuffix)) {
    return "";
  }
  return r.path.substr(kPrefix.size(), r.path.size() - kPrefix.size() - kSuffix.size());
}

}  // namespace

struct ApiServer::Impl {
  ApiOptions options;
  std::string database_url;
  const TaskTypes& types;
  TenantGate& tenants;
  SchedulerMetrics& metrics;
  std::unique_ptr<api::StorePool> stores;
  std::shared_ptr<TypeStore> type_store;
  std::unique_ptr<api::Router> router;
  std::unique_ptr<api::BulkRunner> bulk_runner;
  std::unique_ptr<api::EventHub> events;
  std::unique_ptr<api::Admission> admission;
  std::unique_ptr<api::DeadlineTimer> timer;
  std::unique_ptr<http_listener> listener;
  uint16_t port = 0;
  // Exchanges and streams still referenced by a continuation; the server
  // is destroyed only once none is left.
  std::atomic<int> live{0};
  // Requests in the router (between their body and their answer), and
  // whether Stop has begun (new requests are answered 503).
  std::atomic<int> handling{0};
  std::atomic<bool> stopping{false};

  Impl(ApiOptions o, std::string url, const TaskTypes& t, TenantGate& g, SchedulerMetrics& m)
      : options(std::move(o)), database_url(std::move(url)), types(t), tenants(g), metrics(m) {}

  struct Live {
    explicit Live(Impl& impl) : impl_(impl) { ++impl_.live; }
    ~Live() { --impl_.live; }
    Live(const Live&) = delete;
    Live& operator=(const Live&) = delete;
    Impl& impl_;
  };

  // One request and its single answer, shared by the continuations that
  // read its body, the deadline and the handler.
  struct Exchange {
    enum class Stage { kReading, kHandling, kAnswered };
    explicit Exchange(Impl& impl, http::http_request req) : live(impl), request(std::move(req)) {}
    Live live;
    http::http_request request;
    api::Request r;
    api::Caller caller;
    api::Admission::Slot slot;
    std::string method_label = "other";
    std::string route_label = "other";
    SteadyClock::time_point started = SteadyClock::now();
    std::atomic<Stage> stage{Stage::kReading};
    std::string body;
    std::vector<uint8_t> chunk;
    api::DeadlineTimer::Id deadline = 0;

    bool Claim(Stage from, Stage to) { return stage.compare_exchange_strong(from, to); }
  };
  using ExchangePtr = std::shared_ptr<Exchange>;

  // An open event stream: what the hub's sink and the reply share.
  struct Stream {
    explicit Stream(Impl& impl) : live(impl) {}
    Live live;
    Buffer buffer;
    std::atomic<bool> gone{false};
    api::Admission::Slot slot;
  };

  void Record(const Exchange& x, int status) {
    metrics.ApiRequest(x.method_label, x.route_label, status,
                       std::chrono::duration<double>(SteadyClock::now() - x.started).count());
  }

  // Writes `response` (once: the caller claimed the exchange) and frees
  // the request's slot.
  // Whether the listener is still reading the request's body: only then is
  // it ours to complete (AbandonBody). A body the listener completes at the
  // same moment (no body at all, or its last bytes in) must be left to it:
  // two completions of one event race inside pplx and abort the process.
  static bool BodyStillArriving(const Exchange& x) {
    if (ContentDone(x.request).is_done()) return false;
    const auto declared = x.request.headers().content_length();
    const bool chunked = Chunked(x.request);
    if (declared == 0 && !chunked) return false;
    if (!chunked) {
      auto stream = x.request.body().streambuf();
      const size_t buffered = stream ? stream.in_avail() : 0;
      if (x.body.size() + buffered >= declared) return false;
    }
    return true;
  }

  void Send(Exchange& x, const api::Response& response, bool abandon_body) {
    http::http_response reply(static_cast<http::status_code>(response.status));
    if (!response.body.empty()) {
      reply.set_body(std::vector<unsigned char>(response.body.begin(), response.body.end()));
      reply.headers().set_content_type(response.content_type);
    }
    if (response.retry_after_s > 0) reply.headers().add("Retry-After", std::to_string(response.retry_after_s));
    for (const auto& [name, value] : response.headers) reply.headers().add(name, value);
    abandon_body = abandon_body && BodyStillArriving(x);
    if (response.close || abandon_body) reply.headers().add("Connection", "close");
    try {
      Observe(x.request.reply(reply));
    } catch (const std::exception& e) {
      spdlog::debug("api: no reply: {}", e.what());  // the listener is closing
    }
    if (abandon_body) AbandonBody(x.request);
    Record(x, response.status);
    x.slot.Release();
  }

  // An answer before the body was read (an error, the deadline, the size
  // limit): unless the exchange was answered or handed to the router.
  void AnswerEarly(const ExchangePtr& x, const api::Response& response) {
    if (!x->Claim(Exchange::Stage::kReading, Exchange::Stage::kAnswered)) return;
    if (x->deadline != 0) timer->Cancel(x->deadline);
    Send(*x, response, /*abandon_body=*/true);
  }
  void AnswerEarly(const ExchangePtr& x, const api::ApiError& error) {
    AnswerEarly(x, api::ErrorReply(x->r, error));
  }

  void Handle(const ExchangePtr& x) {
    ++handling;
    // A single enqueue waits for its group commit without holding this
    // thread: the committer answers it (the reply holds the exchange, and
    // with it the request, until then).
    const bool async = router->HandleAsync(x->r, x->caller, [this, x](api::Response response) {
      x->stage = Exchange::Stage::kAnswered;
      Send(*x, response, /*abandon_body=*/false);
      --handling;
    });
    if (async) return;
    struct Done {
      std::atomic<int>& n;
      ~Done() { --n; }
    } done{handling};
    api::Response response = router->Handle(x->r, x->caller);
    x->stage = Exchange::Stage::kAnswered;
    Send(*x, response, /*abandon_body=*/false);
  }

  void Serve(http::http_request request) {
    auto x = std::make_shared<Exchange>(*this, std::move(request));
    if (stopping) {
      AnswerEarly(x, api::ApiError{503, "unavailable", "the scheduler is stopping; try another", ""});
      return;
    }
    try {
      api::Request& r = x->r;
      r.method = x->request.method();
      r.path = web::uri::decode(x->request.relative_uri().path());
      for (const auto& [key, value] : web::uri::split_query(x->request.relative_uri().query())) {
        r.query[web::uri::decode(key)] = web::uri::decode(value);
      }
      r.content_type = Header(x->request, "Content-Type");
      r.accept = Header(x->request, "Accept");
      r.authorization = Header(x->request, "Authorization");
      x->method_label = api::MethodLabel(r.method);
      x->route_label = api::RouteOf(r.path);
    } catch (const std::exception& e) {
      // Malformed URIs end up here, never in a crash.
      spdlog::debug("api: malformed request: {}", e.what());
      AnswerEarly(x, api::ApiError{400, "invalid_argument", "malformed request", ""});
      return;
    }
    try {
      const std::string client = x->request.remote_address();
      x->slot = admission->EnterRequest(client.empty() ? "unknown" : client);
      // The console's files need no token (the page asks for one); a body
      // sent with them is not read.
      if (auto ui = api::ConsoleResponse(x->r, options.console)) {
        AnswerEarly(x, *ui);
        return;
      }
      auto caller = router->Authenticate(x->r.authorization);
      if (!caller) {
        throw api::ApiError{401, "unauthenticated", "a valid 'Authorization: Bearer <token>' is required", ""};
      }
      x->caller = *caller;
      admission->CountTenant(x->slot, caller->tenant);
      if (std::string id = EventStreamTask(x->r); !id.empty()) {
        Watch(x, id);
        return;
      }
      const auto declared = x->request.headers().content_length();
      if (declared > options.max_body_bytes) {
        throw BodyTooLarge();
      }
      if (declared == 0 && !Chunked(x->request)) {
        if (x->Claim(Exchange::Stage::kReading, Exchange::Stage::kHandling)) Handle(x);
        return;
      }
      if (!ReadWholeBody(x)) ReadBody(x);
    } catch (...) {
      AnswerEarly(x, api::CurrentError(x->r));
    }
  }

  static api::ApiError BodyNotReceived() {
    return {400, "invalid_argument", "the request body was not received", ""};
  }
  api::ApiError BodyTooLarge() const {
    return {413, "payload_too_large",
            "request body over the limit of " + std::to_string(options.max_body_bytes) + " bytes", ""};
  }

  // A small body mostly arrives with its headers. When the listener holds
  // all of it, it is read here at once: no continuation and no deadline,
  // each of which hands the request to another thread (a single enqueue
  // took about 14 context switches of the pool threads before). False: the
  // body is still arriving, read it asynchronously.
  bool ReadWholeBody(const ExchangePtr& x) {
    auto done = ContentDone(x->request);
    if (!done.is_done()) return false;
    try {
      done.get();
      auto stream = x->request.body().streambuf();
      for (size_t avail = stream.in_avail(); avail > 0; avail = stream.in_avail()) {
        if (x->body.size() + avail > options.max_body_bytes) {
          AnswerEarly(x, BodyTooLarge());
          return true;
        }
        const size_t start = x->body.size();
        x->body.resize(start + avail);
        // Completes at once: what it asks for is buffered.
        const size_t n = stream.getn(reinterpret_cast<uint8_t*>(x->body.data() + start), avail).get();
        x->body.resize(start + n);
        if (n == 0) break;
      }
    } catch (const std::exception&) {
      AnswerEarly(x, BodyNotReceived());
      return true;
    }
    if (!x->Claim(Exchange::Stage::kReading, Exchange::Stage::kHandling)) return true;
    x->r.body = std::move(x->body);
    Handle(x);
    return true;
  }

  void ReadBody(const ExchangePtr& x) {
    // A declared length sizes the buffer: a small body's request then
    // neither allocates nor clears 64 KiB (2.5% of the scheduler's CPU at
    // 2,000 single enqueues a second, perf).
    const auto declared = x->request.headers().content_length();
    const bool sized = declared > 0 && !Chunked(x->request);
    x->chunk.resize(sized ? std::min<size_t>(declared, kReadChunk) : kReadChunk);
    x->deadline = timer->Add(SteadyClock::now() + options.body_timeout, [this, x] {
      AnswerEarly(x, api::ApiError{408, "request_timeout",
                                   "the request body did not arrive within " +
                                       std::to_string(options.body_timeout.count()) + " ms",
                                   ""});
    });
    ReadNext(x);
  }

  void ReadNext(const ExchangePtr& x) {
    auto stream = x->request.body().streambuf();
    stream.getn(x->chunk.data(), x->chunk.size()).then([this, x](pplx::task<size_t> read) {
      size_t n = 0;
      try {
        n = read.get();
      } catch (const std::exception&) {
        AnswerEarly(x, BodyNotReceived());
        return;
      }
      if (x->stage != Exchange::Stage::kReading) return;  // answered meanwhile
      if (n == 0) {
        BodyEnded(x);
        return;
      }
      x->body.append(reinterpret_cast<const char*>(x->chunk.data()), n);
      // What the listener has buffered counts too: it may read faster
      // than these continuations run.
      if (x->body.size() + x->request.body().streambuf().in_avail() > options.max_body_bytes) {
        AnswerEarly(x, BodyTooLarge());
        return;
      }
      ReadNext(x);
    });
  }

  // The stream ended: whole when the listener completed the content
  // without an error (a connection lost mid-body ends the stream too).
  void BodyEnded(const ExchangePtr& x) {
    ContentDone(x->request).then([this, x](pplx::task<utility::size64_t> ready) {
      try {
        ready.get();
      } catch (const std::exception&) {
        AnswerEarly(x, BodyNotReceived());
        return;
      }
      if (!x->Claim(Exchange::Stage::kReading, Exchange::Stage::kHandling)) return;
      timer->Cancel(x->deadline);
      x->r.body = std::move(x->body);
      Handle(x);
    });
  }

  // GET /v1/tasks/{id}/events: a Server-Sent Events stream fed by the hub.
  // Its slot counts against the stream limits until the hub drops it.
  void Watch(const ExchangePtr& x, const std::string& id) {
    auto stream = std::make_shared<Stream>(*this);
    stream->slot = admission->EnterStream(x->caller.tenant);  // ApiError past a limit
    api::Response check = router->AuthorizeWatch(x->r, x->caller, id);
    if (check.status != 200) {
      AnswerEarly(x, check);
      return;
    }
    if (!x->Claim(Exchange::Stage::kReading, Exchange::Stage::kAnswered)) return;
    http::http_response reply(http::status_codes::OK);
    reply.headers().set_content_type("text/event-stream");
    reply.headers().add("Cache-Control", "no-cache");
    reply.set_body(stream->buffer.create_istream());
    try {
      x->request.reply(reply).then([stream](pplx::task<void> sent) {
        stream->gone = true;  // written to the end, or the client went away
        try {
          sent.get();
        } catch (const std::exception& e) {
          spdlog::debug("api: event stream ended: {}", e.what());
        }
      });
    } catch (const std::exception& e) {
      spdlog::debug("api: no event stream: {}", e.what());  // the listener is closing
      return;
    }
    Record(*x, 200);
    x->slot.Release();  // a stream is no request in flight: its own limits hold it
    events->Subscribe(
        id,
        [stream](const std::string& chunk, bool last) {
          Buffer& buffer = stream->buffer;
          if (stream->gone || !buffer.can_write()) return false;
          if (buffer.in_avail() + chunk.size() > kMaxUnreadStreamBytes) {
            Observe(buffer.close(std::ios_base::out));  // a stalled reader: dropped
            return false;
          }
          if (!chunk.empty()) {
            Observe(buffer.putn_nocopy(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()));
            Observe(buffer.sync());
          }
          if (last) Observe(buffer.close(std::ios_base::out));
          return true;
        },
        options.event_stream_max);
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
  m.type_store = MakePostgresTypeStore(url, 2);
  m.router = std::make_unique<api::Router>(m.options, *m.stores, m.types, *m.type_store, m.tenants, m.metrics,
                                           m.database_url);
  // Bulk jobs run on a connection of their own, never one of the requests'.
  m.bulk_runner = std::make_unique<api::BulkRunner>([url] { return std::make_unique<PostgresStore>(url); });
  m.router->SetBulkRunner(m.bulk_runner.get());
  m.bulk_runner->Start();
  m.admission = std::make_unique<api::Admission>(m.options.admission);
  m.timer = std::make_unique<api::DeadlineTimer>();
  m.events = std::make_unique<api::EventHub>(m.database_url, m.types);
  m.events->Start();
  static std::once_flag pool_sized;
  std::call_once(pool_sized, [&] {
    if (m.options.threads == 0) return;
    try {
      crossplat::threadpool::initialize_with_threads(m.options.threads);
    } catch (const std::exception& e) {
      // Something in this process used cpprestsdk first: its pool stays.
      spdlog::warn("api: thread pool already started, --api-threads {} not applied ({})", m.options.threads,
                   e.what());
    }
  });
  try {
    m.listener = std::make_unique<http_listener>(
        web::uri("http://" + m.options.listen.substr(0, colon) + ":" + std::to_string(port) + "/"),
        http_listener_config());
    m.listener->support([&m](http::http_request request) { m.Serve(std::move(request)); });
    m.listener->open().wait();
  } catch (const std::exception& e) {
    m.listener.reset();
    throw TransientError("cannot listen on " + m.options.listen + ": " + e.what());
  }
  m.port = static_cast<uint16_t>(port);
  spdlog::info("api listening on http://{}", m.options.listen);
}

void ApiServer::Stop(std::chrono::milliseconds budget) {
  if (!impl_ || !impl_->listener) return;
  const Deadline deadline = DeadlineIn(budget);
  // Streams first: the listener's close waits for every connection, and a
  // stream's connection ends only once its body does.
  impl_->events->Stop();
  impl_->bulk_runner->Stop();  // between two batches: each commits whole or not at all
  // The listener is left open: cpprestsdk's close() races with
  // continuations still running on its connections, and under load (60
  // slow bodies and 50 streams at SIGTERM) it crashed inside its reactor
  // (SIGSEGV) about one run in twenty. The process exits right after Stop;
  // until then new requests get 503, the ones in the router finish (their
  // transactions commit or roll back whole), and the sockets close with
  // the process.
  impl_->stopping = true;
  while (impl_->handling > 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (impl_->handling > 0) {
    spdlog::warn("api: requests still being handled after {} ms; not waiting for them", budget.count());
  }
  // Continuations may still refer to the server: never freed.
  (void)impl_.release();
}

uint16_t ApiServer::Port() const { return impl_ ? impl_->port : 0; }

}  // namespace fila
