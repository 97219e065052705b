#pragma once

// TJRO's site as the worker and `fila diario backfill` reach it: the
// yearly index (list.php?ano=YYYY), the latest issue (ultimo-diario.php,
// a redirect to its PDF) and the PDFs themselves, all on one host and all
// under that host's politeness budget in the shared KeyLimiter (key
// "diario-host:<host>"): the backfill's index reads and every worker's
// downloads count against one limit, and a "slow down" answer (403, 408,
// 429, 5xx, an HTML block page where JSON or a PDF was expected) pauses
// the host for everyone (KeyLimiter::Defer).

#include <functional>
#include <optional>
#include <string>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/handler.h"
#include "fila/diario/tjro_index.h"
#include "fila/http/http_client.h"
#include "fila/http/retrying_call.h"

namespace fila::diario {


// Wraps `inner`: when it says kTransient or kRetry about an answer the host
// gave (not a network error), the host is paused for everyone for
// max(options.host_backoff, the answer's Retry-After capped at 10 min).
RetryClassifier PausingHostOnTrouble(RetryClassifier inner, KeyLimiter& limiter, std::string limit_key,
                                     std::chrono::milliseconds backoff);

// What list.php answers (pure): 2xx with a body that starts like a JSON
// array is done; 2xx with anything else (the anti-bot HTML page) and 403,
// 408, 429, 5xx or no answer are TransientError; another status is
// PermanentError naming FILA_DIARIO_TJRO_INDEX_URL.
RetryVerdict ClassifyIndexAnswer(const TryOutcome& outcome);

// The body of list.php?ano=`year` (at most kMaxIndexBytes), fetched under
// the host's limit. Throws as ClassifyIndexAnswer says.
std::string FetchTjroIndex(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options, const TjroSite& site,
                           int year, Deadline deadline, const std::function<bool()>& cancelled = {});

// The edition ultimo-diario.php redirects to; nullopt when it answers no
// redirect to a gazette file on the tribunal's host (its Location is
// resolved like an index entry's url: another host is refused). Throws
// TransientError when the host is unreachable or asks to slow down.
std::optional<Edition> FetchTjroLatest(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                                       const TjroSite& site, Deadline deadline,
                                       const std::function<bool()>& cancelled = {});

}  // namespace fila::diario
