#include "fila/document/ingest_handler.h"

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "ingest_stages.h"

namespace fila::document {
namespace {

using Json = nlohmann::json;

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

class IngestHandler final {
 public:
  IngestHandler(DocumentStore& store, KeyLimiter& limiter, HttpClient& http, IngestOptions options)
      : store_(store), limiter_(limiter), http_(http), options_(std::move(options)) {}

  // read the request -> fetch -> extract -> chunk -> embed -> store, each
  // stage timed for the result.
  std::string Run(TaskContext& ctx) const {
    const auto started = SteadyClock::now();
    const IngestRequest request = ReadRequest(ctx, options_);
    const v1::DocumentIngestPayload& p = request.payload;
    std::unique_ptr<Embedder> embedder = MakeEmbedderFor(p.embedder(), options_, http_, limiter_);
    Json stages = Json::object();

    ctx.Progress(1, "fetching");
    auto t = SteadyClock::now();
    const Fetched fetched = FetchStage(ctx, request, options_, http_);
    stages["fetch"] = Since(t);

    t = SteadyClock::now();
    ExtractedDocument doc = ExtractStage(ctx, fetched, request, options_);
    stages["extract"] = Since(t);
    ctx.Progress(10, std::string("extracted ") + std::to_string(doc.chars) + " characters of " +
                         MediaTypeName(doc.type) +
                         (doc.text.page_starts.empty()
                              ? ""
                              : " from " + std::to_string(doc.text.page_starts.size()) + " pages"));
    if (ctx.Cancelled()) throw TransientError("cancelled after extraction");

    t = SteadyClock::now();
    std::vector<TextChunk> chunks = ChunkText(doc.text, request.chunking);
    stages["chunk"] = Since(t);
    ctx.Progress(20, std::to_string(chunks.size()) + " chunks");

    t = SteadyClock::now();
    EmbeddedChunks embedded = EmbedChunks(ctx, *embedder, std::move(chunks));
    stages["embed"] = Since(t);

    ctx.Progress(95, "storing " + std::to_string(embedded.chunks.size()) + " chunks");
    t = SteadyClock::now();
    DocumentRecord record{.task_id = ctx.TaskId(),
                          .attempt = ctx.Attempt(),
                          .owner = p.owner(),
                          .document_id = p.document_id(),
                          .title = p.title(),
                          .source = fetched.source,
                          .media_type = MediaTypeName(doc.type),
                          .embedder = embedder->Descriptor(),
                          .dimension = embedded.dimension,
                          .bytes = fetched.bytes.size(),
                          .chars = doc.chars,
                          .pages = static_cast<int>(doc.text.page_starts.size()),
                          .content = std::move(doc.text.text)};
    const std::string id = store_.Replace(record, embedded.chunks);
    stages["store"] = Since(t);
    return Result(id, record, embedded, stages, Since(started));
  }

 private:
  // The task's result: what was stored, and seconds per stage.
  static std::string Result(const std::string& id, const DocumentRecord& record, const EmbeddedChunks& embedded,
                            Json stages, double total) {
    for (auto& [name, value] : stages.items()) value = std::stod(Seconds(value.get<double>()));
    Json result{{"document", id},
                {"owner", record.owner},
                {"document_id", record.document_id},
                {"media_type", record.media_type},
                {"bytes", record.bytes},
                {"characters", record.chars},
                {"pages", record.pages},
                {"chunks", embedded.chunks.size()},
                {"embeddings", embedded.chunks.size()},
                {"dimension", embedded.dimension},
                {"embedder", Json::parse(record.embedder)},
                {"seconds", std::stod(Seconds(total))},
                {"stages", stages}};
    return result.dump();
  }

  DocumentStore& store_;
  KeyLimiter& limiter_;
  HttpClient& http_;
  IngestOptions options_;
};

}  // namespace

IngestOptions IngestOptionsFromEnv() {
  IngestOptions o;
  try {
    o.max_bytes = std::stoull(EnvOr("FILA_DOCUMENT_MAX_BYTES", std::to_string(o.max_bytes)));
  } catch (const std::exception&) {
    throw PermanentError("FILA_DOCUMENT_MAX_BYTES must be a number of bytes");
  }
  o.root = EnvOr("FILA_DOCUMENT_ROOT", "");
  o.openai = OpenAiOptionsFromEnv();
  return o;
}

std::string TenantFolder(const TenantSettings& tenant) {
  const auto& roots = tenant.Bound(kRootBinding);
  return roots.empty() ? tenant.name : roots.front();
}

Handler MakeIngestHandler(DocumentStore& store, KeyLimiter& limiter, HttpClient& http, IngestOptions options) {
  auto handler = std::make_shared<IngestHandler>(store, limiter, http, std::move(options));
  return [handler](TaskContext& ctx) { return handler->Run(ctx); };
}

}  // namespace fila::document
