// The recursive chunker of document.ingest: sizes, overlap, line endings,
// multi-byte text and offsets.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "document_test_support.h"
#include "fila/core/errors.h"
#include "fila/document/chunker.h"
#include "fila/document/extract.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

using testing::Fixture;

ExtractedText Plain(std::string text) {
  ExtractedText doc;
  doc.text = std::move(text);
  return doc;
}

// The code points [start, end) of `text`.
std::string SliceCodePoints(const std::string& text, size_t start, size_t end) {
  size_t pos = 0;
  size_t cp = 0;
  size_t from = std::string::npos;
  while (pos < text.size() && cp < end) {
    if (cp == start) from = pos;
    NextCodePoint(text, pos);
    ++cp;
  }
  if (from == std::string::npos) from = pos;
  return text.substr(from, pos - from);
}

void ExpectSlicesBack(const ExtractedText& doc, const std::vector<TextChunk>& chunks) {
  for (const auto& c : chunks) {
    EXPECT_EQ(c.text, doc.text.substr(c.byte_start, c.byte_end - c.byte_start));
    EXPECT_EQ(c.text, SliceCodePoints(doc.text, c.start, c.end)) << "chunk at " << c.start;
    EXPECT_EQ(c.end - c.start, CodePoints(c.text));
  }
}

std::string Words(size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out += "word" + std::to_string(i % 97);
    out += (i % 13 == 12) ? ".\n" : " ";
    if (i % 40 == 39) out += "\n";
  }
  return out;
}

TEST(DocumentChunker, ChunksNeverExceedTheSize) {
  const ExtractedText doc = Extract(Fixture("nfelib_README.md"), MediaType::kMarkdown);
  for (size_t size : {50u, 300u, 1000u}) {
    const auto chunks = ChunkText(doc, {.size = size, .overlap = size / 5});
    ASSERT_FALSE(chunks.empty());
    for (const auto& c : chunks) {
      EXPECT_LE(c.end - c.start, size);
      EXPECT_FALSE(c.text.empty());
      EXPECT_FALSE(std::isspace(static_cast<unsigned char>(c.text.front())));
      EXPECT_FALSE(std::isspace(static_cast<unsigned char>(c.text.back())));
    }
    ExpectSlicesBack(doc, chunks);
  }
}

TEST(DocumentChunker, ChunksCoverTheTextInOrder) {
  const ExtractedText doc = Plain(Words(2000));
  const auto chunks = ChunkText(doc, {.size = 200, .overlap = 40});
  ASSERT_GT(chunks.size(), 10u);
  EXPECT_EQ(chunks.front().start, 0u);
  for (size_t i = 1; i < chunks.size(); ++i) {
    EXPECT_GT(chunks[i].start, chunks[i - 1].start);
    // No text is skipped: a gap between chunks is whitespace only.
    if (chunks[i].byte_start > chunks[i - 1].byte_end) {
      std::string gap = doc.text.substr(chunks[i - 1].byte_end, chunks[i].byte_start - chunks[i - 1].byte_end);
      EXPECT_EQ(gap.find_first_not_of(" \n"), std::string::npos) << gap;
    }
  }
  EXPECT_EQ(chunks.back().byte_end, doc.text.find_last_not_of(" \n") + 1);
}

TEST(DocumentChunker, OverlapIsBoundedAndPresent) {
  // One paragraph of one line: pieces are words, shorter than the overlap.
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "w" + std::to_string(i % 50) + (i % 9 == 8 ? ", " : " ");
  const ExtractedText doc = Plain(text);
  const auto chunks = ChunkText(doc, {.size = 120, .overlap = 30});
  size_t overlapping = 0;
  for (size_t i = 1; i < chunks.size(); ++i) {
    const size_t shared = chunks[i - 1].end > chunks[i].start ? chunks[i - 1].end - chunks[i].start : 0;
    EXPECT_LE(shared, 30u);
    overlapping += shared > 0;
  }
  // Words are far shorter than the overlap: most neighbours share some.
  // (Pieces longer than the overlap, such as whole lines, share none, as in
  // LangChain.)
  EXPECT_GT(overlapping, chunks.size() / 2);
  const auto none = ChunkText(doc, {.size = 120, .overlap = 0});
  for (size_t i = 1; i < none.size(); ++i) EXPECT_GE(none[i].start, none[i - 1].end);
}

