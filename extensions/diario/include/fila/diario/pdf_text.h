#pragma once

// Text of a PDF, page by page, through poppler-cpp (the only place that
// includes poppler headers). Thread-safe: each call has its own document.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/clock.h"
#include "fila/diario/extractor.h"
#include "fila/extract/budget.h"

namespace fila::diario {

// True when `bytes` start like a PDF ("%PDF-", after optional whitespace or
// a UTF-8 BOM): what a tribunal's HTML block page saved as .pdf is not.
bool LooksLikePdf(std::string_view bytes);

// PermanentError when a PDF of `size` bytes exceeds the budget.
void CheckPdfBytes(size_t size, const extract::Budget& budget);

// The text of every page, in reading order, with 1-based page numbers,
// parsed in this process. Throws PermanentError when poppler cannot open
// the document (corrupt or encrypted) or when it exceeds the budget's PDF
// bytes, pages or text ("document exceeds the extraction budget: ..."),
// and TransientError when `cancelled` turns true.
std::vector<PageText> ExtractPdfText(std::string_view bytes, const std::function<bool()>& cancelled = {},
                                     const extract::Budget& budget = {});

// ExtractPdfText() in the fila-extract helper `program` (see
// fila/extract/sandbox.h), under the budget's memory and CPU limits.
// Besides its errors: PermanentError when the helper runs out of its
// memory or CPU budget or is killed by a signal; TransientError when
// `cancelled` turns true or `deadline` passes (the helper is killed).
std::vector<PageText> ExtractPdfTextIsolated(const std::string& program, std::string_view bytes,
                                             const extract::Budget& budget, Deadline deadline,
                                             const std::function<bool()>& cancelled);

// fila-extract's "diario-pdf" command: `input` is the PDF, `args` the
// budget's arguments; returns the encoded pages (fila/extract/wire.h).
std::string PdfTextCommand(const std::vector<std::string>& args, std::string input);

}  // namespace fila::diario
