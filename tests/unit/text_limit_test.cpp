#include "fila/core/text_limit.h"

#include <gtest/gtest.h>

namespace fila {
namespace {

TEST(TruncateText, ShortTextIsUnchanged) {
  EXPECT_EQ(TruncateText("hello", 10), "hello");
  EXPECT_EQ(TruncateText(std::string(4096, 'a')), std::string(4096, 'a'));
}

TEST(TruncateText, LongTextIsCutWithAMarkerWithinTheLimit) {
  const std::string text(100000, 'x');
  const std::string cut = TruncateText(text);
  EXPECT_LE(cut.size(), kMaxStoredText);
  EXPECT_GT(cut.size(), kMaxStoredText - 64);
  EXPECT_NE(cut.find("[cut "), std::string::npos);
  const size_t kept = cut.find("\xE2\x80\xA6");
  EXPECT_NE(cut.find("[cut " + std::to_string(text.size() - kept) + " bytes]"), std::string::npos);
}

TEST(TruncateText, NeverSplitsAUtf8Character) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "\xC3\xA7";  // ç, two bytes each
  const std::string cut = TruncateText(text, 101);
  const size_t marker = cut.find("\xE2\x80\xA6");
  ASSERT_NE(marker, std::string::npos);
  EXPECT_EQ(marker % 2, 0u) << "kept an odd number of bytes of two-byte characters";
}

}  // namespace
}  // namespace fila
