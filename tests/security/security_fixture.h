#pragma once

// A real stack to attack: a fresh database, a fila-scheduler serving the
// HTTP API on a free port, producer and operator tokens, and workers
// started by the test. Not product code.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/harness.h"

namespace fila::test {

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts (or restarts) the scheduler with the API on port_, plus `args`
  // and `env` (over Env()); waits until the API answers.
  void StartScheduler(std::vector<std::string> args = {},
                      std::map<std::string, std::string> env = {});
  // Starts a worker with `args` (e.g. --queues) and `env` over Env().
  Process& StartWorker(std::vector<std::string> args,
                       std::map<std::string, std::string> env = {});
  // FILA_DATABASE_URL and FILA_AMQP_URL of this test's database.
  std::map<std::string, std::string> Env() const;
  // Creates an API token through the CLI; returns the secret.
  std::string Token(const std::string& tenant, const std::string& role);
  // Runs the fila CLI against this test's database (exit code checked by
  // the caller).
  RunResult Fila(std::vector<std::string> args, std::map<std::string, std::string> env = {});
  HttpResult Call(const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = "",
                  const std::string& content_type = "application/json");
  // POST /v1/tasks with `json`; the new task's id, or "" (with a test
  // failure naming the answer) when the answer is not 201.
  std::string Enqueue(const std::string& token, const std::string& json);
  std::string State(const std::string& id) const;

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Process> scheduler_;
  std::vector<std::unique_ptr<Process>> workers_;
  int port_ = 0;
  std::string base_;
};

// A Python server of the tests (capture_server.py, the fake upstreams of
// tests/): started with /usr/bin/python3, it prints "listening on ..." with
// its port first.
class PythonServer final {
 public:
  // `script` relative to the source tree, e.g. "tests/security/capture_server.py".
  PythonServer(const std::string& script, std::vector<std::string> args = {});
  int Port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // What it printed on stdout so far (capture_server.py: one JSON line per request).
  std::string Output() const { return process_->Stdout(); }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// The value of "key":"value" (or "key":number) in a flat JSON text.
std::string JsonField(const std::string& json, const std::string& key);

// Peak resident memory of a live process (VmHWM), in KiB; -1 if unknown.
long PeakRssKiB(int pid);

// The exit code of a wait status, or -(signal) when it was killed by one,
// or -1000 when it is still running / unknown.
int ExitCodeOf(int wait_status);

}  // namespace fila::test
