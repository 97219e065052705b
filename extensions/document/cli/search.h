#pragma once

#include "fila/core/extension.h"

namespace fila::document {

// `fila search QUERY [--top N] [--tenant T] [--owner O] [--document ID]
// [--json]`: embeds the query with each embedder that produced stored
// vectors (the same one, so the vectors compare) and prints the best chunks
// by cosine similarity, best first (exit 0 also with no match). Reads the
// database; the embeddings endpoint of FILA_EMBEDDINGS_* when the chunks
// were embedded by it.
CliCommand SearchCommand();

}  // namespace fila::document
