#include "fila/extract/budget.h"

#include <charconv>

#include "fila/core/config.h"
#include "fila/core/errors.h"

namespace fila::extract {
namespace {

struct Limit {
  uint64_t Budget::*field;
  const char* variable;
  const char* arg;
};

constexpr Limit kLimits[] = {
    {&Budget::max_html_bytes, "FILA_EXTRACT_MAX_HTML_BYTES", "--max-html-bytes="},
    {&Budget::max_html_elements, "FILA_EXTRACT_MAX_HTML_ELEMENTS", "--max-html-elements="},
    {&Budget::max_html_depth, "FILA_EXTRACT_MAX_HTML_DEPTH", "--max-html-depth="},
    {&Budget::max_pdf_bytes, "FILA_EXTRACT_MAX_PDF_BYTES", "--max-pdf-bytes="},
    {&Budget::max_pdf_pages, "FILA_EXTRACT_MAX_PDF_PAGES", "--max-pdf-pages="},
    {&Budget::max_text_bytes, "FILA_EXTRACT_MAX_TEXT_BYTES", "--max-text-bytes="},
    {&Budget::memory_mib, "FILA_EXTRACT_MEMORY_MB", "--memory-mb="},
    {&Budget::cpu_seconds, "FILA_EXTRACT_CPU_SECONDS", "--cpu-seconds="},
};

uint64_t Positive(std::string_view text, const char* name) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    throw PermanentError(std::string(name) + " must be a whole number of at least 1, not '" +
                         std::string(text.substr(0, 40)) + "'");
  }
  return value;
}

}  // namespace

Budget BudgetFromEnv() {
  Budget budget;
  for (const Limit& limit : kLimits) {
    const std::string value = EnvOr(limit.variable, "");
    if (!value.empty()) budget.*limit.field = Positive(value, limit.variable);
  }
  return budget;
}

std::vector<std::string> BudgetArgs(const Budget& budget) {
  std::vector<std::string> args;
  for (const Limit& limit : kLimits) args.push_back(limit.arg + std::to_string(budget.*limit.field));
  return args;
}

Budget BudgetFromArgs(const std::vector<std::string>& args) {
  Budget budget;
  for (const std::string& arg : args) {
    for (const Limit& limit : kLimits) {
      if (arg.starts_with(limit.arg)) {
        budget.*limit.field = Positive(std::string_view(arg).substr(std::string_view(limit.arg).size()), limit.arg);
      }
    }
  }
  return budget;
}

void ThrowOverBudget(const std::string& what, uint64_t limit, std::string_view variable) {
  throw PermanentError("document exceeds the extraction budget: " + what + ", the limit is " +
                       std::to_string(limit) + " (" + std::string(variable) + ")");
}

}  // namespace fila::extract
