#pragma once

// Runs the fila-extract helper on one untrusted document: a process of its
// own per document, so that whatever the document does to a parser (a
// crash, a memory or CPU blow-up) costs that process and never the worker.
//
// The helper gets the document on stdin and the command's arguments, and
// runs under the budget's RLIMIT_AS and RLIMIT_CPU, without core files,
// with a few file descriptors and none of the worker's, with no
// environment but its parent's pid and the document's size, in a process
// group of its own, first in line for the OOM killer (oom_score_adj 1000);
// it dies with the worker (PDEATHSIG). Its stdout is the result; it is
// bounded, and so is what is kept of stderr.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/clock.h"
#include "fila/extract/budget.h"

namespace fila::extract {

struct Run {
  std::vector<std::string> args;     // fila-extract's arguments (command first)
  std::string_view input;            // the document, written to its stdin
  Deadline deadline = Deadline::max();
  std::function<bool()> cancelled;   // polled every 50 ms
  size_t max_output_bytes = size_t{1} << 30;
};

// Runs `program` for `run` and returns what it wrote on stdout. The helper
// is always reaped before this returns or throws (no orphan, no zombie, no
// descriptor left open). Thread-safe; SIGPIPE never reaches the process.
//
// PermanentError: the helper refused the document (its message), needed
// more memory or CPU time than `budget` allows ("document exceeds the
// extraction budget: ..."), wrote more than max_output_bytes, was killed
// by a signal ("the extractor was killed by signal 11 (SIGSEGV) on this
// document") or failed otherwise: the same document would do it again.
// TransientError: cancelled or past the deadline (the helper is killed),
// killed by SIGKILL from outside (the OOM killer of a container whose
// extractors overran its memory together), or not started.
std::string RunExtractor(const std::string& program, const Run& run, const Budget& budget);

// Where fila-extract is: $FILA_EXTRACTOR, else next to this process's
// executable (/proc/self/exe). Throws PermanentError when nothing
// executable is there.
std::string ExtractorPath();

}  // namespace fila::extract
