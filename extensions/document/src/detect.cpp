#include <algorithm>
#include <cctype>
#include <string>

#include "fila/core/errors.h"
#include "fila/document/extract.h"

namespace fila::document {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct Magic {
  std::string_view prefix;
  const char* name;
};

// Binary formats a user may plausibly upload: named in the error.
constexpr Magic kBinary[] = {
    {"\x89PNG", "PNG image"},        {"\xFF\xD8\xFF", "JPEG image"},
    {"GIF8", "GIF image"},           {"PK\x03\x04", "ZIP archive (or DOCX/XLSX/ODT)"},
    {"\x1F\x8B", "gzip data"},       {"\xD0\xCF\x11\xE0", "legacy Office document"},
    {"RIFF", "RIFF media"},          {"\x7F" "ELF", "executable"},
    {"II*\0", "TIFF image"},         {"MM\0*", "TIFF image"},
    {"{\\rtf", "RTF document"},
};

bool LooksLikeMarkdown(std::string_view text) {
  const std::string_view head = text.substr(0, 16384);
  size_t signals = 0;
  size_t line_start = 0;
  while (line_start < head.size()) {
    size_t eol = head.find('\n', line_start);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(line_start, eol - line_start);
    if (line.starts_with("# ") || line.starts_with("## ") || line.starts_with("### ") ||
        line.starts_with("```") || line.starts_with("===") || line.starts_with("- [")) {
      ++signals;
    }
    if (line.find("](") != std::string_view::npos) ++signals;
    line_start = eol + 1;
  }
  return signals >= 2;
}

}  // namespace

MediaType DetectType(std::string_view bytes, std::string_view declared, std::string_view name) {
  // "%PDF-" may follow a little junk (some generators prepend bytes).
  if (bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos) return MediaType::kPdf;
  for (const Magic& m : kBinary) {
    if (bytes.starts_with(m.prefix)) {
      throw PermanentError(std::string("unsupported document type: ") + m.name +
                           " (supported: plain text, Markdown, HTML, PDF)");
    }
  }
  if (bytes.substr(0, 8192).find('\0') != std::string_view::npos) {
    throw PermanentError(
        "unsupported document type: binary data (NUL bytes; supported: plain text, Markdown, HTML, PDF)");
  }
  size_t i = bytes.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
  const std::string head = Lower(bytes.substr(i, 1024));
  if (head.starts_with("<!doctype html") || head.starts_with("<html") ||
      (head.starts_with("<?xml") && head.find("<html") != std::string::npos) ||
      (head.starts_with("<!--") && head.find("<html") != std::string::npos) ||
      head.starts_with("<head") || head.starts_with("<body")) {
    return MediaType::kHtml;
  }
  const std::string type = Lower(declared.substr(0, declared.find(';')));
  const std::string file = Lower(name);
  if (type == "text/markdown" || type == "text/x-markdown" || file.ends_with(".md") ||
      file.ends_with(".markdown")) {
    return MediaType::kMarkdown;
  }
  // Declared HTML that does not open like HTML is still HTML if it has tags
  // at the start (a fragment).
  if ((type == "text/html" || file.ends_with(".html") || file.ends_with(".htm")) && head.starts_with("<")) {
    return MediaType::kHtml;
  }
  if (type == "text/plain" || file.ends_with(".txt")) return MediaType::kText;
  return LooksLikeMarkdown(bytes) ? MediaType::kMarkdown : MediaType::kText;
}

const char* MediaTypeName(MediaType type) {
  switch (type) {
    case MediaType::kText: return "text/plain";
    case MediaType::kMarkdown: return "text/markdown";
    case MediaType::kHtml: return "text/html";
    case MediaType::kPdf: return "application/pdf";
  }
  return "text/plain";
}

}  // namespace fila::document
