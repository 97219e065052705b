// document.ingest's extraction budget in this process: HTML refused on its
// element count or depth before gumbo parses it (the estimate checked
// against gumbo's real tree), nothing recursive on depth, PDF pages and
// text sizes. Findings 4 and 10 of the security review.
#include <pthread.h>

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "document_test_support.h"
#include "extract_formats.h"
#include "fila/core/errors.h"
#include "fila/document/extract.h"

namespace fila::document {
namespace {

using testing::ErrorOf;
using testing::Repeat;

ExtractOptions Roomy() {
  ExtractOptions options;
  options.budget.max_html_depth = 1000000;
  options.budget.max_html_elements = 1000000;
  return options;
}

TEST(DocumentBudget, DeeplyNestedHtmlIsRefusedBeforeParsing) {
  // The review's crash: 120,000 nested <div>s (gumbo alone needs about half
  // a minute of CPU for them; the recursive walk then overflowed the stack).
  const std::string html = Repeat("<div>", 120000) + "x" + Repeat("</div>", 120000);
  EXPECT_EQ(ErrorOf([&] { Extract(html, MediaType::kHtml); }),
            "document exceeds the extraction budget: HTML elements nested 120000 deep, the limit is 1000 "
            "(FILA_EXTRACT_MAX_HTML_DEPTH)");
}

TEST(DocumentBudget, UnclosedElementsAreRefusedBeforeParsing) {
  // The review's memory blow-up: 65,000 unclosed <div>s (8.3 GB).
  EXPECT_EQ(ErrorOf([&] { Extract(Repeat("<div>", 65000), MediaType::kHtml); }),
            "document exceeds the extraction budget: HTML elements nested 65000 deep, the limit is 1000 "
            "(FILA_EXTRACT_MAX_HTML_DEPTH)");
}

TEST(DocumentBudget, TooManyElementsAreRefused) {
  EXPECT_EQ(ErrorOf([&] { Extract(Repeat("<i>x</i>", 250000), MediaType::kHtml); }),
            "document exceeds the extraction budget: more than 200000 HTML elements, the limit is 200000 "
            "(FILA_EXTRACT_MAX_HTML_ELEMENTS)");
  EXPECT_NO_THROW(Extract(Repeat("<i>x</i>", 200000), MediaType::kHtml));
}

TEST(DocumentBudget, ReconstructedFormattingElementsCount) {
  // 18 KB that gumbo turns into a million elements (378 MB): the markup's
  // 2,000 tags are not what counts.
  std::string html = "<p>";
  for (int i = 0; i < 1000; ++i) html += "<b id=" + std::to_string(i) + ">";
  html += "</p>" + Repeat("<p>x</p>", 1000);
  EXPECT_EQ(ErrorOf([&] { Extract(html, MediaType::kHtml); }),
            "document exceeds the extraction budget: more than 200000 HTML elements, the limit is 200000 "
            "(FILA_EXTRACT_MAX_HTML_ELEMENTS)");
}

TEST(DocumentBudget, HtmlBytesAreRefused) {
  ExtractOptions options;
  options.budget.max_html_bytes = 1000;
  EXPECT_EQ(ErrorOf([&] { Extract("<p>" + std::string(1000, 'x'), MediaType::kHtml, options); }),
            "document exceeds the extraction budget: 1003 bytes of HTML, the limit is 1000 "
            "(FILA_EXTRACT_MAX_HTML_BYTES)");
}

TEST(DocumentBudget, TheLimitItselfIsAllowed) {
  ExtractOptions options;
  options.budget.max_html_depth = 50;
  EXPECT_EQ(Extract(Repeat("<div>", 50) + "deep" + Repeat("</div>", 50), MediaType::kHtml, options).text, "deep");
  EXPECT_NE(ErrorOf([&] { Extract(Repeat("<div>", 51) + "deep", MediaType::kHtml, options); })
                .find("nested 51 deep, the limit is 50"),
            std::string::npos);
}

// The estimate made before parsing against the tree gumbo builds: equal
// on the shapes that decide depth (implied end tags, scopes, raw text).
TEST(DocumentBudget, TheEstimateMatchesGumbosTree) {
  const std::vector<std::string> documents = {
      "<!doctype html><html><head><title>t <div></title></head><body><p>a<p>b</body></html>",
      Repeat("<p><div>", 300),                                  // <div> closes the open <p>
      "<ul>" + Repeat("<li><b>x</li>", 300) + "</ul>",         // </li> closes the <b> within
      Repeat("<p><font>x</p>", 300),                            // so does </p>
      Repeat("<div><table><tr><td>", 100),                      // cells nest through tables
      Repeat("<div><table><tr><td></div>", 100),                // </div> cannot reach out of a cell
      "<table>" + Repeat("<tr><td>a<td>b", 300) + "</table>",  // implied </td>, </tr>
      "<dl>" + Repeat("<dt>a<dd>b", 300) + "</dl>",
      "<select>" + Repeat("<option>a", 300) + "</select>",
      Repeat("<h1>a<h2>b", 300),                                // a heading closes an open heading
      "<script>" + Repeat("<div>", 500) + "</script><style>" + Repeat("<div>", 500) + "</style>",
      "<!--" + Repeat("<div>", 500) + "-->",
      Repeat("<a title=\"<div>\" data-x='>'>x</a>", 300),
      "<svg>" + Repeat("<path d='M0'/>", 300) + "</svg>",
      Repeat("<span>", 300) + Repeat("</span>", 300),
      Repeat("<br><img src=x><hr>", 300),
      Repeat("<p><b class=c>x</p></b>", 300),                  // </b> drops the closed entry
      "<ul><li>a<ul><li>b<ol><li>c</ol></ul><li>d</ul>",
      [] {
        std::string html;  // reconstruction: distinct elements are cloned into every paragraph
        for (int i = 0; i < 30; ++i) html += "<b id=" + std::to_string(i) + ">";
        return "<p>" + html + "</p>" + Repeat("<p>x</p>", 30);
      }(),
  };
  for (const std::string& html : documents) {
    const HtmlShape estimate = ScanHtml(html, UINT64_MAX);
    const HtmlShape tree = ParsedHtmlShape(html);
    EXPECT_EQ(estimate.depth, tree.depth) << html.substr(0, 80);
    EXPECT_EQ(estimate.elements, tree.elements) << html.substr(0, 80);
  }
}

TEST(DocumentBudget, TheEstimateStaysCloseOnTagSoup) {
  // Random misnested markup of 60 tags: the estimate differs from the tree
  // where tables (foster parenting, stray tags in table modes) and the
  // adoption agency are involved, which are not modelled; the difference
  // stays a fraction of the document. (Measured: at most 19 levels and 53
  // elements over 2,000 documents.)
  const std::vector<std::string> pieces = {"<div>", "</div>", "<p>", "</p>", "<b>", "</b>", "<i class=x>", "</i>",
                                           "<a href=y>", "</a>", "<li>", "<ul>", "</ul>", "<table>", "</table>",
                                           "<tr>", "<td>", "</td>", "text ", "<br>", "<span>", "</span>", "<h2>",
                                           "</h2>", "<font>", "<dd>", "<dt>", "<option>", "<select>"};
  std::mt19937 random(4711);
  uint64_t worst_depth = 0;
  uint64_t worst_elements = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string html;
    for (int i = 0; i < 60; ++i) html += pieces[random() % pieces.size()];
    const HtmlShape estimate = ScanHtml(html, UINT64_MAX);
    const HtmlShape tree = ParsedHtmlShape(html);
    const auto diff = [](uint64_t a, uint64_t b) { return a > b ? a - b : b - a; };
    worst_depth = std::max(worst_depth, diff(estimate.depth, tree.depth));
    worst_elements = std::max(worst_elements, diff(estimate.elements, tree.elements));
  }
  EXPECT_LE(worst_depth, 25u);
  EXPECT_LE(worst_elements, 60u);
}

struct StackRun {
  std::function<void()> body;
  std::string error;
};

// Runs `body` on a thread with a 256 KiB stack: deep recursion overflows it.
std::string OnSmallStack(std::function<void()> body) {
  StackRun run{std::move(body), {}};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  const int rc = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        auto* r = static_cast<StackRun*>(p);
        try {
          r->body();
        } catch (const std::exception& e) {
          r->error = e.what();
        }
        return nullptr;
      },
      &run);
  pthread_attr_destroy(&attr);
  if (rc != 0) return "pthread_create failed";
  pthread_join(thread, nullptr);
  return run.error;
}

