#include "fila/document/ingest_handler.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "fetch.h"
#include "fila/config.h"
#include "fila/document/chunker.h"
#include "fila/document/extract.h"
#include "fila/document/utf8.h"
#include "fila/errors.h"
#include "fila/v1/document.pb.h"

namespace fila::document {
namespace {

using Json = nlohmann::json;

constexpr size_t kDefaultSize = 1000;
constexpr size_t kDefaultOverlap = 200;
constexpr size_t kMaxChunkSize = 100000;
constexpr size_t kMaxBatch = 2048;

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

ChunkOptions ChunkingOf(const v1::DocumentIngestPayload& p) {
  ChunkOptions o;
  const auto& c = p.chunking();
  o.size = c.size() == 0 ? kDefaultSize : c.size();
  if (o.size > kMaxChunkSize) {
    throw PermanentError("chunking.size may be at most " + std::to_string(kMaxChunkSize), "payload.chunking.size");
  }
  o.overlap = c.has_overlap() ? c.overlap() : std::min(kDefaultOverlap, o.size / 5);
  o.unit = c.unit() == v1::ChunkingSettings::BYTES ? LengthUnit::kBytes : LengthUnit::kCodePoints;
  ValidateChunkOptions(o);
  return o;
}

class IngestHandler final {
 public:
  IngestHandler(DocumentStore& store, KeyLimiter& limiter, HttpClient& http, IngestOptions options)
      : store_(store), limiter_(limiter), http_(http), options_(std::move(options)) {}

