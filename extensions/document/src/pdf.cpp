// PDF to text with poppler-cpp: the only translation unit with poppler headers.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>
#include <string>

#include "extract_formats.h"
#include "fila/core/errors.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

// poppler prints every syntax error of a damaged file on stderr; the
// handler reports one clear error instead.
void Quiet(const std::string&, void*) {}

}  // namespace

void ExtractPdf(std::string_view bytes, const extract::Budget& budget, ExtractedText& doc) {
  static const bool kSilenced = [] {
    poppler::set_debug_error_function(&Quiet, nullptr);
    return true;
  }();
  (void)kSilenced;
  if (bytes.size() > static_cast<size_t>(INT_MAX)) throw PermanentError("PDF larger than 2 GiB");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) throw PermanentError("damaged PDF: poppler cannot open it");
  if (pdf->is_locked()) throw PermanentError("encrypted PDF: a password is needed to read it");
  const int pages = pdf->pages();
  if (pages > 0 && static_cast<uint64_t>(pages) > budget.max_pdf_pages) {
    extract::ThrowOverBudget(std::to_string(pages) + " PDF pages", budget.max_pdf_pages, "FILA_EXTRACT_MAX_PDF_PAGES");
  }
  for (int i = 0; i < pages; ++i) {
    if (!doc.text.empty()) doc.text += "\n\n";
    doc.page_starts.push_back(doc.text.size());
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    // Reading order, not physical layout: a two-column gazette page comes
    // out column by column instead of interleaving the columns line by line.
    poppler::byte_array utf8 =
        page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout).to_utf8();
    std::string text = RepairUtf8(std::string_view(utf8.data(), utf8.size())).text;
    // Form feeds end pages in poppler's output; page breaks are ours.
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    doc.text += text;
    // Checked as it grows: a few pages may hold far more text than the budget.
    if (doc.text.size() > budget.max_text_bytes) {
      extract::ThrowOverBudget("more than " + std::to_string(budget.max_text_bytes) + " bytes of text",
                               budget.max_text_bytes, "FILA_EXTRACT_MAX_TEXT_BYTES");
    }
  }
}

}  // namespace fila::document
