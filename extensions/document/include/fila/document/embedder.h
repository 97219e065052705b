#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"

namespace fila {
class HttpClient;
}

namespace fila::document {

// What an embedding call may wait on: the task's deadline, its cancel flag
// and a cancellable sleep (returns false when cancelled).
struct EmbedContext {
  Deadline deadline = DeadlineIn(std::chrono::minutes(1));
  std::function<bool()> cancelled = [] { return false; };
  std::function<bool(std::chrono::milliseconds)> sleep;
};

// Turns texts into vectors. Implementations are thread-safe.
class Embedder {
 public:
  virtual ~Embedder() = default;
  // Identifies the vector space (JSON: kind, dimension or url + model;
  // never a key). Vectors are comparable only under equal descriptors, so
  // it is stored with them and a search embeds its query with the same.
  virtual std::string Descriptor() const = 0;
  // How many texts one Embed() call should carry.
  virtual size_t BatchSize() const = 0;
  // One vector per text, in order, each L2-normalised (cosine similarity is
  // then a dot product). Throws TransientError when the call may succeed
  // later (5xx, 429, timeout, deadline), PermanentError when it cannot
  // (rejected request or key, malformed answer).
  virtual std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts,
                                                const EmbedContext& context) = 0;
};

// Feature hashing of words, word pairs and character trigrams into
// `dimension` signed buckets, L2-normalised. Deterministic, offline, fast.
std::unique_ptr<Embedder> MakeOfflineEmbedder(size_t dimension);

struct OpenAiOptions {
  std::string url;      // base (http://host/v1) or the full .../embeddings URL
  std::string model;
  std::string api_key;  // sent as a bearer token; never logged or stored
  size_t batch_size = 64;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  uint32_t max_attempts = 4;  // per batch, within the task's deadline
  std::chrono::milliseconds backoff_base{500};
  LimitSpec limit{.max_concurrent = 4};  // per endpoint host, through the KeyLimiter
};

// An OpenAI-compatible POST /v1/embeddings client. Retries 408, 425, 429,
// 5xx (waiting what Retry-After says, up to 30 s and within the deadline)
// and timeouts up to max_attempts (SendWithRetries's DefaultClassify),
// then throws TransientError; 401/403 and other 4xx throw PermanentError. `http` and `limiter` must outlive it.
std::unique_ptr<Embedder> MakeOpenAiEmbedder(OpenAiOptions options, HttpClient& http,
                                             KeyLimiter& limiter);

// The embeddings endpoint configured by the environment:
// FILA_EMBEDDINGS_URL, FILA_EMBEDDINGS_MODEL, FILA_EMBEDDINGS_API_KEY,
// FILA_EMBEDDINGS_TIMEOUT_MS, FILA_EMBEDDINGS_CONCURRENCY. url is empty
// when none is configured.
OpenAiOptions OpenAiOptionsFromEnv();

// Builds the embedder a descriptor names (for searching with the embedder
// that produced the stored vectors). `openai` supplies the key and limits;
// its url and model are replaced by the descriptor's. PermanentError for
// an unknown or malformed descriptor.
std::unique_ptr<Embedder> EmbedderFromDescriptor(const std::string& descriptor,
                                                 const OpenAiOptions& openai, HttpClient& http,
                                                 KeyLimiter& limiter);

// Scales `v` to unit length (a zero vector stays zero).
void Normalize(std::vector<float>& v);

}  // namespace fila::document
