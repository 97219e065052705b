#include "fila/core/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <regex>

namespace fila {
namespace {

TEST(RedactUrl, HidesPasswords) {
  EXPECT_EQ(RedactUrl("amqp://guest:s3cret@127.0.0.1:5672/"), "amqp://guest:***@127.0.0.1:5672/");
  EXPECT_EQ(RedactUrl("postgresql://fila:p%40ss@db/fila"), "postgresql://fila:***@db/fila");
}

TEST(RedactUrl, HidesThePasswordOfEveryUrlOfAList) {
  EXPECT_EQ(RedactUrl("amqp://u:one@h1:5672/,amqp://u:two@h2:5673/"),
            "amqp://u:***@h1:5672/,amqp://u:***@h2:5673/");
  EXPECT_EQ(RedactUrl("amqp://h1/,amqp://u:two@h2/"), "amqp://h1/,amqp://u:***@h2/");
  EXPECT_EQ(RedactUrl("amqp://u:one@h1,h2:5673/vh"), "amqp://u:***@h1,h2:5673/vh");
  EXPECT_EQ(RedactUrl("postgresql://u:pw@h1:5432,h2:5433/fila"), "postgresql://u:***@h1:5432,h2:5433/fila");
}

TEST(RedactUrl, LeavesUrlsWithoutPasswordAlone) {
  EXPECT_EQ(RedactUrl("postgresql://postgres@127.0.0.1:5432/fila"),
            "postgresql://postgres@127.0.0.1:5432/fila");
  EXPECT_EQ(RedactUrl("host=x port=1"), "host=x port=1");
}

TEST(RedactSecrets, MasksEverySecretInALine) {
  EXPECT_EQ(RedactSecrets("cannot reach postgresql://fila:hunter2@db:5432/fila: refused"),
            "cannot reach postgresql://fila:***@db:5432/fila: refused");
  EXPECT_EQ(RedactSecrets("two: amqp://a:x@h/ and https://b:y@h2/p"),
            "two: amqp://a:***@h/ and https://b:***@h2/p");
  EXPECT_EQ(RedactSecrets("header Authorization: Bearer abc.DEF-123"),
            "header Authorization: Bearer ***");
  EXPECT_EQ(RedactSecrets("token fila_0123456789abcdef0123456789abcdef rejected"),
            "token fila_*** rejected");
  EXPECT_EQ(RedactSecrets("host=db password=hunter2 dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(RedactSecrets(R"({"app_secret":"s3"})"), R"({"app_secret":"***"})");
  EXPECT_EQ(RedactSecrets("?api_key=k1&x=2"), "?api_key=***&x=2");
}

TEST(RedactSecrets, LeavesOrdinaryLinesAlone) {
  for (const char* line : {"worker w1 consuming [default] with 4 slots",
                           "queue default: 12 tasks, oldest 3 s", "idempotency_key=order-7",
                           "api tokens: 3", "postgresql://postgres@127.0.0.1:5432/fila"}) {
    EXPECT_EQ(RedactSecrets(line), line);
  }
}

// The patterns the redactor masks, as the std::regex it used to run: the
// reference its scanners must agree with, on inputs short enough for
// std::regex's recursion.
std::string RegexReference(const std::string& text) {
  using std::regex_constants::icase;
  static const std::regex kUrlPassword(R"(([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@)", icase);
  static const std::regex kBearer(R"(((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+)", icase);
  static const std::regex kFilaToken(R"(\bfila_[0-9a-f]{16,})");
  static const std::regex kPair(
      R"re(((?:password|passwd|pwd|secret|token|api[_-]?key|app[_-]?key|app[_-]?secret|access[_-]?key)["']?\s*[=:]\s*["']?)[^\s&"',;}]+)re",
      icase);
  std::string out = std::regex_replace(text, kUrlPassword, "$1***@");
  out = std::regex_replace(out, kBearer, "$1***");
  out = std::regex_replace(out, kFilaToken, "fila_***");
  return std::regex_replace(out, kPair, "$1***");
}

TEST(RedactSecrets, AgreesWithTheRegexesOnRandomLines) {
  // Pieces that start, continue and break every pattern.
  const std::vector<std::string> pieces = {
      "http",  "s://", "://",   ":",        "@",       "/",        " ",        "\t",   "a",     "Z",     "9",
      "+",     ".",    "-",     "_",        "=",       "\"",       "'",        "&",     ",",     ";",     "}",
      "x:y@",  "u:",   "Bearer", "basic",   "BASIC ",  "fila_",    "0123456789abcdef", "F",  "token",
      "pwd",   "PassWord", "passwd", "secret", "api", "app", "access", "key", "_key", "-secret", "~"};
  std::mt19937 random(4711);
  int masked = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string line;
    const int n = 1 + static_cast<int>(random() % 12);
    for (int i = 0; i < n; ++i) line += pieces[random() % pieces.size()];
    const std::string out = RedactSecrets(line);
    ASSERT_EQ(out, RegexReference(line)) << "line: " << line;
    masked += out != line;
  }
  EXPECT_GT(masked, 1000) << "the random lines should exercise the masks";
}

TEST(RedactSecrets, HugeLinesAreScannedNotRecursed) {
  // The review's crash: a 100 KB URL in a log line (std::regex recursed
  // once per character and overflowed the stack).
  const std::string path(100000, 'a');
  const std::string line = "fetching http://127.0.0.1:8080/" + path + ": HTTP 414";
  EXPECT_EQ(RedactSecrets(line), line);
  EXPECT_EQ(RedactSecrets("https://user:" + path + "@host/x"), "https://user:***@host/x");
  EXPECT_EQ(RedactSecrets("Authorization: Bearer " + path), "Authorization: Bearer ***");
  EXPECT_EQ(RedactSecrets("password=" + path + " next"), "password=*** next");
  EXPECT_EQ(RedactSecrets("fila_" + std::string(100000, 'f')), "fila_***");
}

TEST(RedactSecrets, RepeatedPatternStartsStayLinear) {
  // Each of these restarts a pattern at every few bytes and fails it only
  // at the end: a scanner that rescans from each start would need about
  // 10^10 steps (minutes); a linear one takes milliseconds.
  auto repeat = [](const std::string& unit, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += unit;
    return out;
  };
  const size_t n = 100000;
  for (const std::string& line :
       {repeat("a://", n), repeat("a://b:", n), repeat("bearer", n), repeat("token", n) + ":",
        repeat("fila_0", n), repeat("password ", n), repeat("api_", n)}) {
    const std::string out = RedactSecrets(line);
    EXPECT_LE(out.size(), line.size() + 8);
  }
  EXPECT_EQ(RedactSecrets(repeat("a://b:", n) + "c@"), repeat("a://b:", 1) + "***@");
}

TEST(SplitList, SkipsEmptyParts) {
  EXPECT_EQ(SplitList("a,b,,c,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitList("").empty());
}

TEST(EnvOr, FallsBackWhenUnsetOrEmpty) {
  ::setenv("FILA_TEST_ENV_OR", "", 1);
  EXPECT_EQ(EnvOr("FILA_TEST_ENV_OR", "x"), "x");
  ::setenv("FILA_TEST_ENV_OR", "y", 1);
  EXPECT_EQ(EnvOr("FILA_TEST_ENV_OR", "x"), "y");
  ::unsetenv("FILA_TEST_ENV_OR");
}

}  // namespace
}  // namespace fila
