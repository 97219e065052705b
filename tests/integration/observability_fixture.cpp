#include "observability_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <span>
#include <sstream>
#include <stdexcept>

#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/clock.h"

extern char** environ;

namespace fila::obs {
namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json Dashboard() {
  return nlohmann::json::parse(ReadFile(test::SourceDir() + "/dashboards/fila.json"));
}

}  // namespace

std::string NewTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fila-obs-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Tool::Tool(const std::string& path, const std::vector<std::string>& args, const std::string& dir,
           const std::string& input) {
  static int counter = 0;
  const std::string stem = dir + "/" + std::filesystem::path(path).filename().string() + "-" +
                           std::to_string(counter++);
  out_path_ = stem + ".out";
  err_path_ = stem + ".err";
  const std::string in_path = stem + ".in";
  std::ofstream(in_path, std::ios::binary) << input;

  std::vector<std::string> storage{path};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + path);
}

Tool::~Tool() {
  if (Wait(0ms) == -1) {
    ::kill(pid_, SIGKILL);
    Wait(10s);
  }
}

void Tool::Signal(int signal) {
  if (status_ == -1) ::kill(pid_, signal);
}

int Tool::Wait(std::chrono::milliseconds timeout) {
  test::WaitFor(
      [&] {
        if (status_ != -1) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
        return status_ != -1;
      },
      timeout);
  return status_;
}

std::string Tool::Stdout() const { return ReadFile(out_path_); }
std::string Tool::Stderr() const { return ReadFile(err_path_); }

std::map<std::string, std::string> MetricFamilies(const std::string& exposition) {
  static const std::regex kType("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)$");
  std::map<std::string, std::string> out;
  std::istringstream lines(exposition);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, kType)) out[m[1]] = m[2];
  }
  return out;
}

std::vector<std::string> DashboardExprs() {
  std::vector<std::string> out;
  const auto collect = [&](const nlohmann::json& panels, auto& self) -> void {
    for (const auto& p : panels) {
      for (const auto& t : p.value("targets", nlohmann::json::array())) out.push_back(t.value("expr", ""));
      if (p.contains("panels")) self(p.at("panels"), self);  // collapsed rows
    }
  };
  collect(Dashboard().at("panels"), collect);
  return out;
}

std::map<std::string, std::string> DashboardVariableQueries() {
  std::map<std::string, std::string> out;
  for (const auto& v : Dashboard().at("templating").at("list")) {
    if (v.value("type", "") == "query") {
      const auto& q = v.at("query");
      out[v.value("name", "")] = q.is_string() ? q.get<std::string>() : q.value("query", "");
    }
  }
  return out;
}

std::set<std::string> MetricTokens(const std::string& text) {
  static const std::regex kMetric("fila_[a-z0-9_]+");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kMetric); it != std::sregex_iterator();
       ++it) {
    out.insert(it->str());
  }
  return out;
}

std::set<std::string> DashboardMetricTokens() {
  std::set<std::string> out;
  for (const auto& expr : DashboardExprs()) out.merge(MetricTokens(expr));
  for (const auto& [name, query] : DashboardVariableQueries()) out.merge(MetricTokens(query));
  return out;
}

std::string ReadmeAlertRules() {
  const std::string readme = ReadFile(test::SourceDir() + "/dashboards/README.md");
  const std::string open = "```yaml\n";
  const auto start = readme.find(open);
  if (start == std::string::npos) return "";
  const auto end = readme.find("```", start + open.size());
  return readme.substr(start + open.size(), end - start - open.size());
}

