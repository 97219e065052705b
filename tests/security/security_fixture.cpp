#include "security_fixture.h"

#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <sstream>
#include <thread>

namespace fila::test {
namespace {

// Retry-After (seconds) of an answer's header lines, in ms; 1 s if none.
long RetryAfterMs(const std::string& headers) {
  std::string lower = headers;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = lower.find("retry-after:");
  if (at == std::string::npos) return 1000;
  return std::strtol(lower.c_str() + at + 12, nullptr, 10) * 1000;
}

}  // namespace

void SecurityTest::SetUp() {
  db_ = std::make_unique<TestDatabase>();
  port_ = FreePort();
  base_ = "http://127.0.0.1:" + std::to_string(port_);
  StartScheduler();
}

void SecurityTest::TearDown() {
  workers_.clear();
  scheduler_.reset();
}

std::map<std::string, std::string> SecurityTest::Env() const {
  return {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", Stack().amqp_url}};
}

void SecurityTest::StartScheduler(std::vector<std::string> args,
                                  std::map<std::string, std::string> env) {
  scheduler_.reset();
  std::vector<std::string> all{"--api-listen", "127.0.0.1:" + std::to_string(port_),
                               "--api-token-cache-ms", "200", "--tenant-cache-ms", "200"};
  all.insert(all.end(), args.begin(), args.end());
  auto merged = Env();
  for (auto& [k, v] : env) merged[k] = v;
  scheduler_ = std::make_unique<Process>("fila-scheduler", all, merged);
  ASSERT_TRUE(WaitFor([&] { return Http("GET", base_ + "/v1/queues").status != 0; },
                      std::chrono::seconds(20)))
      << scheduler_->Stderr();
}

Process& SecurityTest::StartWorker(std::vector<std::string> args,
                                   std::map<std::string, std::string> env) {
  auto merged = Env();
  for (auto& [k, v] : env) merged[k] = v;
  workers_.push_back(std::make_unique<Process>("fila-worker", std::move(args), merged));
  return *workers_.back();
}

RunResult SecurityTest::Fila(std::vector<std::string> args, std::map<std::string, std::string> env) {
  auto merged = Env();
  for (auto& [k, v] : env) merged[k] = v;
  return RunFila("fila", std::move(args), merged);
}

std::string SecurityTest::Token(const std::string& tenant, const std::string& role) {
  auto r = Fila({"tokens", "create", "--tenant", tenant, "--role", role});
  EXPECT_EQ(r.ExitCode(), 0) << r.err;
  std::string token = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(token.rfind("fila_", 0), 0u) << token;
  return token;
}

HttpResult SecurityTest::Call(const std::string& method, const std::string& path,
                              const std::string& token, const std::string& body,
                              const std::string& content_type) {
  std::vector<std::string> headers{"Content-Type: " + content_type};
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return Http(method, base_ + path, headers, body);
}

std::string SecurityTest::Enqueue(const std::string& token, const std::string& json) {
  // As a producer does: a 429 (backpressure: the database commits slowly
  // under a neighbour's load) is retried after its Retry-After, for 60 s.
  auto r = Call("POST", "/v1/tasks", token, json);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (r.status == 429 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp(RetryAfterMs(r.headers), 50L, 5000L)));
    r = Call("POST", "/v1/tasks", token, json);
  }
  EXPECT_EQ(r.status, 201) << json << " -> " << r.body;
  return r.status == 201 ? JsonField(r.body, "id") : "";
}

std::string SecurityTest::State(const std::string& id) const {
  return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
}

PythonServer::PythonServer(const std::string& script, std::vector<std::string> args) {
  args.insert(args.begin(), SourceDir() + "/" + script);
  process_ = std::make_unique<Process>("/usr/bin/python3", args);
  WaitFor(
      [&] {
        const std::string out = process_->Stdout();
        const auto at = out.find("listening on ");
        if (at == std::string::npos) return false;
        std::string rest = out.substr(at + 13);
        if (rest.rfind("http://127.0.0.1:", 0) == 0) rest = rest.substr(17);
        port_ = std::atoi(rest.c_str());
        return port_ > 0;
      },
      std::chrono::seconds(10));
  if (port_ == 0) throw std::runtime_error(script + " did not start: " + process_->Stderr());
}

std::string JsonField(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return {};
  pos += key.size() + 3;
  while (pos < json.size() && json[pos] == ' ') ++pos;
  if (pos < json.size() && json[pos] == '"') {
    auto end = json.find('"', pos + 1);
    return json.substr(pos + 1, end - pos - 1);
  }
  auto end = json.find_first_of(",}", pos);
  return json.substr(pos, end - pos);
}

long PeakRssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

int ExitCodeOf(int wait_status) {
  if (wait_status == -1) return -1000;
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return -WTERMSIG(wait_status);
  return -1000;
}

}  // namespace fila::test
