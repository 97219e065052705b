#include "harness.h"

#include <pqxx/pqxx>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace fila::test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ExportValue(const std::string& env_text, const std::string& name) {
  auto pos = env_text.find(name + "=");
  if (pos == std::string::npos) return {};
  pos += name.size() + 1;
  auto end = env_text.find_first_of(" \n", pos);
  std::string value = env_text.substr(pos, end - pos);
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

// postgresql://user@host:port/db -> same with `db` replaced.
std::string WithDatabase(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto query = url.find('?');
  std::string base = slash == std::string::npos ? url : url.substr(0, slash);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + db + tail;
}

// amqp://user:pass@host/... -> user ("guest" when the URL names none).
std::string AmqpUser(const std::string& url) {
  const auto scheme = url.find("://");
  const auto start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto at = url.find('@', start);
  if (at == std::string::npos) return "guest";
  const std::string userinfo = url.substr(start, at - start);
  return userinfo.substr(0, userinfo.find(':'));
}

std::string TempDir() {
  static const std::string dir = [] {
    std::string pattern = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                          std::string("/fila-it-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }();
  return dir;
}

}  // namespace

std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error(command + " failed with status " + std::to_string(status));
  return out;
}

std::string BinDir() { return FILA_BIN_DIR; }
std::string SourceDir() { return FILA_SOURCE_DIR; }

namespace {

// The shared stack's ports (scripts/test exports them): another stack
// must not take them as its own.
constexpr const char* kStackPortVars[] = {"FILA_STACK_PG_PORT",   "FILA_STACK_PG2_PORT",
                                          "FILA_STACK_AMQP_PORT", "FILA_STACK_DIST_PORT",
                                          "FILA_STACK_EPMD_PORT", "FILA_STACK_MGMT_PORT"};

std::string StackScript(const std::string& stack_dir) {
  const std::string script = SourceDir() + "/scripts/stack";
  if (stack_dir.empty()) return script;
  std::string env = "env";
  for (const char* var : kStackPortVars) env += std::string(" -u ") + var;
  return env + " FILA_STACK_DIR='" + stack_dir + "' " + script;
}

}  // namespace

void StackCommand(const std::string& sub, const std::string& stack_dir) {
  if (stack_dir.empty()) Stack();  // FILA_STACK_DIR set as Stack() says
  Shell(StackScript(stack_dir) + " " + sub + " >&2");
}

std::string StackOutput(const std::string& sub, const std::string& stack_dir) {
  if (stack_dir.empty()) Stack();
  return Shell(StackScript(stack_dir) + " " + sub);
}

namespace {

// This process's own RabbitMQ virtual host, made through the management API
// of `mgmt_url` and deleted when the process exits: tests that ctest runs
// side by side (-j) never consume or purge each other's queues. Returns
// `amqp_url` with that virtual host.
std::string OwnVirtualHost(const std::string& amqp_url, const std::string& mgmt_url) {
  static std::string api;
  static std::string vhost;
  api = mgmt_url.substr(0, mgmt_url.find_last_not_of('/') + 1) + "/api";
  vhost = RandomName("fila-t-");
  const HttpResult made = Http("PUT", api + "/vhosts/" + vhost);
  const HttpResult allowed =
      Http("PUT", api + "/permissions/" + vhost + "/" + AmqpUser(amqp_url),
           {"Content-Type: application/json"}, R"({"configure":".*","write":".*","read":".*"})");
  if (made.status / 100 != 2 || allowed.status / 100 != 2) {
    throw std::runtime_error("cannot make the test's RabbitMQ virtual host " + vhost + ": HTTP " +
                             std::to_string(made.status) + "/" + std::to_string(allowed.status));
  }
  std::atexit([] { Http("DELETE", api + "/vhosts/" + vhost); });
  const auto scheme = amqp_url.find("://");
  const auto slash = amqp_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return (slash == std::string::npos ? amqp_url : amqp_url.substr(0, slash)) + "/" + vhost;
}

}  // namespace

