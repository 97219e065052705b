#pragma once

#include <cstddef>
#include <string>

#include "fila/core/handler.h"
#include "fila/core/key_limiter.h"
#include "fila/core/tenant.h"
#include "fila/document/document_store.h"
#include "fila/document/embedder.h"
#include "fila/extract/budget.h"
#include "fila/http/http_client.h"

namespace fila::document {

struct IngestOptions {
  size_t max_bytes = size_t{32} << 20;  // largest source accepted; a payload may only lower it
  // Folder `path` sources are read from, each tenant from its own folder
  // below it (TenantFolder: its name, or its document_root binding); ""
  // refuses path sources.
  std::string root;
  TenantLookup tenants;                 // unset: every tenant's folder is its name
  OpenAiOptions openai;                 // the endpoint of embedder kind OPENAI
  size_t default_dimension = 384;       // offline embedder
  // fila-extract, which parses each HTML and PDF document in a process of
  // its own; "" parses them in this process (unit tests of the handler).
  std::string extractor;
  extract::Budget budget;  // what extracting one document may cost
};

// FILA_DOCUMENT_MAX_BYTES, FILA_DOCUMENT_ROOT and the FILA_EMBEDDINGS_*
// variables (see OpenAiOptionsFromEnv); the extraction settings are the
// worker's (WorkerServices). PermanentError for a bad value.
IngestOptions IngestOptionsFromEnv();

// The binding kind that names a tenant's folder under FILA_DOCUMENT_ROOT.
inline constexpr const char* kRootBinding = "document_root";

// The tenant's folder under the root, relative: its document_root binding,
// else its name.
std::string TenantFolder(const TenantSettings& tenant);

// The document.ingest handler: fetch, detect, extract, chunk, embed, store,
// reporting progress at each stage (per batch while embedding) and
// returning a JSON result (counts and per-stage seconds). PermanentError:
// bad payload, too large, unsupported type, no text, invalid UTF-8 when
// refused, 4xx from the source, a document over the extraction budget
// or one that crashed the extractor; TransientError: 5xx/429/timeouts of the
// source or the embeddings endpoint, database down. Safe on many slot
// threads at once; `store`, `limiter` and `http` must outlive it.
Handler MakeIngestHandler(DocumentStore& store, KeyLimiter& limiter, HttpClient& http,
                          IngestOptions options);

}  // namespace fila::document
