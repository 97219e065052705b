// Type detection, UTF-8 repair and extraction of document.ingest.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "document_test_support.h"
#include "fila/core/errors.h"
#include "fila/document/extract.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

using testing::ErrorOf;
using testing::Fixture;

TEST(DocumentDetect, TrustsContentNotTheName) {
  EXPECT_EQ(DetectType(Fixture("tjro_dj_20250624_pages48-72.pdf"), "text/plain", "notes.txt"), MediaType::kPdf);
  // A ".pdf" that is really an HTML page.
  EXPECT_EQ(DetectType(Fixture("tjro_dj_20240720_blocked_html_saved_as.pdf"), "application/pdf", "dj.pdf"),
            MediaType::kHtml);
  EXPECT_EQ(DetectType(Fixture("page.html"), "", "page.txt"), MediaType::kHtml);
  EXPECT_EQ(DetectType(Fixture("nfelib_README.md"), "", ""), MediaType::kMarkdown);
  EXPECT_EQ(DetectType(Fixture("devils_dictionary_A-B_excerpt.txt"), "", ""), MediaType::kText);
  EXPECT_EQ(DetectType("plain words", "text/markdown", ""), MediaType::kMarkdown);
}

TEST(DocumentDetect, RefusesBinaryTypes) {
  EXPECT_NE(ErrorOf([] { DetectType(std::string("\x89PNG\r\n\x1a\n", 8) + "rest", "", "a.txt"); })
                .find("unsupported document type: PNG image"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { DetectType(std::string("PK\x03\x04", 4) + "zip", "", "a.docx"); }).find("ZIP"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { DetectType(std::string("ab\0cd", 5), "", ""); }).find("binary"), std::string::npos);
}

TEST(DocumentUtf8, RepairsInvalidSequences) {
  const Utf8Repair r = RepairUtf8(std::string("abc\xff\xfe" "def\xc3(\xed\xa0\x80z\0!", 16));
  EXPECT_EQ(r.text, "abc\xEF\xBF\xBD" "def\xEF\xBF\xBD(\xEF\xBF\xBDz!");
  EXPECT_EQ(r.invalid_sequences, 3u);
  EXPECT_EQ(r.first_invalid, 3u);
  EXPECT_EQ(r.nul_bytes, 1u);
  EXPECT_EQ(RepairUtf8("\xEF\xBB\xBFhi").text, "hi");
  EXPECT_EQ(RepairUtf8("ação “ok”").invalid_sequences, 0u);
}

TEST(DocumentExtract, InvalidUtf8IsRepairedOrRejected) {
  const std::string bad = "caf\xe9 au lait";  // Latin-1 é
  const ExtractedText doc = Extract(bad, MediaType::kText);
  EXPECT_EQ(doc.text, "caf\xEF\xBF\xBD au lait");
  EXPECT_NE(ErrorOf([&] { Extract(bad, MediaType::kText, {.reject_invalid_utf8 = true}); })
                .find("invalid UTF-8 at byte 3"),
            std::string::npos);
  std::string noise;
  for (int i = 0; i < 400; ++i) noise += static_cast<char>(0x80 + (i * 37) % 0x40);
  EXPECT_NE(ErrorOf([&] { Extract(noise, MediaType::kText); }).find("not UTF-8 text"), std::string::npos);
}

TEST(DocumentExtract, HtmlDropsScriptsAndStyles) {
  const ExtractedText doc = Extract(Fixture("page.html"), MediaType::kHtml);
  EXPECT_NE(doc.text.find("it rewards you with a lively rise."), std::string::npos) << doc.text;
  EXPECT_EQ(doc.text.find("do-not-index-this-script"), std::string::npos);
  EXPECT_EQ(doc.text.find("another script"), std::string::npos);
  EXPECT_EQ(doc.text.find("font-family"), std::string::npos);
  EXPECT_EQ(doc.text.find("Enable JavaScript"), std::string::npos);
  EXPECT_EQ(doc.text.find('<'), std::string::npos);
  // Blocks become paragraphs; whitespace inside a paragraph collapses.
  EXPECT_NE(doc.text.find("Hydration\n\nBakers express"), std::string::npos) << doc.text;
  EXPECT_NE(doc.text.find("Feed it flour"), std::string::npos);
  ASSERT_EQ(doc.headings.size(), 3u);
  EXPECT_EQ(doc.headings[1].title, "Hydration");
  EXPECT_EQ(doc.headings[1].level, 2);
  EXPECT_EQ(doc.text.substr(doc.headings[1].offset, 9), "Hydration");
}

TEST(DocumentExtract, PdfKeepsPages) {
  const ExtractedText doc = Extract(Fixture("tjro_dj_20250624_pages48-72.pdf"), MediaType::kPdf);
  ASSERT_EQ(doc.page_starts.size(), 25u);
  EXPECT_EQ(doc.page_starts[0], 0u);
  for (size_t i = 1; i < doc.page_starts.size(); ++i) EXPECT_GT(doc.page_starts[i], doc.page_starts[i - 1]);
  EXPECT_NE(doc.text.find("DIARIO DA JUSTIÇA"), std::string::npos);
  EXPECT_EQ(RepairUtf8(doc.text).invalid_sequences, 0u);
}

TEST(DocumentExtract, ScannedPdfHasNoText) {
  EXPECT_NE(ErrorOf([] { Extract(Fixture("scanned_no_text.pdf"), MediaType::kPdf); }).find("no text found"),
            std::string::npos);
}

TEST(DocumentExtract, DamagedPdfIsPermanent) {
  EXPECT_NE(ErrorOf([] { Extract("%PDF-1.7\nthis is not really a pdf", MediaType::kPdf); }).find("PDF"),
            std::string::npos);
}

TEST(DocumentExtract, EmptyTextIsRefused) {
  EXPECT_NE(ErrorOf([] { Extract(" \r\n\t\n", MediaType::kText); }).find("no text found"), std::string::npos);
}

TEST(DocumentExtract, MarkdownHeadingsSkipCodeFences) {
  const auto headings = MarkdownHeadings("Title\n=====\n\n```\n# no\n```\n## Two ##\n\nSub\n---\n#nospace\n");
  ASSERT_EQ(headings.size(), 3u);
  EXPECT_EQ(headings[0].title, "Title");
  EXPECT_EQ(headings[0].level, 1);
  EXPECT_EQ(headings[1].title, "Two");
  EXPECT_EQ(headings[1].level, 2);
  EXPECT_EQ(headings[2].title, "Sub");
}

}  // namespace
}  // namespace fila::document
