#pragma once

// The format-specific extractors behind Extract() (one translation unit
// per third-party library), and the HTML budget's checks.

#include <cstdint>
#include <string>
#include <string_view>

#include "fila/document/extract.h"
#include "fila/extract/budget.h"

namespace fila::document {

// `bytes` as UTF-8 per `options` (repaired or rejected); PermanentError.
std::string ValidText(std::string_view bytes, const ExtractOptions& options);

// PermanentError when an HTML or PDF document of `size` bytes exceeds the
// budget's bytes for its type.
void CheckBytes(MediaType type, size_t size, const extract::Budget& budget);

// Elements (not counting <html>, <head>, <body>) and how deep they nest.
// HTML's whitespace (ASCII space, tab, line feed, carriage return, form
// feed).
inline bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

struct HtmlShape {
  uint64_t elements = 0;
  uint64_t depth = 0;
  bool cut = false;  // counting stopped past the limit: more elements than `elements`
};

// The shape gumbo's tree of `html` will have, estimated from the markup
// in one pass without building anything (html_scan.cpp); it stops once
// there are more than `max_elements`.
HtmlShape ScanHtml(std::string_view html, uint64_t max_elements);

// The shape of the tree gumbo builds for `html` (what ScanHtml estimates).
HtmlShape ParsedHtmlShape(const std::string& html);

// PermanentError ("document exceeds the extraction budget: ...") when
// `shape` has more elements or depth than `budget` allows.
void CheckHtmlShape(const HtmlShape& shape, const extract::Budget& budget);

// Fills doc.text and doc.headings from valid UTF-8 HTML (gumbo), within
// the budget's elements and depth (checked before parsing, on the
// estimate, and after, on the tree). Nothing recurses on the depth.
void ExtractHtml(const std::string& html, const extract::Budget& budget, ExtractedText& doc);

// Fills doc.text and doc.page_starts (poppler-cpp), within the budget's
// pages and text.
void ExtractPdf(std::string_view bytes, const extract::Budget& budget, ExtractedText& doc);

}  // namespace fila::document
