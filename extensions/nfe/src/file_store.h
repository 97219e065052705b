#pragma once

// Files of the handler: atomic writes and digests (private to the handler).

#include <cstdint>
#include <string>
#include <string_view>

namespace fila::nfe {

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Writes `bytes` to `path` atomically: a temporary file in the same folder,
// fsync, rename over `path`, fsync of the folder. Creates missing folders.
// A reader sees the old file or the new one, never a part. Throws
// TransientError on an I/O failure.
void WriteFileAtomically(const std::string& path, std::string_view bytes);

// Reads a whole file; throws TransientError when it cannot.
std::string ReadFile(const std::string& path);

// True when `relative` is a non-empty relative path without "..", "." or
// empty segments (so joining it to a root stays under the root).
bool SafeRelativePath(std::string_view relative);

}  // namespace fila::nfe
