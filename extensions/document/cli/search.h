#pragma once

#include "fila/core/extension.h"

namespace fila::document {

// `fila search QUERY [--mode hybrid|vector|text] [--top N] [--tenant T]
// [--owner O] [--document ID] [--json]`: the best chunks for the query,
// best first (exit 0 also with no match), by SearchChunks (search.h):
// vector (the query embedded by each embedder that produced stored
// vectors), text (PostgreSQL full text in each owner's language) or both
// fused by reciprocal rank (default). Reads the database; the embeddings
// endpoint of FILA_EMBEDDINGS_* when the chunks were embedded by it.
CliCommand SearchCommand();

}  // namespace fila::document
