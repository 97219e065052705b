// The console's `where` condition (core/task_filter.h): what it accepts,
// the JSON it contains, and a clear refusal of everything else, without
// recursion whatever the input's depth or length.
#include <gtest/gtest.h>

#include "fila/core/errors.h"
#include "fila/core/console_store.h"
#include "fila/core/task_filter.h"

namespace fila {
namespace {

std::string Refusal(const std::string& text) {
  try {
    ParseWhere(text);
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "where");
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 80);
  return {};
}

TEST(TaskFilter, ParsesAPathAnOperatorAndAJsonScalar) {
  auto w = ParseWhere(R"(args.account = "acme")");
  EXPECT_EQ(w.path, std::vector<std::string>{"account"});
  EXPECT_TRUE(w.equal);
  EXPECT_EQ(w.literal, R"("acme")");
  EXPECT_EQ(ContainmentJson(w), R"({"account":"acme"})");
  EXPECT_EQ(ToString(w), R"(args.account = "acme")");

  w = ParseWhere("  args.meta.region_2 != -12.5e3 ");
  EXPECT_EQ(w.path, (std::vector<std::string>{"meta", "region_2"}));
  EXPECT_FALSE(w.equal);
  EXPECT_EQ(ContainmentJson(w), R"({"meta":{"region_2":-12.5e3}})");
  EXPECT_EQ(ParseWhere("args.ok == true").literal, "true");
  EXPECT_EQ(ParseWhere("args.x=null").literal, "null");
  EXPECT_EQ(ParseWhere(R"(args.s = "a\"b\u00e9\\")").literal, R"("a\"b\u00e9\\")");
}

TEST(TaskFilter, RefusesMalformedConditionsSayingWhy) {
  EXPECT_NE(Refusal("").find("empty"), std::string::npos);
  EXPECT_NE(Refusal(R"(account = "x")").find("must start with args."), std::string::npos);
  EXPECT_NE(Refusal("args = 1").find("name a field"), std::string::npos);
  EXPECT_NE(Refusal("args.a = acme").find("must be JSON"), std::string::npos);
  EXPECT_NE(Refusal("args.a < 3").find("expected = or !="), std::string::npos);
  EXPECT_NE(Refusal(R"(args.a = "open)").find("not closed"), std::string::npos);
  EXPECT_NE(Refusal(R"(args.a = {"b":1})").find("scalar"), std::string::npos);
  EXPECT_NE(Refusal("args.a = 1 OR 1=1").find("unexpected text"), std::string::npos);
  EXPECT_NE(Refusal("args.a = 1.").find("malformed number"), std::string::npos);
  EXPECT_NE(Refusal(R"(args.a = "\x")").find("unknown escape"), std::string::npos);
  EXPECT_NE(Refusal(R"(args.a = "\u12")").find("four hex digits"), std::string::npos);
  EXPECT_NE(Refusal("args.a'; DROP TABLE tasks; -- = 1").find("expected = or !="), std::string::npos);
  EXPECT_NE(Refusal("args.1a = 1").find("field name"), std::string::npos);
}

TEST(TaskFilter, DeepAndLongInputIsRefusedWithoutRecursion) {
  std::string deep = "args";
  for (size_t i = 0; i <= kMaxWherePath; ++i) deep += ".a";
  EXPECT_NE(Refusal(deep + " = 1").find("deeper than 16"), std::string::npos);
  EXPECT_NE(Refusal(std::string(100000, '{')).find("longer than 1024"), std::string::npos);
  EXPECT_NE(Refusal("args.a = " + std::string(1000, '[')).find("scalar"), std::string::npos);
  EXPECT_NE(Refusal("args.a = \"" + std::string(1020, 'x') + "\"").find("longer than"), std::string::npos);
  std::string sixteen = "args";
  for (size_t i = 0; i < kMaxWherePath; ++i) sixteen += ".a";
  EXPECT_EQ(ParseWhere(sixteen + " = 1").path.size(), kMaxWherePath);
}

TEST(TaskFilter, BulkActionsHaveNames) {
  for (auto a : {BulkAction::kRetry, BulkAction::kCancel, BulkAction::kDelete}) {
    EXPECT_EQ(ParseBulkAction(ToString(a)), a);
  }
  EXPECT_FALSE(ParseBulkAction("purge"));
}

}  // namespace
}  // namespace fila
