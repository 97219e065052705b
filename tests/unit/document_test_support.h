#pragma once

// Helpers shared by the document unit tests: fixtures
// (tests/fixtures/documents), repeated text, and the message of the
// PermanentError a call throws.

#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fila/core/errors.h"

namespace fila::document::testing {

inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(FILA_SOURCE_DIR) + "/tests/fixtures/documents/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("missing fixture " + name);
  return ss.str();
}

// `unit` n times.
inline std::string Repeat(std::string_view unit, size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

// The message of the PermanentError `f` throws, or "(no PermanentError)".
inline std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const PermanentError& e) {
    return e.what();
  }
  return "(no PermanentError)";
}

}  // namespace fila::document::testing
