#pragma once

// The optional LLM step: asks an OpenAI-compatible chat endpoint for the
// decisions of each docket entry as JSON, and fills in what the rules left
// empty. The rule-based result always stands: the model never replaces a
// process number or a recognised outcome. Thread-safe.

#include <chrono>
#include <string>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/extractor.h"
#include "fila/http/http_client.h"

namespace fila::diario {

struct LlmConfig {
  std::string url;      // base (".../v1") or the full ".../chat/completions"
  std::string model = "gpt-4o-mini";
  std::string api_key;  // never logged, never stored
  uint32_t entries_per_request = 8;
  // FILA_DIARIO_LLM_URL, FILA_DIARIO_LLM_MODEL, FILA_DIARIO_LLM_API_KEY
  // (or OPENAI_API_KEY).
  static LlmConfig FromEnv();
  bool Enabled() const { return !url.empty(); }
};

struct LlmReport {
  int requests = 0;
  int enriched = 0;  // decisions that got a field from the model
};

// Throws TransientError when the endpoint is unreachable or answers 429/5xx,
// PermanentError for other refusals (401: bad key). Replies that are not
// JSON, even after repair, count as no answer for their entries.
LlmReport EnrichWithLlm(const LlmConfig& config, HttpClient& http, KeyLimiter& limiter,
                        std::vector<Decision>& decisions, Deadline deadline,
                        const std::function<bool()>& cancelled);

}  // namespace fila::diario
