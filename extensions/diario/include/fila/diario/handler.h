#pragma once

// The diario.process handler: download the gazette (politely, content
// checked), extract the text per page, find the decisions, optionally ask
// an LLM, archive the PDF and store everything. Safe to call from many slot
// threads at once.
//
// Outcomes: a PDF is processed (result JSON with status "processed"); a
// 404/410 for a date is "no_gazette" (success, nothing to retry); a non-PDF
// answer (the tribunal's anti-bot HTML page), 403, 429 or 5xx is a
// TransientError, retried with backoff until the attempts run out; a bad
// payload, a damaged PDF, one over the extraction budget or one that
// crashed the extractor is a PermanentError. A payload's url (at most
// 8 KB, http or https) is fetched under the worker's egress policy: one
// the policy blocks is a PermanentError; the URLs built from
// FILA_DIARIO_TJRO_URL are the operator's and reach its host wherever it is.
// No error quotes the answer's bytes.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "fila/core/handler.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/llm.h"
#include "fila/diario/store.h"
#include "fila/extract/budget.h"
#include "fila/http/http_client.h"

namespace fila::diario {

struct DiarioOptions {
  std::map<std::string, std::string> url_templates;  // tribunal -> URL template
  std::string archive_target;                        // "" none, folder, file:// or http(s)://
  LlmConfig llm;
  // Per tribunal host, across every worker sharing the limiter.
  uint32_t host_concurrency = 3;
  std::chrono::milliseconds host_min_interval{1000};
  std::chrono::seconds download_timeout{120};
  size_t max_pdf_bytes = size_t{200} << 20;
  // fila-extract, which reads each gazette in a process of its own; ""
  // reads it in this process (tests).
  std::string extractor;
  extract::Budget budget;  // what extracting one gazette may cost
  // FILA_DIARIO_TJRO_URL (URL template), FILA_DIARIO_ARCHIVE,
  // FILA_DIARIO_HOST_CONCURRENCY, FILA_DIARIO_MIN_INTERVAL_MS,
  // FILA_DIARIO_DOWNLOAD_TIMEOUT_S and LlmConfig::FromEnv(); the
  // extraction settings are the worker's (WorkerServices). PermanentError
  // for a bad value.
  static DiarioOptions FromEnv();
};

// `store` and `limiter` must outlive the handler.
Handler MakeDiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter,
                          std::shared_ptr<HttpClient> http);

// The limiter key of a tribunal host.
std::string HostLimitKey(const std::string& url);

}  // namespace fila::diario
