#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "fila/document/text.h"

namespace fila::document {

enum class LengthUnit { kCodePoints, kBytes };

struct ChunkOptions {
  size_t size = 1000;    // maximum chunk length in `unit`
  size_t overlap = 200;  // upper bound on the text neighbours share, < size
  LengthUnit unit = LengthUnit::kCodePoints;
};

struct TextChunk {
  std::string text;        // exactly text.substr(byte_start, byte_end - byte_start)
  size_t start = 0;        // code-point offsets into the extracted text: [start, end)
  size_t end = 0;
  size_t byte_start = 0;   // the same span in bytes
  size_t byte_end = 0;
  int page = 0;            // PDF: 1-based page the chunk starts on; 0 otherwise
  std::string heading_path;  // "Title > Section > Subsection", or ""
};

// Throws PermanentError when size is 0 or overlap >= size.
void ValidateChunkOptions(const ChunkOptions& options);

// What the settings are called in errors: a payload's fields by default,
// `--size`/`--overlap` for `fila document chunk`.
struct ChunkingNames {
  const char* size = "chunking.size";
  const char* overlap = "chunking.overlap";
  const char* field_prefix = "payload.";  // PermanentError::field() = prefix + name
};

inline constexpr size_t kDefaultChunkSize = 1000;
inline constexpr size_t kDefaultChunkOverlap = 200;
inline constexpr size_t kMaxChunkSize = 100000;

// The options document.ingest chunks with for requested settings (the one
// place that rule lives): size 0 is the default 1000; no overlap is
// min(200, size / 5); size at most 100000; overlap below size.
// PermanentError naming the setting otherwise.
ChunkOptions ChunkingFor(size_t size, std::optional<size_t> overlap, LengthUnit unit,
                         const ChunkingNames& names = {});

// Splits `doc` recursively: Markdown headings (Markdown only), then
// paragraphs, lines, sentences, words and finally code points, merging
// neighbouring pieces greedily up to `size` with up to `overlap` of whole
// pieces carried into the next chunk. CRLF, LF and CR line endings are
// all line breaks, so a CRLF document splits by paragraphs like an LF one.
// Chunks are whitespace-trimmed slices of the text (never empty), at most
// `size` long (a single code point longer than a BYTES size excepted), in
// text order, and the same input always gives the same chunks. Pure and
// thread-safe.
std::vector<TextChunk> ChunkText(const ExtractedText& doc, const ChunkOptions& options);

}  // namespace fila::document
