#pragma once

// Registered types whose handler is HTTP, run by real daemons against the
// real Python handler of tests/handlers/python_http_handler.py (its events
// come back as JSON lines on its stdout).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "fila/core/task_types.h"
#include "support/harness.h"

namespace fila::test {

struct TypeOptions {
  uint32_t timeout_ms = 30000;
  uint32_t max_attempts = 3;
  uint32_t retry_base_ms = 100;
  uint32_t concurrency = 0;
  std::string url;  // empty: the Python handler's
};

// What the worker's process holds: counted before and after bad handlers.
struct Holdings {
  int threads = 0;
  int fds = 0;
  int children = 0;
};
Holdings HoldingsOf(int pid);

class HttpHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Registers `name` (any JSON payload, queue_, an HTTP handler); returns
  // its spec (with the version the store gave it).
  TaskTypeSpec Register(const std::string& name, const TypeOptions& options = {});
  // Enqueues one task of `spec` per payload, straight into the store.
  std::vector<std::string> Enqueue(const TaskTypeSpec& spec, const std::vector<nlohmann::json>& payloads,
                                   const std::string& tenant = "default");
  std::string Enqueue1(const TaskTypeSpec& spec, const nlohmann::json& payload,
                       const std::string& tenant = "default") {
    return Enqueue(spec, {payload}, tenant).at(0);
  }

  void StartScheduler(std::vector<std::string> extra = {});
  Process& StartWorker(const std::string& id, int slots = 4, std::vector<std::string> extra = {});

  std::string State(const std::string& id) const;
  std::string Result(const std::string& id) const;
  std::string LastError(const std::string& id) const;
  bool WaitTerminal(const std::string& id, std::chrono::milliseconds timeout) const;
  // The handler's events (of one task when `id` is given).
  std::vector<nlohmann::json> Events(const std::string& id = {}) const;
  bool WaitEvent(const std::string& id, const std::string& event, std::chrono::milliseconds timeout) const;
  std::string Diagnostics(const std::string& id = {}) const;

  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::unique_ptr<Process> handler_;
  std::string handler_url_;  // http://127.0.0.1:PORT
  std::unique_ptr<Process> scheduler_;
  std::vector<std::unique_ptr<Process>> workers_;
};

}  // namespace fila::test
