#pragma once

// Exec handlers: a registered task type whose handler is a command
// (HandlerSpec::Kind::kExec) runs that command once per task, in any
// language. The contract users write against is docs/handlers.md ("Exec
// handlers"); in short:
//
// - argv is the type's command, without a shell; its first element is
//   looked up in PATH. It runs under fila-exec-shim (fila/exec_shim.h), in
//   a process group of its own.
// - stdin: the payload as JSON (PayloadToJson). stdout: the result, at most
//   the type's max_result_bytes (over it: killed, PermanentError). stderr:
//   its log, the tail of which goes into the attempt's error on failure,
//   and every line to the worker's log at debug level with the task's
//   fields. Descriptor 3 (FILA_PROGRESS_FD): progress as JSON lines
//   {"percent": 40, "message": "..."}; other lines are ignored.
// - The environment holds the task (FILA_TASK_ID, FILA_ATTEMPT,
//   FILA_TASK_TYPE, FILA_TYPE_VERSION, FILA_TENANT, FILA_QUEUE,
//   FILA_DEADLINE, FILA_DEADLINE_UNIX_MS, FILA_PROGRESS_FD), a few of the
//   worker's variables (kPassedVariables) and those an operator named
//   (ExecHandlerOptions::pass_env); never the worker's own settings and
//   secrets (FILA_DATABASE_URL, FILA_OMIE_*, ...). No descriptor of the
//   worker reaches it.
// - Exit 0: succeeded. 75 (EX_TEMPFAIL): TransientError (retried). Other
//   statuses: PermanentError, with the tail of stderr. Killed by a signal:
//   TransientError. At the deadline or on a cancel the command and every
//   process it started get SIGTERM, then SIGKILL after the type's grace
//   period; the worker records timed_out or cancelled whatever the exit.
// - When the command ends, whatever it left running (forked children,
//   daemons that called setsid or double-forked) is killed and reaped
//   before the task is recorded.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/handler.h"

namespace fila {

// Variables of the worker's environment every command gets when they are
// set, and why: PATH (to find programs), HOME (tools look for their
// settings there), LANG, LC_ALL and LC_CTYPE (text encoding), TZ (local
// time), TMPDIR (where temporary files go). When PATH is unset the command
// gets kDefaultPath.
inline constexpr const char* kPassedVariables[] = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"};
inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

struct ExecHandlerOptions {
  // fila-exec-shim; empty: ExecShimPath() when the first exec type is made.
  std::string shim;
  // More of the worker's variables passed to every command by name (e.g. a
  // credential the scripts need). Names starting with FILA_ are refused:
  // they are the worker's settings and secrets.
  std::vector<std::string> pass_env;
  // The longest grace a type may have: the worker abandons a slot whose
  // handler has not returned --abandon-grace-ms after the deadline or a
  // cancel, so the grace must end before that (ExecOptionsFromEnv).
  std::chrono::milliseconds max_grace{std::chrono::hours(1)};
};

// Options from the worker's environment: the shim (ExecShimPath(), checked
// now, so that a worker without it does not start), FILA_EXEC_PASS_ENV
// (comma-separated names), and a grace that ends 500 ms before the
// worker's `abandon_grace`. Throws PermanentError naming the variable on a
// bad value, or the missing shim.
ExecHandlerOptions ExecOptionsFromEnv(std::chrono::milliseconds abandon_grace);

// Makes the handler of an exec type from its spec, once per (type,
// version); at most HandlerSpec::concurrency commands of one type run at
// once on this worker (0: no limit but the worker's slots), the others
// wait for a turn (or their deadline). Make throws PermanentError for a
// spec of another kind, or when the shim is missing. The handlers are
// thread-safe and follow handler.h's contract for their errors.
std::shared_ptr<HandlerFactory> MakeExecHandlerFactory(ExecHandlerOptions options);

// Where fila-exec-shim is: $FILA_EXEC_SHIM, else next to this process's
// executable. Throws PermanentError when nothing executable is there.
std::string ExecShimPath();

}  // namespace fila
