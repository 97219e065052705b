#include "fault_fixture.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "fila/core/task_types.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila::fault {
namespace {

// "scheme://user@host:port/db" -> "host:port".
std::string HostPort(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto at = url.find('@', start);
  auto slash = url.find('/', start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) start = at + 1;
  return url.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
}

}  // namespace

void FaultTest::SetUp() {
  db_ = std::make_unique<test::TestDatabase>(true, base_database_url_);
  queue_ = test::RandomName("fault");
  env_ = {{"FILA_DATABASE_URL", db_->url()},
          {"FILA_AMQP_URL", test::Stack().amqp_url},
          {"FILA_LOG_LEVEL", "info"}};
}

void FaultTest::TearDown() {
  // Processes go first (SIGKILL if still running), then the database.
  processes_.clear();
  db_.reset();
}

NewTask FaultTest::Task(const std::string& type, const std::string& payload_json,
                        const TaskOptions& options) const {
  static const TaskTypes types = TaskTypes::Builtin(TestTypes::kEnabled);
  NewTask t;
  t.type = type;
  t.queue = queue_;
  t.priority = options.priority;
  t.max_attempts = options.max_attempts;
  t.timeout_ms = options.timeout_ms;
  t.retry_base_ms = options.retry_base_ms;
  t.retry_cap_ms = options.retry_cap_ms;
  t.payload = types.PayloadFromJson(type, payload_json.empty() ? "{}" : payload_json);
  return t;
}

std::vector<std::string> FaultTest::Enqueue(const std::vector<NewTask>& tasks) {
  PostgresStore store(db_->url());
  std::vector<std::string> ids;
  ids.reserve(tasks.size());
  for (size_t done = 0; done < tasks.size(); done += 1000) {
    const size_t n = std::min<size_t>(1000, tasks.size() - done);
    std::vector<NewTask> chunk(tasks.begin() + static_cast<std::ptrdiff_t>(done),
                               tasks.begin() + static_cast<std::ptrdiff_t>(done + n));
    for (const auto& r : store.Enqueue(chunk)) ids.push_back(r.id);
  }
  return ids;
}

std::vector<std::string> FaultTest::Enqueue(const std::string& type, const std::string& payload_json,
                                            int count, const TaskOptions& options) {
  return Enqueue(std::vector<NewTask>(static_cast<size_t>(count), Task(type, payload_json, options)));
}

test::Process& FaultTest::StartScheduler(std::vector<std::string> args) {
  processes_.push_back({"fila-scheduler", std::make_unique<test::Process>("fila-scheduler", std::move(args), env_)});
  return *processes_.back().process;
}

test::Process& FaultTest::StartWorker(const std::string& id, int concurrency,
                                      std::vector<std::string> extra_args) {
  std::vector<std::string> args{"--queues", queue_, "--concurrency", std::to_string(concurrency),
                                "--worker-id", id};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  processes_.push_back({"fila-worker " + id, std::make_unique<test::Process>("fila-worker", std::move(args), env_)});
  return *processes_.back().process;
}

test::Process& FaultTest::StartWorkerIn(const test::NetNs& ns, const std::string& id, int concurrency,
                                        std::vector<std::string> extra_args) {
  // ip netns exec NAME fila-worker ...: `ip` execs the worker (same pid).
  std::vector<std::string> args = ns.Exec();
  const std::string ip = args.front();
  args.erase(args.begin());
  args.insert(args.end(), {test::BinDir() + "/fila-worker", "--queues", queue_, "--concurrency",
                           std::to_string(concurrency), "--worker-id", id, "--metrics-listen",
                           ns.inner_address() + ":0"});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto env = env_;
  for (const char* url : {"FILA_DATABASE_URL", "FILA_AMQP_URL"}) env[url] = ns.Rewrite(env[url]);
  processes_.push_back({"fila-worker " + id + " (in " + ns.name() + ")",
                        std::make_unique<test::Process>(ip, std::move(args), std::move(env))});
  return *processes_.back().process;
}

int64_t FaultTest::CountOrMinusOne(const std::string& sql) const {
  try {
    return db_->Count(sql);
  } catch (const std::exception&) {
    return -1;
  }
}

int64_t FaultTest::CountState(const std::string& state) const {
  return Count("SELECT count(*) FROM tasks WHERE state = '" + state + "'");
}

int64_t FaultTest::CountActive() const {
  return Count("SELECT count(*) FROM tasks WHERE state IN ('queued', 'scheduled', 'running', 'blocked')");
}

