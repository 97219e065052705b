#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "fila/core/handler.h"

namespace fila::exec {

// One exec task's command, ready to run.
struct CommandRun {
  std::string shim;                  // fila-exec-shim
  std::vector<std::string> command;  // argv; the first looked up in the PATH of `env`
  std::vector<std::string> env;      // "NAME=value": the command's whole environment
  std::string input;                 // for stdin
  size_t max_output_bytes = 0;       // of stdout
  std::chrono::milliseconds grace{5000};
};

// Runs `run` under the shim for `ctx`'s task on the calling thread:
// progress lines reach ctx.Progress, ctx.Cancelled() stops the command.
// Returns its stdout when it exits 0; otherwise throws what
// fila/exec_handler.h says. Every process of the command is gone when this
// returns or throws.
std::string RunCommand(const CommandRun& run, TaskContext& ctx);

}  // namespace fila::exec
