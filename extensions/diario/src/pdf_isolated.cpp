// Gazette text in the fila-extract helper: both sides of the "diario-pdf"
// command. Pages travel as one text with the offsets where each starts.
#include "fila/core/errors.h"
#include "fila/diario/pdf_text.h"
#include "fila/extract/sandbox.h"
#include "fila/extract/wire.h"

namespace fila::diario {

std::vector<PageText> ExtractPdfTextIsolated(const std::string& program, std::string_view bytes,
                                             const extract::Budget& budget, Deadline deadline,
                                             const std::function<bool()>& cancelled) {
  if (!LooksLikePdf(bytes)) throw PermanentError("the document is not a PDF");
  // A document over its size never gets a process.
  CheckPdfBytes(bytes.size(), budget);
  extract::Run run{.args = {"diario-pdf"},
                   .input = bytes,
                   .deadline = deadline,
                   .cancelled = cancelled,
                   .max_output_bytes = budget.max_text_bytes + (size_t{1} << 20)};
  for (std::string& arg : extract::BudgetArgs(budget)) run.args.push_back(std::move(arg));
  extract::Extracted out = extract::Decode(extract::RunExtractor(program, run, budget));
  std::vector<PageText> pages;
  for (size_t i = 0; i < out.page_starts.size(); ++i) {
    const uint64_t start = out.page_starts[i];
    const uint64_t end = i + 1 < out.page_starts.size() ? out.page_starts[i + 1] : out.text.size();
    if (end < start) throw PermanentError("the extractor's result has pages out of order");
    pages.push_back({static_cast<int>(i + 1), out.text.substr(start, end - start)});
  }
  return pages;
}

std::string PdfTextCommand(const std::vector<std::string>& args, std::string input) {
  const std::vector<PageText> pages = ExtractPdfText(input, {}, extract::BudgetFromArgs(args));
  extract::Extracted out;
  for (const PageText& page : pages) {
    out.page_starts.push_back(out.text.size());
    out.text += page.text;
  }
  return extract::Encode(out);
}

}  // namespace fila::diario
