#pragma once

// The NF-e unit tests' fixtures (tests/fixtures/nfe, FILA_NFE_FIXTURES) and
// the edits they make to them.

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "fila/nfe/verifier.h"

namespace fila::nfe::testing {

inline std::string FixturePath(const std::string& name) { return std::string(FILA_NFE_FIXTURES) + "/" + name; }

// The fixture's bytes, as received.
inline std::string Fixture(const std::string& name) {
  std::ifstream in(FixturePath(name), std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `text` with the first `from` replaced by `to`; a failure when absent.
inline std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

using Checks = std::set<std::string>;
inline Checks Failed(const Verification& v) { return {v.failed.begin(), v.failed.end()}; }

}  // namespace fila::nfe::testing
