// Log lines that quote input of any size: masked, then cut to about 4 KB,
// and the process survives (a 100 KB URL crashed the regex redactor).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "fila/core/text_limit.h"
#include "fila/logging/logging.h"

namespace fila {
namespace {

// What the default logger writes on stderr while `log` runs.
std::string CaptureStderr(const std::function<void()>& log) {
  char path[] = "/tmp/fila-log-lines-XXXXXX";
  const int file = ::mkstemp(path);
  EXPECT_GE(file, 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  log();
  spdlog::default_logger()->flush();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path);
  return text.str();
}

TEST(LogLines, HugeMessagesAreMaskedThenCut) {
  logging::Setup("fila-test", "info", "json");
  const std::string path(100000, 'a');
  const std::string out = CaptureStderr([&] {
    spdlog::warn("fetching http://127.0.0.1:8080/{}: HTTP 414", path);
    spdlog::warn("connecting to postgresql://fila:{}@db/fila", path);
  });
  std::istringstream lines(out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    const auto j = nlohmann::json::parse(line);
    const std::string msg = j["msg"];
    EXPECT_LE(msg.size(), kMaxStoredText);
    if (n == 1) {
      EXPECT_TRUE(msg.starts_with("fetching http://127.0.0.1:8080/aaaa")) << msg.substr(0, 200);
      EXPECT_NE(msg.find("[cut "), std::string::npos) << msg.substr(0, 200);
    } else {
      // Masked before the cut: the whole password goes, however long.
      EXPECT_EQ(msg, "connecting to postgresql://fila:***@db/fila");
    }
  }
  EXPECT_EQ(n, 2) << out.substr(0, 500);
}

}  // namespace
}  // namespace fila
