#include "http_handler_fixture.h"

#include <dirent.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fila/core/task_request.h"
#include "fila/core/type_definition.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

int CountEntries(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

}  // namespace

Holdings HoldingsOf(int pid) {
  Holdings h;
  h.threads = CountEntries("/proc/" + std::to_string(pid) + "/task");
  h.fds = CountEntries("/proc/" + std::to_string(pid) + "/fd");
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) ++h.children;
  }
  return h;
}

void HttpHandlerTest::SetUp() {
  db_ = std::make_unique<TestDatabase>();
  queue_ = RandomName("httph");
  handler_ = std::make_unique<Process>("/usr/bin/python3",
                                       std::vector<std::string>{SourceDir() + "/tests/handlers/python_http_handler.py"});
  const std::string prefix = "listening on ";
  ASSERT_TRUE(WaitFor([&] { return handler_->Stdout().find(prefix) != std::string::npos; }, 10s))
      << handler_->Stderr();
  const std::string out = handler_->Stdout();
  const auto at = out.find(prefix) + prefix.size();
  handler_url_ = out.substr(at, out.find('\n', at) - at);
}

void HttpHandlerTest::TearDown() {
  if (HasFailure()) std::cerr << Diagnostics() << "\n";
}

TaskTypeSpec HttpHandlerTest::Register(const std::string& name, const TypeOptions& o) {
  v1::TaskTypeDefinition d;
  d.set_name(name);
  d.set_queue(queue_);
  d.mutable_schema()->set_any_json(true);
  d.set_timeout_ms(o.timeout_ms);
  d.mutable_retry()->set_max_attempts(o.max_attempts);
  d.mutable_retry()->set_base_ms(o.retry_base_ms);
  d.mutable_retry()->set_cap_ms(o.retry_base_ms * 4);
  d.mutable_handler()->mutable_http()->set_url(o.url.empty() ? handler_url_ + "/tasks" : o.url);
  d.mutable_handler()->mutable_http()->set_concurrency(o.concurrency);
  auto [stored, created] = MakePostgresTypeStore(db_->url())->Apply(d.SerializeAsString());
  EXPECT_TRUE(created);
  return SpecFromDefinition(stored);
}

std::vector<std::string> HttpHandlerTest::Enqueue(const TaskTypeSpec& spec, const std::vector<json>& payloads,
                                                  const std::string& tenant) {
  TaskTypes types;
  types.SetRegistered({spec});
  std::vector<NewTask> tasks;
  for (const json& payload : payloads) {
    TaskRequest r;
    r.type = spec.name;
    r.tenant = tenant;
    r.payload_form = TaskRequest::PayloadForm::kJson;
    r.payload = payload.dump();
    tasks.push_back(PrepareTask(r, types, TaskLimits{}));
  }
  std::vector<std::string> ids;
  for (const auto& r : PostgresStore(db_->url()).Enqueue(tasks)) ids.push_back(r.id);
  return ids;
}

void HttpHandlerTest::StartScheduler(std::vector<std::string> extra) {
  extra.insert(extra.end(), {"--worker-timeout-ms", "2000", "--reap-interval-ms", "250"});
  scheduler_ = std::make_unique<Process>(
      "fila-scheduler", extra,
      std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", Stack().amqp_url}});
}

Process& HttpHandlerTest::StartWorker(const std::string& id, int slots, std::vector<std::string> extra) {
  std::vector<std::string> args{"--queues", queue_, "--concurrency", std::to_string(slots), "--worker-id", id,
                                "--heartbeat-interval-ms", "300"};
  args.insert(args.end(), extra.begin(), extra.end());
  workers_.push_back(std::make_unique<Process>(
      "fila-worker", args,
      std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", Stack().amqp_url}}));
  return *workers_.back();
}

std::string HttpHandlerTest::State(const std::string& id) const {
  return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
}

std::string HttpHandlerTest::Result(const std::string& id) const {
  return db_->Scalar("SELECT coalesce(convert_from(result, 'UTF8'), '') FROM tasks WHERE id = '" + id + "'");
}

std::string HttpHandlerTest::LastError(const std::string& id) const {
  return db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'");
}

bool HttpHandlerTest::WaitTerminal(const std::string& id, std::chrono::milliseconds timeout) const {
  return test::WaitTerminal(*db_, {id}, timeout);
}

std::vector<json> HttpHandlerTest::Events(const std::string& id) const {
  std::vector<json> events;
  std::istringstream in(handler_->Stdout());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded()) continue;
    if (!id.empty() && e.value("id", "") != id) continue;
    events.push_back(std::move(e));
  }
  return events;
}

bool HttpHandlerTest::WaitEvent(const std::string& id, const std::string& event,
                                std::chrono::milliseconds timeout) const {
  return WaitFor([&] {
    for (const auto& e : Events(id)) {
      if (e.value("event", "") == event) return true;
    }
    return false;
  }, timeout);
}

std::string HttpHandlerTest::Diagnostics(const std::string& id) const {
  std::string text;
  if (!id.empty()) text += "state " + State(id) + ", last_error " + LastError(id) + "\n";
  for (const auto& w : workers_) text += "worker:\n" + w->Stderr().substr(0, 6000) + "\n";
  if (scheduler_) text += "scheduler:\n" + scheduler_->Stderr().substr(0, 3000) + "\n";
  if (handler_) text += "handler:\n" + handler_->Stdout().substr(0, 3000) + handler_->Stderr().substr(0, 3000);
  return text;
}

}  // namespace fila::test
