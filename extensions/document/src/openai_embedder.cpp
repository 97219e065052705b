#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/document/embedder.h"
#include "fila/http/http_client.h"
#include "fila/http/retrying_call.h"

namespace fila::document {
namespace {

using std::chrono::milliseconds;
using Json = nlohmann::json;

// Longest Retry-After the embedder waits out in its slot; a longer one
// fails the attempt so the task's own retry (in PostgreSQL) waits instead.
constexpr milliseconds kMaxInlineWait{30000};

std::string EndpointUrl(const std::string& url) {
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (u.ends_with("/embeddings")) return u;
  return u + "/embeddings";
}

// scheme://host[:port] of a URL: the limiter key (one budget per service).
std::string HostOf(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find('/', start);
  return url.substr(0, end);
}

class OpenAiEmbedder final : public Embedder {
 public:
  OpenAiEmbedder(OpenAiOptions options, HttpClient& http, KeyLimiter& limiter)
      : options_(std::move(options)), endpoint_(EndpointUrl(options_.url)), http_(http), limiter_(limiter) {}

  std::string Descriptor() const override {
    return Json{{"kind", "openai"}, {"url", options_.url}, {"model", options_.model}}.dump();
  }
  size_t BatchSize() const override { return std::max<size_t>(1, options_.batch_size); }

  std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts,
                                        const EmbedContext& context) override {
    std::vector<std::vector<float>> out;
    for (size_t i = 0; i < texts.size(); i += BatchSize()) {
      std::vector<std::string> batch(texts.begin() + static_cast<ptrdiff_t>(i),
                                     texts.begin() + static_cast<ptrdiff_t>(std::min(texts.size(), i + BatchSize())));
      for (auto& v : Batch(batch, context)) out.push_back(std::move(v));
    }
    return out;
  }

 private:
  // A transport error's text, with the key masked should it ever appear.
  // Never the answer's body: an upstream may echo part of a rejected key,
  // and a body is the upstream's to say, not ours to store.
  std::string Clean(std::string text) const {
    if (!options_.api_key.empty()) {
      for (size_t p; (p = text.find(options_.api_key)) != std::string::npos;) {
        text.replace(p, options_.api_key.size(), "***");
      }
    }
    return RedactSecrets(text);
  }

  std::vector<std::vector<float>> Parse(const HttpResponse& r, size_t expected) const {
    Json j;
    try {
      j = Json::parse(r.body);
    } catch (const std::exception&) {
      throw PermanentError("embeddings: the answer is not JSON");
    }
    if (!j.contains("data") || !j["data"].is_array() || j["data"].size() != expected) {
      throw PermanentError("embeddings: the answer holds no 'data' array of " + std::to_string(expected) +
                           " embeddings");
    }
    std::vector<std::vector<float>> out(expected);
    size_t position = 0;
    for (const Json& item : j["data"]) {
      const size_t index = item.contains("index") && item["index"].is_number_unsigned()
                               ? item["index"].get<size_t>()
                               : position;
      ++position;
      if (index >= expected || !item.contains("embedding") || !item["embedding"].is_array() ||
          item["embedding"].empty() || !out[index].empty()) {
        throw PermanentError("embeddings: malformed item " + std::to_string(position - 1) + " in the answer");
      }
      for (const Json& x : item["embedding"]) {
        if (!x.is_number()) throw PermanentError("embeddings: a vector holds a non-number");
        out[index].push_back(x.get<float>());
      }
      if (out[index].size() != out[0].size() && !out[0].empty()) {
        throw PermanentError("embeddings: vectors of different dimensions in one answer");
      }
      Normalize(out[index]);
    }
    return out;
  }

