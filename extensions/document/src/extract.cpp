#include "fila/document/extract.h"

#include <algorithm>
#include <string>

#include "extract_formats.h"
#include "fila/core/errors.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

bool IsLineSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsLineSpace(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsLineSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool AllOf(std::string_view s, char c) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [c](char x) { return x == c; });
}

}  // namespace

std::string ValidText(std::string_view bytes, const ExtractOptions& options) {
  Utf8Repair repaired = RepairUtf8(bytes);
  if (repaired.invalid_sequences > 0 && options.reject_invalid_utf8) {
    throw PermanentError("invalid UTF-8 at byte " + std::to_string(repaired.first_invalid) + " (" +
                         std::to_string(repaired.invalid_sequences) +
                         " invalid sequences; unset reject_invalid_utf8 to replace them with U+FFFD)");
  }
  // Mostly-invalid "text" is binary data or another encoding: replacing it
  // would store noise.
  if (repaired.invalid_bytes > 16 && repaired.invalid_bytes > bytes.size() / 4) {
    throw PermanentError("not UTF-8 text: " + std::to_string(repaired.invalid_bytes) +
                         " invalid bytes in " + std::to_string(bytes.size()) +
                         " bytes (binary data or a legacy encoding)");
  }
  return std::move(repaired.text);
}

std::vector<Heading> MarkdownHeadings(std::string_view text) {
  std::vector<Heading> out;
  bool fenced = false;
  std::string_view fence;
  size_t previous_start = 0;
  std::string_view previous;  // the last non-blank line not yet claimed by a heading
  for (size_t start = 0; start < text.size();) {
    size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view raw = text.substr(start, eol - start);
    const std::string_view line = Trim(raw);
    const size_t next = eol + 1;
    if (line.starts_with("```") || line.starts_with("~~~")) {
      if (!fenced) {
        fenced = true;
        fence = line.substr(0, 3);
      } else if (line.starts_with(fence)) {
        fenced = false;
      }
      previous = {};
      start = next;
      continue;
    }
    if (fenced) {
      start = next;
      continue;
    }
    size_t hashes = 0;
    while (hashes < line.size() && line[hashes] == '#') ++hashes;
    if (hashes >= 1 && hashes <= 6 && raw.starts_with(line.substr(0, 1)) &&
        (hashes == line.size() || IsLineSpace(line[hashes]))) {
      std::string_view title = Trim(line.substr(hashes));
      while (!title.empty() && title.back() == '#') title.remove_suffix(1);
      title = Trim(title);
      if (!title.empty()) out.push_back({start, static_cast<int>(hashes), std::string(title)});
      previous = {};
    } else if (!previous.empty() && (AllOf(line, '=') || (AllOf(line, '-') && line.size() >= 3))) {
      out.push_back({previous_start, AllOf(line, '=') ? 1 : 2, std::string(previous)});
      previous = {};
    } else if (line.empty()) {
      previous = {};
    } else {
      previous = line;
      previous_start = start;
    }
    start = next;
  }
  return out;
}

void CheckBytes(MediaType type, size_t size, const extract::Budget& budget) {
  if (type == MediaType::kHtml && size > budget.max_html_bytes) {
    extract::ThrowOverBudget(std::to_string(size) + " bytes of HTML", budget.max_html_bytes,
                             "FILA_EXTRACT_MAX_HTML_BYTES");
  }
  if (type == MediaType::kPdf && size > budget.max_pdf_bytes) {
    extract::ThrowOverBudget(std::to_string(size) + " bytes of PDF", budget.max_pdf_bytes,
                             "FILA_EXTRACT_MAX_PDF_BYTES");
  }
}

ExtractedText Extract(std::string_view bytes, MediaType type, const ExtractOptions& options) {
  CheckBytes(type, bytes.size(), options.budget);
  ExtractedText doc;
  doc.type = type;
  switch (type) {
    case MediaType::kText:
      doc.text = ValidText(bytes, options);
      break;
    case MediaType::kMarkdown:
      doc.text = ValidText(bytes, options);
      doc.headings = MarkdownHeadings(doc.text);
      break;
    case MediaType::kHtml:
      ExtractHtml(ValidText(bytes, options), options.budget, doc);
      break;
    case MediaType::kPdf:
      ExtractPdf(bytes, options.budget, doc);
      break;
  }
  if (doc.text.size() > options.budget.max_text_bytes) {
    extract::ThrowOverBudget(std::to_string(doc.text.size()) + " bytes of text", options.budget.max_text_bytes,
                             "FILA_EXTRACT_MAX_TEXT_BYTES");
  }
  const bool any = std::any_of(doc.text.begin(), doc.text.end(), [](char c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v');
  });
  if (!any) {
    if (type == MediaType::kPdf) {
      throw PermanentError("no text found: the PDF's " + std::to_string(doc.page_starts.size()) +
                           " page(s) have no text layer (a scanned PDF needs OCR first)");
    }
    throw PermanentError(std::string("no text found in the ") + MediaTypeName(type) + " document");
  }
  return doc;
}

}  // namespace fila::document