  std::string Run(TaskContext& ctx) const {
    const auto started = SteadyClock::now();
    v1::DocumentIngestPayload p;
    if (!p.ParseFromString(ctx.Payload())) {
      throw PermanentError("payload does not parse as fila.v1.DocumentIngestPayload", "payload");
    }
    if (p.owner().empty()) throw PermanentError("owner is required", "payload.owner");
    if (p.document_id().empty()) throw PermanentError("document_id is required", "payload.document_id");
    const ChunkOptions chunking = ChunkingOf(p);
    std::unique_ptr<Embedder> embedder = MakeEmbedderFor(p.embedder());
    const size_t limit = p.max_bytes() > 0 ? std::min<size_t>(p.max_bytes(), options_.max_bytes) : options_.max_bytes;
    Json stages = Json::object();

    ctx.Progress(1, "fetching");
    auto t = SteadyClock::now();
    const std::string folder =
        p.source_case() != v1::DocumentIngestPayload::kPath
            ? std::string()
            : options_.tenants ? TenantFolder(options_.tenants(ctx.Tenant())) : ctx.Tenant();
    Fetched fetched = FetchSource(p, options_, folder, limit, http_, ctx.TaskDeadline());
    stages["fetch"] = Since(t);

    t = SteadyClock::now();
    const MediaType type = DetectType(fetched.bytes, fetched.declared, fetched.name);
    const ExtractOptions extract_options{.reject_invalid_utf8 = p.reject_invalid_utf8(), .budget = options_.budget};
    ExtractedText doc = options_.extractor.empty()
                            ? Extract(fetched.bytes, type, extract_options)
                            : ExtractIsolated(options_.extractor, fetched.bytes, type, extract_options,
                                              ctx.TaskDeadline(), [&ctx] { return ctx.Cancelled(); });
    const size_t chars = CodePoints(doc.text);
    stages["extract"] = Since(t);
    ctx.Progress(10, std::string("extracted ") + std::to_string(chars) + " characters of " + MediaTypeName(type) +
                         (doc.page_starts.empty() ? "" : " from " + std::to_string(doc.page_starts.size()) + " pages"));
    if (ctx.Cancelled()) throw TransientError("cancelled after extraction");

    t = SteadyClock::now();
    std::vector<TextChunk> chunks = ChunkText(doc, chunking);
    stages["chunk"] = Since(t);
    ctx.Progress(20, std::to_string(chunks.size()) + " chunks");

    t = SteadyClock::now();
    std::vector<StoredChunk> stored;
    stored.reserve(chunks.size());
    const size_t batch = std::max<size_t>(1, embedder->BatchSize());
    const size_t batches = (chunks.size() + batch - 1) / batch;
    EmbedContext ec{.deadline = ctx.TaskDeadline(),
                    .cancelled = [&ctx] { return ctx.Cancelled(); },
                    .sleep = [&ctx](std::chrono::milliseconds d) { return ctx.SleepFor(d); }};
    size_t dimension = 0;
    for (size_t b = 0; b < batches; ++b) {
      if (ctx.Cancelled()) throw TransientError("cancelled while embedding");
      const size_t from = b * batch;
      const size_t to = std::min(chunks.size(), from + batch);
      std::vector<std::string> texts;
      for (size_t i = from; i < to; ++i) texts.push_back(chunks[i].text);
      std::vector<std::vector<float>> vectors = embedder->Embed(texts, ec);
      if (vectors.size() != texts.size()) throw TransientError("embedder returned a wrong number of vectors");
      for (size_t i = from; i < to; ++i) {
        TextChunk& c = chunks[i];
        std::vector<float>& v = vectors[i - from];
        if (dimension == 0) dimension = v.size();
        if (v.size() != dimension) throw PermanentError("embedder changed dimension within one document");
        stored.push_back({std::move(c.text), c.start, c.end, c.page, std::move(c.heading_path), std::move(v)});
      }
      ctx.Progress(20 + static_cast<int>(70 * (b + 1) / batches),
                   "embedded batch " + std::to_string(b + 1) + "/" + std::to_string(batches) + " (" +
                       std::to_string(to) + "/" + std::to_string(chunks.size()) + " chunks)");
    }
    stages["embed"] = Since(t);

    ctx.Progress(95, "storing " + std::to_string(stored.size()) + " chunks");
    t = SteadyClock::now();
    DocumentRecord record{.task_id = ctx.TaskId(),
                          .attempt = ctx.Attempt(),
                          .owner = p.owner(),
                          .document_id = p.document_id(),
                          .title = p.title(),
                          .source = fetched.source,
                          .media_type = MediaTypeName(type),
                          .embedder = embedder->Descriptor(),
                          .dimension = dimension,
                          .bytes = fetched.bytes.size(),
                          .chars = chars,
                          .pages = static_cast<int>(doc.page_starts.size()),
                          .content = std::move(doc.text)};
    const std::string id = store_.Replace(record, stored);
    stages["store"] = Since(t);
    const double total = Since(started);
    for (auto& [name, value] : stages.items()) value = std::stod(Seconds(value.get<double>()));
    Json result{{"document", id},
                {"owner", p.owner()},
                {"document_id", p.document_id()},
                {"media_type", MediaTypeName(type)},
                {"bytes", record.bytes},
                {"characters", chars},
                {"pages", record.pages},
                {"chunks", stored.size()},
                {"embeddings", stored.size()},
                {"dimension", dimension},
                {"embedder", Json::parse(record.embedder)},
                {"seconds", std::stod(Seconds(total))},
                {"stages", stages}};
    return result.dump();
  }

 private:
  std::unique_ptr<Embedder> MakeEmbedderFor(const v1::EmbedderSettings& e) const {
    if (e.batch_size() > kMaxBatch) {
      throw PermanentError("embedder.batch_size may be at most " + std::to_string(kMaxBatch),
                           "payload.embedder.batch_size");
    }
    switch (e.kind()) {
      case v1::EmbedderSettings::KIND_UNSPECIFIED:
      case v1::EmbedderSettings::OFFLINE:
        return MakeOfflineEmbedder(e.dimension() == 0 ? options_.default_dimension : e.dimension());
      case v1::EmbedderSettings::OPENAI: {
        OpenAiOptions o = options_.openai;
        if (!e.model().empty()) o.model = e.model();
        if (e.batch_size() > 0) o.batch_size = e.batch_size();
        return MakeOpenAiEmbedder(std::move(o), http_, limiter_);
      }
      default:
        throw PermanentError("unknown embedder.kind " + std::to_string(e.kind()), "payload.embedder.kind");
    }
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