  std::vector<std::vector<float>> Batch(const std::vector<std::string>& texts, const EmbedContext& context) {
    HttpRequest request;
    request.method = "POST";
    request.url = endpoint_;
    request.source = UrlSource::kOperator;  // FILA_EMBEDDINGS_URL, not a payload's
    request.headers = {{"Content-Type", "application/json"}};
    if (!options_.api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
    request.body = Json{{"model", options_.model}, {"input", texts}, {"encoding_format", "float"}}.dump();
    RetryingCall call;
    call.what = "embeddings";
    call.classify = [this](const TryOutcome& outcome) { return Classify(outcome); };
    call.policy = {.max_attempts = std::max<uint32_t>(1, options_.max_attempts),
                   .base = options_.backoff_base,
                   .cap = options_.backoff_base * 64};
    call.max_named_wait = kMaxInlineWait;
    call.try_timeout = options_.request_timeout;
    call.deadline = context.deadline;
    call.cancelled = context.cancelled;
    call.sleep = context.sleep;
    call.limiter = &limiter_;
    call.limit_key = "embeddings:" + HostOf(endpoint_);
    call.limit = options_.limit;
    return Parse(SendWithRetries(http_, std::move(request), call), texts.size());
  }

  // The default rule, but a refused key says which setting to fix, and a
  // transport error's text is cleaned of the key.
  RetryVerdict Classify(const TryOutcome& outcome) const {
    if (outcome.response == nullptr) return RetryVerdict::Retry(Clean(outcome.error->what()));
    const long s = outcome.response->status;
    if (s == 401 || s == 403) {
      return RetryVerdict::Permanent("embeddings endpoint refused the API key (HTTP " + std::to_string(s) +
                                     "); set FILA_EMBEDDINGS_API_KEY");
    }
    RetryVerdict v = DefaultClassify(outcome);
    if (v.kind == RetryVerdict::Kind::kPermanent) {
      v = RetryVerdict::Permanent("embeddings endpoint rejected the request (" + v.reason + ")");
    }
    return v;
  }

  OpenAiOptions options_;
  std::string endpoint_;
  HttpClient& http_;
  KeyLimiter& limiter_;
};

}  // namespace

std::unique_ptr<Embedder> MakeOpenAiEmbedder(OpenAiOptions options, HttpClient& http, KeyLimiter& limiter) {
  if (options.url.empty()) {
    throw PermanentError("embedder 'openai' needs an endpoint: the worker has no FILA_EMBEDDINGS_URL",
                         "payload.embedder.kind");
  }
  if (options.model.empty()) {
    throw PermanentError("embedder 'openai' needs a model: set embedder.model or FILA_EMBEDDINGS_MODEL",
                         "payload.embedder.model");
  }
  return std::make_unique<OpenAiEmbedder>(std::move(options), http, limiter);
}

OpenAiOptions OpenAiOptionsFromEnv() {
  OpenAiOptions o;
  o.url = EnvOr("FILA_EMBEDDINGS_URL", "");
  o.model = EnvOr("FILA_EMBEDDINGS_MODEL", "");
  o.api_key = EnvOr("FILA_EMBEDDINGS_API_KEY", "");
  try {
    o.request_timeout = milliseconds(std::stoll(EnvOr("FILA_EMBEDDINGS_TIMEOUT_MS", "60000")));
    o.limit.max_concurrent = static_cast<uint32_t>(std::stoul(EnvOr("FILA_EMBEDDINGS_CONCURRENCY", "4")));
  } catch (const std::exception&) {
    throw PermanentError("FILA_EMBEDDINGS_TIMEOUT_MS and FILA_EMBEDDINGS_CONCURRENCY must be numbers");
  }
  return o;
}

std::unique_ptr<Embedder> EmbedderFromDescriptor(const std::string& descriptor, const OpenAiOptions& openai,
                                                 HttpClient& http, KeyLimiter& limiter) {
  Json j;
  try {
    j = Json::parse(descriptor);
  } catch (const std::exception&) {
    throw PermanentError("malformed embedder descriptor: " + descriptor);
  }
  const std::string kind = j.value("kind", "");
  if (kind == "offline") return MakeOfflineEmbedder(j.value("dimension", size_t{0}));
  if (kind == "openai") {
    OpenAiOptions o = openai;
    o.url = j.value("url", "");
    o.model = j.value("model", "");
    return MakeOpenAiEmbedder(std::move(o), http, limiter);
  }
  throw PermanentError("unknown embedder kind in descriptor: " + descriptor);
}

}  // namespace fila::document
