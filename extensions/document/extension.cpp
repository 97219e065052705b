// document.ingest as an extension: what core, the worker and the CLI learn
// of it.
#include "fila/document/extension.h"

#include <algorithm>
#include <memory>

#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"
#include "fila/document/ingest_handler.h"
#include "fila/v1/document.pb.h"
#include "fila/worker/sdk.h"
#include "chunk.h"
#include "language.h"
#include "search.h"

namespace fila::document {
namespace {

bool Plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

// A relative folder of plain segments: no '..', no absolute path.
void ValidateRelativeFolder(std::string_view v) {
  if (v.empty() || v.size() > 255 || v.front() == '/') {
    throw PermanentError("a folder is a relative path of 1 to 255 characters", "value");
  }
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find('/', start);
    if (end == std::string_view::npos) end = v.size();
    std::string_view segment = v.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == ".." || !std::all_of(segment.begin(), segment.end(), Plain)) {
      throw PermanentError("folder segments are [A-Za-z0-9_.-] and never '.' or '..'", "value");
    }
    start = end + 1;
  }
}

void RegisterHandlers(HandlerRegistry& handlers, const WorkerServices& services) {
  IngestOptions options = IngestOptionsFromEnv();
  const ExtractionSettings extraction = services.extraction();
  options.extractor = extraction.helper;
  options.budget = extraction.budget;
  options.tenants = services.tenants;
  // The store and the HTTP client serve every slot for the worker's life.
  std::shared_ptr<DocumentStore> store = MakePostgresDocumentStore(services.database_url);
  std::shared_ptr<HttpClient> http = services.http_client();
  Handler handler = MakeIngestHandler(*store, services.key_limiter, *http, std::move(options));
  handlers.Register("document.ingest",
                    [store, http, handler](TaskContext& ctx) { return handler(ctx); });
}

}  // namespace

fila::Extension Extension() {
  fila::Extension e;
  e.name = "document";
  e.types.push_back({.name = "document.ingest",
                     .payload_message = v1::DocumentIngestPayload::descriptor()->full_name(),
                     .default_queue = "document",
                     .default_timeout = std::chrono::minutes(10),
                     .retry = {.max_attempts = 5, .base = std::chrono::seconds(2), .cap = std::chrono::minutes(2)}});
  e.binding_kinds.push_back(
      {kRootBinding,
       "the tenant's folder under FILA_DOCUMENT_ROOT for document.ingest paths (default: the tenant's name)",
       false, ValidateRelativeFolder});
  e.register_handlers = RegisterHandlers;
  e.commands.push_back(SearchCommand());
  e.commands.push_back({.path = {"document"}, .help = "document.ingest: preview chunks, text search languages"});
  e.commands.push_back(ChunkCommand());
  e.commands.push_back(LanguageCommand());
  return e;
}

}  // namespace fila::document