TEST(DocumentChunker, CrlfSplitsByParagraphsLikeLf) {
  const std::string crlf = Fixture("devils_dictionary_A-B_excerpt.txt");
  ASSERT_NE(crlf.find("\r\n\r\n"), std::string::npos);
  std::string lf;
  for (char c : crlf) {
    if (c != '\r') lf += c;
  }
  const auto a = ChunkText(Plain(crlf), {.size = 1000, .overlap = 200, .unit = LengthUnit::kBytes});
  // In bytes, a CRLF chunk is longer by its \r: compare against LF chunks
  // measured the same way after removing them.
  const auto b = ChunkText(Plain(lf), {.size = 1000, .overlap = 200, .unit = LengthUnit::kBytes});
  ASSERT_GT(a.size(), 20u);
  // Paragraph boundaries are found in both: same number of chunks within a
  // few (the \r bytes make CRLF pieces slightly longer).
  EXPECT_NEAR(static_cast<double>(a.size()), static_cast<double>(b.size()), b.size() * 0.1);
  size_t paragraph_starts = 0;
  for (const auto& c : a) {
    EXPECT_NE(c.text.front(), '\r');
    EXPECT_NE(c.text.back(), '\r');
    // A chunk that starts right after a blank line starts a paragraph.
    paragraph_starts += c.byte_start >= 4 && crlf.compare(c.byte_start - 4, 4, "\r\n\r\n") == 0;
  }
  EXPECT_GT(paragraph_starts, a.size() / 2);
  ExpectSlicesBack(Plain(crlf), a);
}

TEST(DocumentChunker, CrlfAndLfGiveTheSameChunksForShortParagraphs) {
  std::string lf;
  for (int i = 0; i < 30; ++i) lf += "Paragraph " + std::to_string(i) + " has a few words.\nAnd a second line.\n\n";
  std::string crlf;
  for (char c : lf) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  // One paragraph fits a chunk, two do not, with either line ending.
  const auto a = ChunkText(Plain(lf), {.size = 60, .overlap = 0});
  const auto b = ChunkText(Plain(crlf), {.size = 60, .overlap = 0});
  ASSERT_EQ(a.size(), 30u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::string stripped;
    for (char c : b[i].text) {
      if (c != '\r') stripped += c;
    }
    EXPECT_EQ(stripped, a[i].text);
    EXPECT_TRUE(a[i].text.starts_with("Paragraph")) << a[i].text;
  }
}

TEST(DocumentChunker, MultiByteTextIsMeasuredInCodePoints) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "ação decisão “citação” nº ";
  const ExtractedText doc = Plain(text);
  const auto chunks = ChunkText(doc, {.size = 40, .overlap = 10});
  bool bytes_exceed = false;
  for (const auto& c : chunks) {
    EXPECT_LE(CodePoints(c.text), 40u);
    bytes_exceed |= c.text.size() > 40;
    EXPECT_EQ(RepairUtf8(c.text).invalid_sequences, 0u);
  }
  EXPECT_TRUE(bytes_exceed) << "code points and bytes should diverge on this text";
  ExpectSlicesBack(doc, chunks);

  // Measured in bytes, and down to single characters, a chunk never cuts a
  // character in half.
  const ExtractedText dense = Plain("çãéº“”çãéº“”çãéº“”çãéº“”çãéº“”");
  const auto small = ChunkText(dense, {.size = 5, .overlap = 0, .unit = LengthUnit::kBytes});
  for (const auto& c : small) {
    EXPECT_LE(c.text.size(), 5u);
    EXPECT_EQ(RepairUtf8(c.text).invalid_sequences, 0u);
  }
  ExpectSlicesBack(dense, small);
}

TEST(DocumentChunker, IsDeterministic) {
  const ExtractedText doc = Extract(Fixture("nfelib_README.md"), MediaType::kMarkdown);
  const auto a = ChunkText(doc, {.size = 300, .overlap = 60});
  const auto b = ChunkText(doc, {.size = 300, .overlap = 60});
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].start, b[i].start);
  }
}

TEST(DocumentChunker, PrefersParagraphBoundaries) {
  const std::string p1(60, 'a');
  const std::string p2 = "bbbb bbbb bbbb bbbb bbbb bbbb bbbb bbbb bbbb bbbb";
  const ExtractedText doc = Plain(p1 + "\n\n" + p2 + "\n\n" + p1);
  const auto chunks = ChunkText(doc, {.size = 70, .overlap = 0});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text, p1);
  EXPECT_EQ(chunks[1].text, p2);
  EXPECT_EQ(chunks[2].text, p1);
}