const StackUrls& Stack() {
  static const StackUrls urls = [] {
    if (const char* own = std::getenv("FILA_TEST_STACK_DIR"); own != nullptr && *own != '\0') {
      // The shared stack's URLs and ports give way to the stack of
      // FILA_TEST_STACK_DIR, for this process and the ones it starts.
      for (const char* var : {"FILA_DATABASE_URL", "FILA_AMQP_URL", "FILA_AMQP_MGMT_URL"}) ::unsetenv(var);
      for (const char* var : kStackPortVars) ::unsetenv(var);
      ::setenv("FILA_STACK_DIR", own, 1);
    }
    StackUrls u;
    const char* db = std::getenv("FILA_DATABASE_URL");
    const char* amqp = std::getenv("FILA_AMQP_URL");
    std::string mgmt = std::getenv("FILA_AMQP_MGMT_URL") ? std::getenv("FILA_AMQP_MGMT_URL") : "";
    if (db && *db && amqp && *amqp) {
      u.database_url = db;
      u.amqp_url = amqp;
    } else {
      const std::string stack = SourceDir() + "/scripts/stack";
      Shell(stack + " up >&2");
      std::string env = Shell(stack + " env");
      u.database_url = ExportValue(env, "FILA_DATABASE_URL");
      u.amqp_url = ExportValue(env, "FILA_AMQP_URL");
      mgmt = ExportValue(env, "FILA_AMQP_MGMT_URL");
      if (u.database_url.empty() || u.amqp_url.empty()) {
        throw std::runtime_error("scripts/stack env printed no URLs: " + env);
      }
    }
    if (!mgmt.empty()) u.amqp_url = OwnVirtualHost(u.amqp_url, mgmt);
    // The processes a test starts inherit it.
    ::setenv("FILA_AMQP_URL", u.amqp_url.c_str(), 1);
    ::setenv("FILA_DATABASE_URL", u.database_url.c_str(), 1);
    return u;
  }();
  return urls;
}

std::string RandomName(const std::string& prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string name = prefix;
  for (int i = 0; i < 10; ++i) name += kChars[rng() % 36];
  return name;
}

namespace {

// The migrated database every test copies, made once per build of `fila`
// on each server: a copy costs the server about half the CPU of running
// the migrations (0.38 against 0.66 core-s per test database, created and
// dropped), and the suite makes hundreds. The name carries the binary's
// size and time, so a rebuilt `fila` (new migrations) makes a new
// template and drops the old. It is built under another name and renamed
// when migrated: a run killed half way leaves no half-migrated template.
std::string MigratedTemplate(const std::string& base_url) {
  const std::string fila = BinDir() + "/fila";
  struct stat st{};
  if (::stat(fila.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + fila);
  const std::string name = "fila_tpl_" + std::to_string(st.st_size) + "_" +
                           std::to_string(st.st_mtim.tv_sec) + "_" + std::to_string(st.st_mtim.tv_nsec);
  pqxx::connection admin(base_url);
  pqxx::nontransaction tx(admin);
  // Tests start side by side: one makes the template, the others wait.
  tx.exec("SELECT pg_advisory_lock(hashtext('fila test template'))");
  if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty()) {
    for (const auto& row : tx.exec_params(
             "SELECT datname FROM pg_database WHERE datname LIKE 'fila\\_tpl\\_%' AND datname <> $1", name)) {
      const std::string old = tx.quote_name(row[0].as<std::string>());
      tx.exec("ALTER DATABASE " + old + " IS_TEMPLATE false");
      tx.exec("DROP DATABASE " + old + " WITH (FORCE)");
    }
    const std::string building = name + "_new";
    tx.exec("CREATE DATABASE " + tx.quote_name(building));
    auto result = RunFila("fila", {"migrate", "up"}, {{"FILA_DATABASE_URL", WithDatabase(base_url, building)}});
    if (result.ExitCode() != 0) throw std::runtime_error("fila migrate up failed: " + result.err);
    // No connections (autovacuum's neither): CREATE DATABASE ... TEMPLATE
    // refuses a source that someone is connected to.
    tx.exec("ALTER DATABASE " + tx.quote_name(building) + " WITH ALLOW_CONNECTIONS false IS_TEMPLATE true");
    tx.exec("ALTER DATABASE " + tx.quote_name(building) + " RENAME TO " + tx.quote_name(name));
  }
  tx.exec("SELECT pg_advisory_unlock(hashtext('fila test template'))");
  return name;
}

}  // namespace