std::string FaultTest::State(const std::string& id) const {
  return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
}

std::string FaultTest::DbNow() const { return db_->Scalar("SELECT clock_timestamp()::text"); }

bool FaultTest::WaitAllTerminal(std::chrono::milliseconds timeout) const {
  return test::WaitFor(
      [&] {
        return CountOrMinusOne("SELECT count(*) FROM tasks WHERE state IN "
                               "('queued', 'scheduled', 'running', 'blocked')") == 0;
      },
      timeout);
}

void FaultTest::ExpectInvariants(int64_t total) const {
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), total) << "tasks lost (or invented)";
  EXPECT_EQ(CountActive(), 0) << "tasks not terminal: "
                              << ::testing::PrintToString(db_->Rows(
                                     "SELECT state, count(*) FROM tasks GROUP BY state ORDER BY 1"));
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT task_id FROM task_attempts WHERE outcome = 'succeeded' "
                  "GROUP BY task_id HAVING count(*) > 1) x"),
            0)
      << "a task has more than one recorded successful finish";
  EXPECT_EQ(Count("SELECT count(*) FROM tasks t WHERE t.state = 'succeeded' AND 1 <> "
                  "(SELECT count(*) FROM task_attempts a WHERE a.task_id = t.id AND a.outcome = 'succeeded' "
                  "AND a.attempt = t.attempt)"),
            0)
      << "a succeeded task without exactly one successful attempt at its final attempt number";
  EXPECT_EQ(Count("SELECT count(*) FROM tasks t JOIN task_attempts a ON a.task_id = t.id "
                  "WHERE t.state <> 'succeeded' AND a.outcome = 'succeeded'"),
            0)
      << "a task that did not succeed has a successful attempt";
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT task_id, attempt FROM task_attempts "
                  "GROUP BY task_id, attempt HAVING count(*) > 1) x"),
            0)
      << "two attempt rows share (task_id, attempt)";
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts a JOIN tasks t ON t.id = a.task_id "
                  "WHERE a.attempt > t.attempt OR a.attempt < 1"),
            0)
      << "an attempt row beyond the task's fencing attempt";
}

std::map<std::string, int64_t> FaultTest::ExitCounters(const std::string& stderr_text,
                                                       const std::string& worker_id) {
  std::map<std::string, int64_t> counters;
  const std::string marker = "worker " + worker_id + " stopped:";
  auto pos = stderr_text.rfind(marker);
  if (pos == std::string::npos) return counters;
  auto end = stderr_text.find('\n', pos);
  std::istringstream line(stderr_text.substr(pos + marker.size(),
                                             end == std::string::npos ? std::string::npos
                                                                      : end - pos - marker.size()));
  std::string word;
  while (line >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    try {
      counters[word.substr(0, eq)] = std::stoll(word.substr(eq + 1));
    } catch (const std::exception&) {
    }
  }
  return counters;
}

int64_t FaultTest::Occurrences(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

std::string FaultTest::Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // the last line's own newline
  for (size_t n = 0; n < lines; ++n) {
    if (pos == 0) return text;
    auto nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

std::string FaultTest::Logs(size_t lines) const {
  std::string out;
  for (const auto& p : processes_) {
    out += "--- " + p.name + " (stderr, last lines) ---\n" + Tail(p.process->Stderr(), lines);
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  return out;
}

StackOutage::StackOutage(std::string service) : service_(std::move(service)) {
  if (service_ != "pg" && service_ != "rmq") throw std::invalid_argument("service: pg or rmq");
  const std::string env = test::StackOutput("env");
  for (const auto& url : {test::Stack().database_url, test::Stack().amqp_url}) {
    if (env.find(HostPort(url)) == std::string::npos) {
      throw std::runtime_error("the tests use " + HostPort(url) +
                               ", which is not the stack of FILA_STACK_DIR (scripts/stack env:\n" + env +
                               "); refusing to stop it");
    }
  }
}

StackOutage::~StackOutage() {
  if (!stopped_) return;
  try {
    Start();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "could not restart " << service_ << ": " << e.what();
  }
}

void StackOutage::Stop() {
  stopped_ = true;  // even if stopping fails half-way, try to start it again
  test::StackCommand("stop-" + service_);
}

void StackOutage::Start() {
  test::StackCommand("start-" + service_);
  stopped_ = false;
}

}  // namespace fila::fault