TEST(DocumentBudget, NothingRecursesOnTheDepth) {
  // 20,000 levels on a 256 KiB stack: the recursive walk and
  // gumbo_destroy_output (one frame per level each) overflowed it.
  const std::string html = Repeat("<div>", 20000) + "<h2>deep</h2>" + Repeat("</div>", 20000);
  ExtractedText doc;
  EXPECT_EQ(OnSmallStack([&] { doc = Extract(html, MediaType::kHtml, Roomy()); }), "");
  EXPECT_EQ(doc.text, "deep");
  ASSERT_EQ(doc.headings.size(), 1u);
  EXPECT_EQ(doc.headings[0].title, "deep");
}

TEST(DocumentBudget, HeadingsNestedInHeadingsDoNotCopyTheTextPerLevel) {
  const std::string html = Repeat("<h1><div>", 500) + std::string(100000, 'x');
  const ExtractedText doc = Extract(html, MediaType::kHtml);
  ASSERT_EQ(doc.headings.size(), 500u);
  size_t titles = 0;
  for (const Heading& h : doc.headings) titles += h.title.size();
  EXPECT_LE(titles, 500u * 256u);
}

TEST(DocumentBudget, PdfPagesAndTextAreBounded) {
  const std::string pdf = [] {
    std::ifstream in(std::string(FILA_SOURCE_DIR) + "/tests/fixtures/documents/tjro_dj_20250624_pages48-72.pdf",
                     std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  ExtractOptions pages;
  pages.budget.max_pdf_pages = 10;
  EXPECT_EQ(ErrorOf([&] { Extract(pdf, MediaType::kPdf, pages); }),
            "document exceeds the extraction budget: 25 PDF pages, the limit is 10 (FILA_EXTRACT_MAX_PDF_PAGES)");
  ExtractOptions bytes;
  bytes.budget.max_pdf_bytes = 1000;
  EXPECT_NE(ErrorOf([&] { Extract(pdf, MediaType::kPdf, bytes); }).find("bytes of PDF, the limit is 1000"),
            std::string::npos);
  ExtractOptions text;
  text.budget.max_text_bytes = 10000;
  EXPECT_EQ(ErrorOf([&] { Extract(pdf, MediaType::kPdf, text); }),
            "document exceeds the extraction budget: more than 10000 bytes of text, the limit is 10000 "
            "(FILA_EXTRACT_MAX_TEXT_BYTES)");
  EXPECT_EQ(Extract(pdf, MediaType::kPdf).page_starts.size(), 25u);
}

}  // namespace
}  // namespace fila::document
