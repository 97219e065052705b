#pragma once

// fila-extract's exit statuses: what tool.cpp reports and sandbox.cpp reads.

namespace fila::extract {

inline constexpr int kExitFailed = 1;       // an unexpected error (message on stderr)
inline constexpr int kExitRefused = 2;      // PermanentError: the document is refused (message on stderr)
inline constexpr int kExitOutOfMemory = 3;  // an allocation failed under RLIMIT_AS

// fila-extract's environment holds only these: the worker's pid, and the
// size of the document (so that it is read into one allocation of its size,
// not grown by doubling).
inline constexpr const char* kParentVariable = "FILA_EXTRACT_PARENT";
inline constexpr const char* kInputBytesVariable = "FILA_EXTRACT_INPUT_BYTES";

}  // namespace fila::extract
