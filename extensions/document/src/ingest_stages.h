#pragma once

// The stages of document.ingest, each a function of its inputs: read the
// request, fetch, extract, (chunk: chunker.h), embed. The handler
// (ingest_handler.cpp) runs them in order, times them and stores.

#include <cstddef>
#include <memory>
#include <vector>

#include "fetch.h"
#include "fila/core/handler.h"
#include "fila/document/chunker.h"
#include "fila/document/document_store.h"
#include "fila/document/embedder.h"
#include "fila/document/ingest_handler.h"
#include "fila/document/text.h"
#include "fila/v1/document.pb.h"

namespace fila::document {

// A payload checked against the worker's options, before any I/O.
struct IngestRequest {
  v1::DocumentIngestPayload payload;
  ChunkOptions chunking;
  size_t limit = 0;  // the most bytes the source may have
};

// Parses and checks the payload: owner, document_id, chunking (size at
// most 100000, defaults 1000/200). PermanentError for a bad one.
IngestRequest ReadRequest(const TaskContext& ctx, const IngestOptions& options);

// The source's bytes (FetchSource), a path under the tenant's folder.
Fetched FetchStage(const TaskContext& ctx, const IngestRequest& request, const IngestOptions& options,
                   HttpClient& http);

// The embedder the payload asks for: offline (default) or the configured
// OpenAI-compatible endpoint with the payload's model and batch size.
// PermanentError: batch_size over 2048, unknown kind.
std::unique_ptr<Embedder> MakeEmbedderFor(const v1::EmbedderSettings& settings, const IngestOptions& options,
                                          HttpClient& http, KeyLimiter& limiter);

struct ExtractedDocument {
  MediaType type = MediaType::kText;
  ExtractedText text;
  size_t chars = 0;  // code points of text.text
};

// Detects the type and extracts the text, in fila-extract when
// options.extractor is set (within the task's deadline, stopped when it is
// cancelled). PermanentError: unsupported type, no text, over the budget.
ExtractedDocument ExtractStage(const TaskContext& ctx, const Fetched& fetched, const IngestRequest& request,
                               const IngestOptions& options);

struct EmbeddedChunks {
  std::vector<StoredChunk> chunks;
  size_t dimension = 0;
};

// Embeds the chunks in the embedder's batches, reporting progress 20..90
// after each. TransientError when cancelled between batches or when the
// embedder returns a wrong number of vectors; PermanentError when the
// dimension changes within the document.
EmbeddedChunks EmbedChunks(TaskContext& ctx, Embedder& embedder, std::vector<TextChunk> chunks);

}  // namespace fila::document
