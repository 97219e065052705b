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
