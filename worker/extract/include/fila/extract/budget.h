#pragma once

// What extracting the text of one untrusted document (HTML, PDF) may cost.
// Every limit is a variable of the worker's environment; a document over a
// limit is refused with a PermanentError that names the variable, and is
// not retried (the same document would cost the same again).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fila::extract {

struct Budget {
  uint64_t max_html_bytes = uint64_t{16} << 20;  // FILA_EXTRACT_MAX_HTML_BYTES
  uint64_t max_html_elements = 200000;           // FILA_EXTRACT_MAX_HTML_ELEMENTS
  uint64_t max_html_depth = 1000;                // FILA_EXTRACT_MAX_HTML_DEPTH
  uint64_t max_pdf_bytes = uint64_t{200} << 20;  // FILA_EXTRACT_MAX_PDF_BYTES
  uint64_t max_pdf_pages = 5000;                 // FILA_EXTRACT_MAX_PDF_PAGES
  uint64_t max_text_bytes = uint64_t{64} << 20;  // FILA_EXTRACT_MAX_TEXT_BYTES (the extracted text)
  // Limits of the fila-extract process (RLIMIT_AS, RLIMIT_CPU): they bound
  // what the counts above cannot (a parser's own blow-up, a parser bug).
  uint64_t memory_mib = 1024;  // FILA_EXTRACT_MEMORY_MB
  uint64_t cpu_seconds = 120;  // FILA_EXTRACT_CPU_SECONDS
};

// The budget from FILA_EXTRACT_* (unset: the defaults above). Throws
// PermanentError naming the variable when a value is not a whole number
// of at least 1.
Budget BudgetFromEnv();

// The budget as fila-extract's arguments ("--max-html-depth=1000", ...),
// and back; BudgetFromArgs ignores other arguments and throws
// PermanentError for a bad value.
std::vector<std::string> BudgetArgs(const Budget& budget);
Budget BudgetFromArgs(const std::vector<std::string>& args);

// Throws PermanentError("document exceeds the extraction budget: <what>,
// the limit is <limit> (<variable>)").
[[noreturn]] void ThrowOverBudget(const std::string& what, uint64_t limit, std::string_view variable);

}  // namespace fila::extract
