#pragma once

// Text of a PDF, page by page, through poppler-cpp (the only place that
// includes poppler headers). Thread-safe: each call has its own document.

#include <string_view>
#include <vector>

#include "fila/diario/extractor.h"

namespace fila::diario {

// True when `bytes` start like a PDF ("%PDF-", after optional whitespace or
// a UTF-8 BOM): what a tribunal's HTML block page saved as .pdf is not.
bool LooksLikePdf(std::string_view bytes);

// The text of every page, in reading order, with 1-based page numbers.
// Throws PermanentError when poppler cannot open the document (corrupt or
// encrypted) and TransientError when `cancelled` turns true.
std::vector<PageText> ExtractPdfText(std::string_view bytes, const std::function<bool()>& cancelled = {});

}  // namespace fila::diario
