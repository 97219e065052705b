#include "fila/diario/pdf_text.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>

#include "fila/core/errors.h"

namespace fila::diario {
namespace {

void QuietPoppler() {
  // poppler prints syntax warnings of damaged PDFs on stderr; the handler
  // reports what matters itself.
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

}  // namespace

void CheckPdfBytes(size_t size, const extract::Budget& budget) {
  if (size > budget.max_pdf_bytes) {
    extract::ThrowOverBudget(std::to_string(size) + " bytes of PDF", budget.max_pdf_bytes, "FILA_EXTRACT_MAX_PDF_BYTES");
  }
}

bool LooksLikePdf(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  size_t i = 0;
  while (i < bytes.size() && i < 1024 && (bytes[i] == ' ' || bytes[i] == '\r' || bytes[i] == '\n' || bytes[i] == '\t')) ++i;
  return bytes.substr(i, 5) == "%PDF-";
}

std::vector<PageText> ExtractPdfText(std::string_view bytes, const std::function<bool()>& cancelled,
                                     const extract::Budget& budget) {
  QuietPoppler();
  if (!LooksLikePdf(bytes)) throw PermanentError("the document is not a PDF");
  CheckPdfBytes(bytes.size(), budget);
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) throw PermanentError("poppler cannot open the PDF (damaged?)");
  if (doc->is_locked()) throw PermanentError("the PDF is encrypted");
  std::vector<PageText> pages;
  const int n = doc->pages();
  if (n > 0 && static_cast<uint64_t>(n) > budget.max_pdf_pages) {
    extract::ThrowOverBudget(std::to_string(n) + " PDF pages", budget.max_pdf_pages, "FILA_EXTRACT_MAX_PDF_PAGES");
  }
  pages.reserve(static_cast<size_t>(n));
  uint64_t text_bytes = 0;
  for (int i = 0; i < n; ++i) {
    if (cancelled && cancelled()) throw TransientError("text extraction cancelled");
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    PageText p;
    p.number = i + 1;
    if (page) {
      // Raw order keeps the stream's reading order: line-wrapped process
      // numbers stay together ("0810430-" then "52.2024...").
      auto utf8 = page->text(poppler::rectf(), poppler::page::raw_order_layout).to_utf8();
      p.text.assign(utf8.begin(), utf8.end());
    }
    text_bytes += p.text.size();
    if (text_bytes > budget.max_text_bytes) {
      extract::ThrowOverBudget("more than " + std::to_string(budget.max_text_bytes) + " bytes of text",
                               budget.max_text_bytes, "FILA_EXTRACT_MAX_TEXT_BYTES");
    }
    pages.push_back(std::move(p));
  }
  return pages;
}

}  // namespace fila::diario
