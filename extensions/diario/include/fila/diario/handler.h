#pragma once

// The diario.process handler: download the gazette (politely, content
// checked), extract the text per page, find the decisions, optionally ask
// an LLM, archive the PDF and store everything. Safe to call from many slot
// threads at once.
//
// With `source: djen` the texts are a tribunal's publications of a day in
// the national DJEN API (FILA_DIARIO_DJEN_URL, the operator's; the payload
// only names a checked tribunal code and date), one entry per
// publication; none that day is "no_gazette"; an answer that is not
// DJEN's JSON is a TransientError; nothing is archived.
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

#include "fila/core/extension_metrics.h"
#include "fila/core/handler.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/llm.h"
#include "fila/diario/store.h"
#include "fila/diario/tjro_index.h"
#include "fila/extract/budget.h"
#include "fila/http/http_client.h"

namespace fila::diario {

struct DiarioOptions {
  // tribunal -> URL template of a gazette by date (a mirror's; TJRO itself
  // publishes no such URLs: its editions are found through `tjro`'s index).
  std::map<std::string, std::string> url_templates;
  TjroSite tjro;
  std::string archive_target;                        // "" none, folder, file:// or http(s)://
  LlmConfig llm;
  // Per tribunal host, across every worker sharing the limiter.
  uint32_t host_concurrency = 3;
  std::chrono::milliseconds host_min_interval{1000};
  // How long every worker leaves a host alone after it answered 403, 408,
  // 429, 5xx or its block page (longer when its Retry-After says so).
  std::chrono::milliseconds host_backoff{60000};
  std::chrono::seconds download_timeout{120};
  size_t max_pdf_bytes = size_t{200} << 20;
  // fila-extract, which reads each gazette in a process of its own; ""
  // reads it in this process (tests).
  std::string extractor;
  extract::Budget budget;  // what extracting one gazette may cost
  // `source: djen`: the national API's base (the operator's, like the URL
  // templates), its page size, how many pages one task reads at most, and
  // the largest answer.
  std::string djen_url = "https://comunicaapi.pje.jus.br/api/v1/comunicacao";
  int djen_page_size = 100;
  int djen_max_pages = 100;
  size_t max_djen_answer_bytes = size_t{32} << 20;
  // FILA_DIARIO_TJRO_INDEX_URL, FILA_DIARIO_TJRO_LATEST_URL,
  // FILA_DIARIO_HOST_BACKOFF_MS,
  // FILA_DIARIO_TJRO_URL (URL template), FILA_DIARIO_DJEN_URL,
  // FILA_DIARIO_DJEN_MAX_PAGES, FILA_DIARIO_DJEN_PAGE_SIZE, FILA_DIARIO_ARCHIVE,
  // FILA_DIARIO_HOST_CONCURRENCY, FILA_DIARIO_MIN_INTERVAL_MS,
  // FILA_DIARIO_DOWNLOAD_TIMEOUT_S and LlmConfig::FromEnv(); the
  // extraction settings are the worker's (WorkerServices). PermanentError
  // for a bad value.
  static DiarioOptions FromEnv();
};

// `store`, `limiter` and `metrics` must outlive the handler. Each
// processed gazette is counted in `metrics` (fila_diario_decisions_total,
// fila_diario_gazette_unknown_outcome_ratio) once it is stored.
Handler MakeDiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter,
                          std::shared_ptr<HttpClient> http, MetricRegistry& metrics = NoMetricRegistry());

// The limiter key of a tribunal host.
std::string HostLimitKey(const std::string& url);

// The limit every request to a tribunal host is made under: the options'
// concurrency, and their minimum interval as a gap between sends.
LimitSpec HostLimit(const DiarioOptions& options);

}  // namespace fila::diario
