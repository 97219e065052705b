#pragma once

#include <string>

namespace fila {

// A random (version 4) UUID in canonical lower-case form. Thread-safe.
std::string NewUuid();

}  // namespace fila
