#pragma once

// diario.process with `source: djen`: a tribunal's publications of one day
// from the national DJEN API, page by page, politely (the host's budget in
// the KeyLimiter) and with each answer's shape checked.

#include <functional>
#include <string>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/djen.h"
#include "fila/diario/handler.h"
#include "fila/http/http_client.h"
#include "fila/http/retrying_call.h"

namespace fila::diario {

// What one DJEN answer means (pure, for tests): 2xx done (its body is
// checked by ParseDjenAnswer); 408, 429 and 5xx, or no answer, retried in
// the slot (up to 3 tries, Retry-After honoured up to 30 s); another
// status PermanentError ("DJEN answered HTTP 404": the operator's
// FILA_DIARIO_DJEN_URL is wrong, or the query is refused).
RetryVerdict ClassifyDjenAnswer(const TryOutcome& outcome);

struct DjenFetch {
  std::vector<DjenPublication> publications;
  std::string first_url;  // the query of page 1
  int pages = 0;          // answers read
  size_t bytes = 0;       // of the answers
};

// Every publication of `tribunal_code` on `date` (YYYY-MM-DD), through
// options.djen_url (the operator's: UrlSource::kOperator). Pages of
// options.djen_page_size until a short page or the answer's count; more
// than options.djen_max_pages pages, or texts over the extraction budget's
// max_text_bytes, is a PermanentError naming the variable. A 2xx answer
// that is not DJEN's JSON (an HTML page, a cut-off body) is a
// TransientError naming its media type, never quoting it.
DjenFetch FetchDjenPublications(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                                const std::string& tribunal_code, const std::string& date, Deadline deadline,
                                const std::function<bool()>& cancelled);

}  // namespace fila::diario