TEST(DocumentChunker, AHeadingOpensTheChunkOfItsLongSection) {
  std::string body;
  for (int i = 0; i < 40; ++i) body += "Sentence number " + std::to_string(i) + " of the section. ";
  const ExtractedText doc = Extract("# Intro\n\nShort.\n\n## Details\n\n" + body + "\n", MediaType::kMarkdown);
  const auto chunks = ChunkText(doc, {.size = 200, .overlap = 0});
  ASSERT_GT(chunks.size(), 3u);
  // LangChain would emit "## Details" alone before splitting the long section.
  for (const auto& c : chunks) EXPECT_NE(c.text, "## Details");
  bool opened = false;
  for (const auto& c : chunks) opened |= c.text.starts_with("## Details\n\nSentence number 0");
  EXPECT_TRUE(opened);
  for (const auto& c : chunks) EXPECT_LE(c.end - c.start, 200u);
}

TEST(DocumentChunker, RandomTextKeepsEveryRule) {
  // Seeded, so a failure reproduces.
  std::mt19937 rng(20261201);
  const std::vector<std::string> alphabet{"a", "b", "word", " ", " ", "\n", "\r\n", "\n\n", "\r\n\r\n", ". ",
                                          "ç", "ã", "“", "”", "€", "😀", "\t", "# ", "\n## ", "!"};
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int pieces = std::uniform_int_distribution<int>(0, 400)(rng);
    for (int i = 0; i < pieces; ++i) text += alphabet[rng() % alphabet.size()];
    ExtractedText doc = Plain(text);
    if (round % 3 == 0) doc = Extract(text.empty() ? "x" : text + "x", MediaType::kMarkdown);
    const size_t size = std::uniform_int_distribution<size_t>(1, 80)(rng);
    const size_t overlap = std::uniform_int_distribution<size_t>(0, size - 1)(rng);
    const LengthUnit unit = round % 2 == 0 ? LengthUnit::kCodePoints : LengthUnit::kBytes;
    const auto chunks = ChunkText(doc, {.size = size, .overlap = overlap, .unit = unit});
    size_t previous_start = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const auto& c = chunks[i];
      ASSERT_FALSE(c.text.empty());
      ASSERT_EQ(RepairUtf8(c.text).invalid_sequences, 0u) << "round " << round;
      const size_t length = unit == LengthUnit::kBytes ? c.text.size() : CodePoints(c.text);
      // One code point longer than a byte size is the only allowed excess.
      ASSERT_TRUE(length <= size || CodePoints(c.text) == 1) << "round " << round << ": " << c.text;
      if (i > 0) {
        ASSERT_GT(c.start, previous_start) << "round " << round;
      }
      previous_start = c.start;
    }
    ExpectSlicesBack(doc, chunks);
  }
}

TEST(DocumentChunker, RejectsOverlapNotBelowSize) {
  const ExtractedText doc = Plain("some text");
  EXPECT_THROW(ChunkText(doc, {.size = 100, .overlap = 100}), PermanentError);
  EXPECT_THROW(ChunkText(doc, {.size = 0, .overlap = 0}), PermanentError);
  EXPECT_NO_THROW(ChunkText(doc, {.size = 100, .overlap = 99}));
}

TEST(DocumentChunker, KeepsHeadingPathsAndPages) {
  const std::string md =
      "# Guide\n\nIntro text here.\n\n## Install\n\nRun the installer.\n\n```\n# not a heading\n```\n\n"
      "### Linux\n\nUse apt.\n\n## Usage\n\nCall it.\n";
  const ExtractedText doc = Extract(md, MediaType::kMarkdown);
  ASSERT_EQ(doc.headings.size(), 4u);
  const auto chunks = ChunkText(doc, {.size = 30, .overlap = 0});
  auto path_of = [&](const std::string& text) {
    for (const auto& c : chunks) {
      if (c.text.find(text) != std::string::npos) return c.heading_path;
    }
    return std::string("(no chunk holds '" + text + "')");
  };
  EXPECT_EQ(path_of("Intro text here."), "Guide");
  EXPECT_EQ(path_of("Run the installer."), "Guide > Install");
  EXPECT_EQ(path_of("Use apt."), "Guide > Install > Linux");
  EXPECT_EQ(path_of("Call it."), "Guide > Usage");

  ExtractedText pdf = Plain("page one text\n\npage two text\n\npage three text");
  pdf.page_starts = {0, 15, 30};
  const auto pages = ChunkText(pdf, {.size = 16, .overlap = 0});
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].page, 1);
  EXPECT_EQ(pages[1].page, 2);
  EXPECT_EQ(pages[2].page, 3);
}

}  // namespace
}  // namespace fila::document
