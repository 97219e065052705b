#pragma once

#include "fila/core/extension.h"

namespace fila::document {

// `fila document chunk FILE [--size N] [--overlap N] [--unit codepoints|bytes]
// [--json]`: prints the chunks document.ingest would store for FILE with
// these settings (the same detection, extraction in fila-extract, defaults
// and chunker), each with its index, offsets, length and text. Reads only
// the file: no database, no broker. Bad input (no such file, a folder, a
// binary or over-large file, a bad setting) is an error with exit 2.
CliCommand ChunkCommand();

}  // namespace fila::document
