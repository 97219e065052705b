// document.ingest's extraction in the fila-extract helper (the worker's
// way): the same text as in this process, the budget's counts, and the
// process limits that catch what the counts let through.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "document_test_support.h"
#include "fila/core/errors.h"
#include "fila/document/extract.h"

namespace fila::document {
namespace {

using testing::ErrorOf;
using testing::Fixture;
using testing::Repeat;

ExtractedText Isolated(std::string_view bytes, MediaType type, const ExtractOptions& options = {}) {
  return ExtractIsolated(FILA_EXTRACT_BIN, bytes, type, options, Deadline::max(), {});
}

void ExpectSame(const ExtractedText& a, const ExtractedText& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.page_starts, b.page_starts);
  ASSERT_EQ(a.headings.size(), b.headings.size());
  for (size_t i = 0; i < a.headings.size(); ++i) {
    EXPECT_EQ(a.headings[i].offset, b.headings[i].offset);
    EXPECT_EQ(a.headings[i].level, b.headings[i].level);
    EXPECT_EQ(a.headings[i].title, b.headings[i].title);
  }
}

TEST(DocumentIsolated, GivesTheSameTextAsInProcess) {
  for (const auto& [name, type] : {std::pair{"page.html", MediaType::kHtml},
                                   std::pair{"tjro_dj_20250624_pages48-72.pdf", MediaType::kPdf},
                                   std::pair{"nfelib_README.md", MediaType::kMarkdown}}) {
    SCOPED_TRACE(name);
    const std::string bytes = Fixture(name);
    ExpectSame(Isolated(bytes, type), Extract(bytes, type));
  }
}

TEST(DocumentIsolated, KeepsTheHelpersErrors) {
  EXPECT_NE(ErrorOf([] { Isolated(Fixture("scanned_no_text.pdf"), MediaType::kPdf); }).find("no text found"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Isolated("<p>caf\xe9", MediaType::kHtml, {.reject_invalid_utf8 = true}); })
                .find("invalid UTF-8 at byte 6"),
            std::string::npos);
  ExtractOptions pages;
  pages.budget.max_pdf_pages = 10;
  EXPECT_EQ(ErrorOf([&] { Isolated(Fixture("tjro_dj_20250624_pages48-72.pdf"), MediaType::kPdf, pages); }),
            "document exceeds the extraction budget: 25 PDF pages, the limit is 10 (FILA_EXTRACT_MAX_PDF_PAGES)");
  EXPECT_EQ(ErrorOf([] { Isolated(Repeat("<div>", 120000) + "x" + Repeat("</div>", 120000), MediaType::kHtml); }),
            "document exceeds the extraction budget: HTML elements nested 120000 deep, the limit is 1000 "
            "(FILA_EXTRACT_MAX_HTML_DEPTH)");
}

TEST(DocumentIsolated, ParserTimePastTheCountsHitsTheCpuLimit) {
  // With the counts raised, 120,000 nested <div>s reach gumbo, which needs
  // about half a minute for them: the CPU limit ends it.
  ExtractOptions options;
  options.budget.max_html_depth = 1000000;
  options.budget.cpu_seconds = 1;
  EXPECT_EQ(ErrorOf([&] { Isolated(Repeat("<div>", 120000) + "x" + Repeat("</div>", 120000), MediaType::kHtml, options); }),
            "document exceeds the extraction budget: more than 1 s of CPU time, the limit is 1 "
            "(FILA_EXTRACT_CPU_SECONDS)");
}

TEST(DocumentIsolated, ParserMemoryPastTheCountsHitsTheMemoryLimit) {
  // 150,000 elements need about 60 MB of gumbo's tree.
  ExtractOptions options;
  options.budget.max_html_elements = 1000000;
  options.budget.memory_mib = 48;
  EXPECT_EQ(ErrorOf([&] { Isolated(Repeat("<div>x</div>", 150000), MediaType::kHtml, options); }),
            "document exceeds the extraction budget: more than 48 MiB of memory, the limit is 48 "
            "(FILA_EXTRACT_MEMORY_MB)");
}

TEST(DocumentIsolated, UnclosedElementsParseInLittleMemory) {
  // gumbo kept a copy of the open elements per parse error: 10,000
  // unclosed <div>s made 786 MB of them. Without the copies, 128 MiB is
  // plenty.
  ExtractOptions options;
  options.budget.max_html_depth = 100000;
  options.budget.memory_mib = 128;
  const ExtractedText doc = Isolated(Repeat("<div>x", 10000), MediaType::kHtml, options);
  EXPECT_EQ(doc.text.size(), 10000u * 3 - 2);
}

}  // namespace
}  // namespace fila::document
