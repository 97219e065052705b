#pragma once

// Stage 1 of diario.process: fetch the gazette PDF, politely (the host's
// budget in the KeyLimiter) and with its content checked.

#include <functional>
#include <string>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"
#include "fila/diario/handler.h"
#include "fila/http/http_client.h"
#include "fila/http/retrying_call.h"

namespace fila::diario {

// What a tribunal's answer means (pure, for tests). One try per task
// attempt: the task's own retry (minutes apart) is the backoff a tribunal
// gets. 2xx with a PDF and 404/410 (no gazette that day) are done; 403
// (its anti-bot block), 408, 429 and 5xx, no answer at all, or a 2xx
// that is not a PDF (its block page) are TransientError; another status
// is PermanentError. No message quotes the answer's bytes.
RetryVerdict ClassifyGazetteAnswer(const TryOutcome& outcome);

// The media type of a Content-Type header ("text/html"), for an error
// message; "" unless it has the shape of one. Nothing else of an answer
// is ever quoted: its bytes may be an internal service's.
std::string MediaType(const std::string& header);

// GETs `url` under the host's limit and the options' timeout and size
// bound. Returns a 2xx PDF or a 404/410; throws as ClassifyGazetteAnswer
// says, and PermanentError from the client (egress policy, too large).
HttpResponse FetchGazette(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                          const std::string& url, UrlSource source, Deadline deadline,
                          const std::function<bool()>& cancelled);

}  // namespace fila::diario
