#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/clock.h"
#include "fila/document/text.h"
#include "fila/extract/budget.h"

namespace fila::document {

// The real type of `bytes`, from their content: PDF by its signature, HTML
// by its opening markup, other binary data (images, archives, office
// files, NUL bytes) is refused. For text, `declared` (a media type) or the
// `name`'s extension decides between Markdown and plain text, else
// Markdown syntax does. Throws PermanentError ("unsupported document type")
// for binary content that is not PDF.
MediaType DetectType(std::string_view bytes, std::string_view declared, std::string_view name);

struct ExtractOptions {
  // Refuse invalid UTF-8 instead of replacing it with U+FFFD.
  bool reject_invalid_utf8 = false;
  // HTML bytes, elements and depth; PDF bytes and pages; the text's size.
  // (Its memory and CPU limits apply in ExtractIsolated only.)
  extract::Budget budget;
};

// The text of a document of `type`: plain text as is (any line endings),
// Markdown as is with its headings, HTML without markup, scripts or styles
// (block elements become paragraphs), PDF page by page (pages separated by
// a blank line, each page's start recorded). The result is always valid
// UTF-8. Throws PermanentError for a damaged or encrypted PDF, for invalid
// UTF-8 when it is to be rejected (or when most of it is invalid: binary
// data), "no text found" when nothing but whitespace is left (a scanned
// PDF), and "document exceeds the extraction budget: ..." (naming the
// FILA_EXTRACT_* variable) past a limit of options.budget. Nothing recurses
// on the document's depth. Runs the parsers in this process: use
// ExtractIsolated for untrusted documents. Thread-safe.
ExtractedText Extract(std::string_view bytes, MediaType type, const ExtractOptions& options = {});

// Extract() with HTML and PDF parsed in the fila-extract helper `program`
// (see fila/extract/sandbox.h), under the budget's memory and CPU limits;
// text and Markdown, which only linear scans touch, stay in this process.
// Besides Extract()'s errors: PermanentError when the helper runs out of
// its memory or CPU budget or is killed by a signal (a document that
// crashed a parser would crash it again); TransientError when `cancelled`
// turns true or `deadline` passes (the helper is killed and reaped first).
ExtractedText ExtractIsolated(const std::string& program, std::string_view bytes, MediaType type,
                              const ExtractOptions& options, Deadline deadline,
                              const std::function<bool()>& cancelled);

// document.ingest's detection and extraction in one call, so that whatever
// shows a document's chunks (`fila document chunk`) sees what ingest
// stores: DetectType, then ExtractIsolated in the helper `extractor`, or
// Extract in this process when `extractor` is empty. Errors are theirs.
ExtractedText DetectAndExtract(std::string_view bytes, std::string_view declared, std::string_view name,
                               const ExtractOptions& options, const std::string& extractor, Deadline deadline,
                               const std::function<bool()>& cancelled);

// fila-extract's "document" command: `input` is the document, `args` its
// --type=<media type>, --reject-invalid-utf8 and the budget's arguments;
// returns the encoded result (fila/extract/wire.h).
std::string ExtractCommand(const std::vector<std::string>& args, std::string input);

// Markdown headings (ATX "# Title" and setext "Title\n===") outside code
// fences, in order.
std::vector<Heading> MarkdownHeadings(std::string_view text);

}  // namespace fila::document
