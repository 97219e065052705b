#pragma once

#include <string>
#include <string_view>

namespace fila {

// A random (version 4) UUID in canonical lower-case form. Thread-safe.
std::string NewUuid();

// Whether `text` is a canonical UUID (8-4-4-4-12 hex digits, either case).
bool IsUuid(std::string_view text) noexcept;

}  // namespace fila
