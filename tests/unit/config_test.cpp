#include "fila/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace fila {
namespace {

TEST(RedactUrl, HidesPasswords) {
  EXPECT_EQ(RedactUrl("amqp://guest:s3cret@127.0.0.1:5672/"), "amqp://guest:***@127.0.0.1:5672/");
  EXPECT_EQ(RedactUrl("postgresql://fila:p%40ss@db/fila"), "postgresql://fila:***@db/fila");
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