std::string UrlEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void Observability::SetUp() {
  dir_ = NewTempDir();
  db_ = std::make_unique<test::TestDatabase>();
  queue_ = test::RandomName("obs");
  env_ = {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", test::Stack().amqp_url}};
}

void Observability::TearDown() {
  processes_.clear();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

test::Process& Observability::StartScheduler() {
  processes_.push_back(std::make_unique<test::Process>(
      "fila-scheduler",
      std::vector<std::string>{"--metrics-listen", "127.0.0.1:0", "--sample-interval-ms", "200",
                               "--worker-timeout-ms", "1500", "--reap-interval-ms", "200"},
      env_));
  return *processes_.back();
}

test::Process& Observability::StartWorker(const std::string& id, int concurrency) {
  processes_.push_back(std::make_unique<test::Process>(
      "fila-worker",
      std::vector<std::string>{"--queues", queue_, "--concurrency", std::to_string(concurrency),
                               "--worker-id", id, "--heartbeat-interval-ms", "200",
                               "--metrics-listen", "127.0.0.1:0"},
      env_));
  return *processes_.back();
}

std::vector<std::string> Observability::Enqueue(std::vector<std::string> args) {
  args.insert(args.begin(), "enqueue");
  args.insert(args.end(), {"--queue", queue_});
  const auto r = test::RunFila("fila", args, env_);
  EXPECT_EQ(r.ExitCode(), 0) << r.err;
  std::vector<std::string> ids;
  std::istringstream lines(r.out);
  for (std::string id; std::getline(lines, id);) {
    if (!id.empty()) ids.push_back(id);
  }
  return ids;
}

int64_t Observability::CountState(const std::string& state) {
  return db_->Count("SELECT count(*) FROM tasks WHERE state = '" + state + "'");
}

void Observability::RunNoopTasks(int count) {
  scheduler_ = &StartScheduler();
  worker_ = &StartWorker("w1", 4);
  Enqueue({"noop", "--count", std::to_string(count)});
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == count; }, 60s)) << Logs();
}

void Observability::RunEveryKindOfTask() {
  scheduler_ = &StartScheduler();
  // A worker SIGKILLed while it runs a task: RabbitMQ hands its unacked
  // message to the next worker flagged as redelivered, and the reaper takes
  // the task back as worker_lost and retries it.
  test::Process& doomed = StartWorker("doomed", 1);
  Enqueue({"sleep", "--payload-json", R"({"ms": 1500})", "--retry-base-ms", "10", "--retry-cap-ms", "20"});
  ASSERT_TRUE(test::WaitFor([&] { return CountState("running") == 1; }, 30s)) << Logs();
  doomed.Signal(SIGKILL);
  ASSERT_NE(doomed.Wait(10s), -1);
  worker_ = &StartWorker("survivor", 4);

  Enqueue({"noop", "--count", "5"});
  // Fails both its attempts: one retry, then dead.
  Enqueue({"flaky", "--payload-json", R"({"fail_times": 5})", "--max-attempts", "2",
           "--retry-base-ms", "10", "--retry-cap-ms", "20"});
  // Not an envelope (a leading 'f' is an invalid protobuf wire type): the
  // worker moves it to fila.dead, which the poison fault test drains.
  auto broker = MakeRabbitMqBroker({.url = test::Stack().amqp_url});
  const OutgoingMessage poison{queue_, "fila-poison from the observability tests", 0, "poison-" + queue_};
  broker->NewPublisher()->PublishConfirmed(std::span(&poison, 1), DeadlineIn(10s));

  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 6 && CountState("dead") == 1; }, 60s))
      << "succeeded " << CountState("succeeded") << ", dead " << CountState("dead") << "\n" << Logs();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'"), 1) << Logs();
}

std::string Observability::MetricsAddress(const test::Process& process) {
  const std::string address = test::MetricsAddress(process);
  EXPECT_FALSE(address.empty()) << "no 'metrics on http://...' line:\n" << process.Stderr();
  return address;
}

std::string Observability::Scrape(const test::Process& process) {
  const auto r = test::Http("GET", "http://" + MetricsAddress(process) + "/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  return r.body;
}

std::string Observability::Logs() const {
  std::string out;
  for (const auto& p : processes_) out += "--- pid " + std::to_string(p->pid()) + "\n" + p->Stderr();
  return out;
}

}  // namespace fila::obs
