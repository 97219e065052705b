#pragma once

// The format-specific extractors behind Extract() (one translation unit
// per third-party library).

#include <string>
#include <string_view>

#include "fila/document/extract.h"

namespace fila::document {

// `bytes` as UTF-8 per `options` (repaired or rejected); PermanentError.
std::string ValidText(std::string_view bytes, const ExtractOptions& options);

// Fills doc.text and doc.headings from valid UTF-8 HTML (gumbo).
void ExtractHtml(const std::string& html, ExtractedText& doc);

// Fills doc.text and doc.page_starts (poppler-cpp).
void ExtractPdf(std::string_view bytes, ExtractedText& doc);

}  // namespace fila::document
