// What the exec handler keeps of a command's stderr and makes of its
// progress lines (worker/exec_handler/src/output.h): pure.
#include "output.h"

#include <gtest/gtest.h>

namespace fila::exec {
namespace {

TEST(ExecTail, KeepsTheLastBytesFromAWholeCharacter) {
  Tail tail(8);
  tail.Append("abc");
  EXPECT_EQ(tail.Text(), "abc");
  tail.Append("défghij\n\n");  // é is two bytes
  EXPECT_EQ(tail.Text(), "…fghij");
  Tail small(4);
  for (int i = 0; i < 1000; ++i) small.Append("xy");
  small.Append("é");
  EXPECT_EQ(small.Text(), "…xyé");
  Tail big(4);
  big.Append(std::string(100, 'z') + "end");
  EXPECT_EQ(big.Text(), "…zend");
}

TEST(ExecLines, SplitsAcrossChunksAndBoundsEveryLine) {
  std::vector<std::string> got;
  Lines lines(5, Lines::Overlong::kDrop, [&](std::string_view l) { got.emplace_back(l); });
  lines.Feed("ab");
  lines.Feed("c\nde\n");
  lines.Feed("toolong");
  lines.Feed("still\nok\nlast");
  lines.Finish();
  EXPECT_EQ(got, (std::vector<std::string>{"abc", "de", "ok", "last"}));
  EXPECT_EQ(lines.dropped(), 1u);

  got.clear();
  Lines cut(5, Lines::Overlong::kCut, [&](std::string_view l) { got.emplace_back(l); });
  cut.Feed("toolong");
  cut.Feed("still\nok\n");
  EXPECT_EQ(got, (std::vector<std::string>{"toolo", "ok"}));
}

TEST(ExecProgress, ParsesPercentAndMessageAndRefusesTheRest) {
  ProgressLine p;
  ASSERT_TRUE(ParseProgress(R"({"percent": 40, "message": "fetching"})", p));
  EXPECT_EQ(p.percent, 40);
  EXPECT_EQ(p.message, "fetching");
  ASSERT_TRUE(ParseProgress(R"({"percent": 12.7})", p));
  EXPECT_EQ(p.percent, 12);
  EXPECT_EQ(p.message, "");
  ASSERT_TRUE(ParseProgress(R"({"percent": 1e9, "extra": [1]})", p));
  EXPECT_EQ(p.percent, 100);
  ASSERT_TRUE(ParseProgress(R"({"percent": -3})", p));
  EXPECT_EQ(p.percent, 0);
  for (const char* bad : {"", "40", "null", "[40]", R"({"percent": "40"})", R"({"message": "x"})",
                          R"({"percent": 40, "message": 7})", R"({"percent": 40)", "{\"percent\": 4\x01}"}) {
    EXPECT_FALSE(ParseProgress(bad, p)) << bad;
  }
  // Deep nesting is refused without recursion (the line is bounded anyway).
  EXPECT_FALSE(ParseProgress(std::string(4000, '[') + std::string(4000, ']'), p));
}

}  // namespace
}  // namespace fila::exec
