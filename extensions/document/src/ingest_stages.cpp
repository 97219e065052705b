#include "ingest_stages.h"

#include <algorithm>
#include <string>

#include "fila/core/errors.h"
#include "fila/document/extract.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

constexpr size_t kMaxBatch = 2048;

ChunkOptions ChunkingOf(const v1::DocumentIngestPayload& p) {
  const auto& c = p.chunking();
  return ChunkingFor(c.size(), c.has_overlap() ? std::optional<size_t>(c.overlap()) : std::nullopt,
                     c.unit() == v1::ChunkingSettings::BYTES ? LengthUnit::kBytes : LengthUnit::kCodePoints);
}

}  // namespace

IngestRequest ReadRequest(const TaskContext& ctx, const IngestOptions& options) {
  IngestRequest r;
  v1::DocumentIngestPayload& p = r.payload;
  if (!p.ParseFromString(ctx.Payload())) {
    throw PermanentError("payload does not parse as fila.v1.DocumentIngestPayload", "payload");
  }
  if (p.owner().empty()) throw PermanentError("owner is required", "payload.owner");
  if (p.document_id().empty()) throw PermanentError("document_id is required", "payload.document_id");
  r.chunking = ChunkingOf(p);
  r.limit = p.max_bytes() > 0 ? std::min<size_t>(p.max_bytes(), options.max_bytes) : options.max_bytes;
  return r;
}

Fetched FetchStage(const TaskContext& ctx, const IngestRequest& request, const IngestOptions& options,
                   HttpClient& http) {
  const v1::DocumentIngestPayload& p = request.payload;
  const std::string folder =
      p.source_case() != v1::DocumentIngestPayload::kPath
          ? std::string()
          : options.tenants ? TenantFolder(options.tenants(ctx.Tenant())) : ctx.Tenant();
  return FetchSource(p, options, folder, request.limit, http, ctx.TaskDeadline());
}

std::unique_ptr<Embedder> MakeEmbedderFor(const v1::EmbedderSettings& e, const IngestOptions& options,
                                          HttpClient& http, KeyLimiter& limiter) {
  if (e.batch_size() > kMaxBatch) {
    throw PermanentError("embedder.batch_size may be at most " + std::to_string(kMaxBatch),
                         "payload.embedder.batch_size");
  }
  switch (e.kind()) {
    case v1::EmbedderSettings::KIND_UNSPECIFIED:
    case v1::EmbedderSettings::OFFLINE:
      return MakeOfflineEmbedder(e.dimension() == 0 ? options.default_dimension : e.dimension());
    case v1::EmbedderSettings::OPENAI: {
      OpenAiOptions o = options.openai;
      if (!e.model().empty()) o.model = e.model();
      if (e.batch_size() > 0) o.batch_size = e.batch_size();
      return MakeOpenAiEmbedder(std::move(o), http, limiter);
    }
    default:
      throw PermanentError("unknown embedder.kind " + std::to_string(e.kind()), "payload.embedder.kind");
  }
}

ExtractedDocument ExtractStage(const TaskContext& ctx, const Fetched& fetched, const IngestRequest& request,
                               const IngestOptions& options) {
  ExtractedDocument d;
  const ExtractOptions extract_options{.reject_invalid_utf8 = request.payload.reject_invalid_utf8(),
                                       .budget = options.budget};
  d.text = DetectAndExtract(fetched.bytes, fetched.declared, fetched.name, extract_options, options.extractor,
                            ctx.TaskDeadline(), [&ctx] { return ctx.Cancelled(); });
  d.type = d.text.type;
  d.chars = CodePoints(d.text.text);
  return d;
}

EmbeddedChunks EmbedChunks(TaskContext& ctx, Embedder& embedder, std::vector<TextChunk> chunks) {
  EmbeddedChunks out;
  out.chunks.reserve(chunks.size());
  const size_t batch = std::max<size_t>(1, embedder.BatchSize());
  const size_t batches = (chunks.size() + batch - 1) / batch;
  EmbedContext ec{.deadline = ctx.TaskDeadline(),
                  .cancelled = [&ctx] { return ctx.Cancelled(); },
                  .sleep = [&ctx](std::chrono::milliseconds d) { return ctx.SleepFor(d); }};
  for (size_t b = 0; b < batches; ++b) {
    if (ctx.Cancelled()) throw TransientError("cancelled while embedding");
    const size_t from = b * batch;
    const size_t to = std::min(chunks.size(), from + batch);
    std::vector<std::string> texts;
    for (size_t i = from; i < to; ++i) texts.push_back(chunks[i].text);
    std::vector<std::vector<float>> vectors = embedder.Embed(texts, ec);
    if (vectors.size() != texts.size()) throw TransientError("embedder returned a wrong number of vectors");
    for (size_t i = from; i < to; ++i) {
      TextChunk& c = chunks[i];
      std::vector<float>& v = vectors[i - from];
      if (out.dimension == 0) out.dimension = v.size();
      if (v.size() != out.dimension) throw PermanentError("embedder changed dimension within one document");
      out.chunks.push_back({std::move(c.text), c.start, c.end, c.page, std::move(c.heading_path), std::move(v)});
    }
    ctx.Progress(20 + static_cast<int>(70 * (b + 1) / batches),
                 "embedded batch " + std::to_string(b + 1) + "/" + std::to_string(batches) + " (" +
                     std::to_string(to) + "/" + std::to_string(chunks.size()) + " chunks)");
  }
  return out;
}

}  // namespace fila::document
