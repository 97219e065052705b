#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace fila::document {

enum class MediaType { kText, kMarkdown, kHtml, kPdf };

// "text/plain", "text/markdown", "text/html", "application/pdf".
const char* MediaTypeName(MediaType type);

struct Heading {
  size_t offset = 0;  // byte offset of the heading's line in the text
  int level = 1;      // 1..6
  std::string title;
};

// The text of a document as extracted, with what the chunker needs to
// label each chunk. Offsets are byte offsets into `text`, which is valid
// UTF-8 without NUL bytes.
struct ExtractedText {
  std::string text;
  MediaType type = MediaType::kText;
  std::vector<size_t> page_starts;  // PDF: where page i+1 begins; empty otherwise
  std::vector<Heading> headings;    // Markdown and HTML, in text order
};

}  // namespace fila::document
