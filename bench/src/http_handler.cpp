// The http scenario: the same burn-down twice in one run, once of the
// built-in noop and once of a registered type whose handler is a no-op
// HTTP endpoint on loopback. The endpoint is served in this process by
// civetweb (kept-alive connections, one thread each): a server in C++, so
// that the figure is fila's cost of a task going out over HTTP (the POST,
// its callback URL, the answer's parsing), not a scripting runtime's.
#include <civetweb.h>

#include <cstdio>
#include <mutex>

#include "fila/core/task_request.h"
#include "fila/core/type_definition.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

int OnTask(mg_connection* conn, void*) {
  char buffer[8192];
  while (mg_read(conn, buffer, sizeof buffer) > 0) {
  }
  static constexpr char kAnswer[] =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  mg_write(conn, kAnswer, sizeof kAnswer - 1);
  return 200;
}

// The no-op endpoint: answers 200 {} to every POST /tasks.
class NoopEndpoint final {
 public:
  explicit NoopEndpoint(int connections) {
    static std::once_flag once;
    std::call_once(once, [] { mg_init_library(0); });
    const std::string threads = std::to_string(connections + 8);
    const char* config[] = {"listening_ports", "127.0.0.1:0", "num_threads", threads.c_str(),
                            "enable_keep_alive", "yes", "keep_alive_timeout_ms", "60000", nullptr};
    mg_callbacks callbacks{};
    context_ = mg_start(&callbacks, nullptr, config);
    if (context_ == nullptr) throw BenchError("cannot start the no-op HTTP endpoint");
    mg_set_request_handler(context_, "/tasks", &OnTask, nullptr);
    mg_server_port port{};
    if (mg_get_server_ports(context_, 1, &port) < 1) {
      mg_stop(context_);
      throw BenchError("the no-op HTTP endpoint has no port");
    }
    url_ = "http://127.0.0.1:" + std::to_string(port.port) + "/tasks";
  }
  ~NoopEndpoint() { mg_stop(context_); }
  NoopEndpoint(const NoopEndpoint&) = delete;
  NoopEndpoint& operator=(const NoopEndpoint&) = delete;
  const std::string& Url() const { return url_; }

 private:
  mg_context* context_ = nullptr;
  std::string url_;
};

// Registers bench.http_noop (any JSON payload, handler: `url`) in the
// scenario's database and makes its task.
NewTask HttpNoopTask(const std::string& database_url, const std::string& queue, const std::string& url) {
  v1::TaskTypeDefinition d;
  d.set_name("bench.http_noop");
  d.set_queue(queue);
  d.mutable_schema()->set_any_json(true);
  d.mutable_handler()->mutable_http()->set_url(url);
  const std::string stored = MakePostgresTypeStore(database_url)->Apply(d.SerializeAsString()).first;
  TaskTypes types;
  types.SetRegistered({SpecFromDefinition(stored)});
  TaskRequest request;
  request.type = d.name();
  request.queue = queue;
  request.payload_form = TaskRequest::PayloadForm::kJson;
  request.payload = "{}";
  return PrepareTask(request, types, TaskLimits{});
}

}  // namespace

Result RunHttpHandler(const Options& options, const std::string& log_dir) {
  const int64_t tasks = options.http_tasks;
  const Result builtin = RunBurnDown(options, tasks, log_dir);
  NoopEndpoint endpoint(options.workers * options.concurrency * 2);
  Result r = RunBurnDownOf(options, tasks, log_dir, "http", [&](const std::string& database_url, const std::string& queue) {
    return HttpNoopTask(database_url, queue, endpoint.Url());
  });
  r.kind = Result::Kind::kFilaHttp;
  r.label = "fila HTTP no-op handler (" + Thousands(static_cast<double>(tasks)) + ", " +
            std::to_string(options.workers) + "×" + std::to_string(options.concurrency) + ")";
  r.builtin_tasks_per_s = builtin.tasks_per_s;
  char line[160];
  std::snprintf(line, sizeof line, "built-in noop in the same run: %s tasks/s; HTTP/built-in %.0f%%",
                Thousands(builtin.tasks_per_s).c_str(), r.tasks_per_s / builtin.tasks_per_s * 100);
  r.notes.insert(r.notes.begin(), line);
  Say("http: " + std::string(line));
  return r;
}

}  // namespace fila::bench