TestDatabase::TestDatabase(bool migrate, std::string base_url)
    : name_(RandomName("fila_it_")), base_url_(base_url.empty() ? Stack().database_url : std::move(base_url)) {
  const std::string source = migrate ? MigratedTemplate(base_url_) : "template1";
  {
    pqxx::connection admin(base_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE " + tx.quote_name(name_) + " TEMPLATE " + tx.quote_name(source));
  }
  url_ = WithDatabase(base_url_, name_);
  session_url_ = url_;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(base_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover test database harms nothing.
  }
}

std::string TestDatabase::Scalar(const std::string& sql) const {
  auto rows = Rows(sql);
  if (rows.empty() || rows[0].empty()) throw std::runtime_error("no rows: " + sql);
  return rows[0][0];
}

void TestDatabase::IgnoreDatabaseTimeouts() {
  // Startup options apply before the first statement: a "SET
  // statement_timeout = 0" sent with the query would itself run under the
  // database's timeout, which can cancel the statement after it.
  // url_ is a URI (WithDatabase).
  session_url_ = url_ + (url_.find('?') == std::string::npos ? "?" : "&") +
                 "options=-c%20statement_timeout%3D0";
}

std::vector<std::vector<std::string>> TestDatabase::Rows(const std::string& sql) const {
  pqxx::connection conn(session_url_);
  pqxx::nontransaction tx(conn);
  std::vector<std::vector<std::string>> out;
  for (const auto& row : tx.exec(sql)) {
    std::vector<std::string> cols;
    for (const auto& field : row) cols.push_back(field.is_null() ? "" : field.as<std::string>());
    out.push_back(std::move(cols));
  }
  return out;
}

void TestDatabase::Exec(const std::string& sql) const {
  pqxx::connection conn(session_url_);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

Process::Process(const std::string& binary, std::vector<std::string> args,
                 std::map<std::string, std::string> env) {
  // Under a running stack, the children get this process's virtual host.
  if (std::getenv("FILA_AMQP_URL") != nullptr) Stack();
  static std::atomic<int> counter{0};
  const bool absolute = !binary.empty() && binary.front() == '/';
  const std::string name = absolute ? binary.substr(binary.rfind('/') + 1) : binary;
  std::string stem = TempDir() + "/" + name + "-" + std::to_string(counter++);
  out_path_ = stem + ".out";
  err_path_ = stem + ".err";

  std::vector<std::string> argv_storage{absolute ? binary : BinDir() + "/" + binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  // Many schedulers start in tests: none serves HTTP or consumes the shared
  // fila.ingest queue unless a test asks.
  merged["FILA_API_LISTEN"] = "off";
  merged["FILA_INGEST"] = "off";
  // Tests drive fila with its test types (sleep, flaky, fanout); the
  // security tests turn them off ("0") to check they are refused.
  merged["FILA_ENABLE_TEST_TYPES"] = "1";
  for (auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_storage;
  for (auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv_storage[0]);
}

Process::~Process() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void Process::Signal(int signal) {
  if (Running()) ::kill(pid_, signal);
}

bool Process::Running() {
  if (status_ != -1) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return false;
  }
  return r == 0;
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout);
  return status_;
}

std::string Process::Stdout() const { return ReadFile(out_path_); }
std::string Process::Stderr() const { return ReadFile(err_path_); }

bool RunResult::Exited() const { return status != -1 && WIFEXITED(status); }
int RunResult::ExitCode() const { return Exited() ? WEXITSTATUS(status) : -1; }

RunResult RunFila(const std::string& binary, std::vector<std::string> args,
              std::map<std::string, std::string> env, std::chrono::milliseconds timeout) {
  Process p(binary, std::move(args), std::move(env));
  RunResult r;
  r.status = p.Wait(timeout);
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

bool WaitTerminal(const TestDatabase& db, const std::vector<std::string>& ids,
                  std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (const auto& id : ids) {
          const std::string s = db.Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
          if (s != "succeeded" && s != "failed" && s != "dead" && s != "cancelled") return false;
        }
        return true;
      },
      timeout);
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace fila::test
