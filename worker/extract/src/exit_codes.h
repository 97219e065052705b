#pragma once

// fila-extract's exit statuses: what tool.cpp reports and sandbox.cpp reads.

namespace fila::extract {

inline constexpr int kExitFailed = 1;       // an unexpected error (message on stderr)
inline constexpr int kExitRefused = 2;      // PermanentError: the document is refused (message on stderr)
inline constexpr int kExitOutOfMemory = 3;  // an allocation failed under RLIMIT_AS

// The worker's pid, in fila-extract's otherwise empty environment.
inline constexpr const char* kParentVariable = "FILA_EXTRACT_PARENT";

}  // namespace fila::extract
