#pragma once

// A database, a queue and real fila processes for the workflow and
// scheduling tests.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/harness.h"

namespace fila::test {

class WorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override;

  std::unique_ptr<Process> Scheduler(std::vector<std::string> args = {});
  // fila-worker on the test queue; `extra`: more of its flags.
  std::unique_ptr<Process> Worker(const std::string& id, int concurrency,
                                  std::vector<std::string> extra = {});
  // `fila <args...>` against the test database; fails the test on a non-zero exit.
  std::string Fila(std::vector<std::string> args);
  // `fila enqueue` on the test queue; the new task's id.
  std::string Enqueue(const std::string& type, const std::string& payload_json,
                      std::vector<std::string> extra = {});
  bool WaitAllTerminal(std::chrono::milliseconds timeout);
  std::string State(const std::string& id);

  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::map<std::string, std::string> env_;
};

}  // namespace fila::test
