#pragma once

// HTTP handlers: the tasks of a type whose handler is an HTTP endpoint
// (HandlerSpec::Kind::kHttp, typically a sidecar on localhost, in any
// language) are POSTed to it, one request per attempt; the answer's status
// says what happened (the Cloud Tasks contract). The contract for handler
// authors: docs/handlers.md, "HTTP handlers".

#include <memory>

#include "fila/core/handler.h"
#include "fila/http/http_client.h"
#include "fila/http_handler/callback_server.h"

namespace fila {

struct HttpHandlerOptions {
  // Where handlers report progress and enqueue children while they run;
  // null: requests carry an empty "callback". Must outlive the factory's
  // handlers.
  CallbackServer* callbacks = nullptr;
  // What the requests go through: the type's URL is the operator's
  // (UrlSource::kOperator), redirects elsewhere pass its egress policy.
  // Null: MakeHttpClient() (FILA_EGRESS_ALLOW). Connections are reused.
  std::shared_ptr<HttpClient> client;
};

// The factory of the handlers of registered types whose handler is HTTP.
// Make() throws PermanentError for a spec of any other kind. A made
// handler, per attempt: waits for one of the type's `concurrency` places
// on this worker (0: no limit beyond the worker's slots) while the task is
// neither cancelled nor past its deadline; opens the attempt's callbacks;
// POSTs the task; closes the callbacks; returns the answer's result or
// throws what it means (http_contract.h). A cancel or the deadline aborts
// the request and closes its connection within about 50 ms. Thread-safe.
// Throws PermanentError when FILA_EGRESS_ALLOW is malformed (no client given).
std::shared_ptr<HandlerFactory> MakeHttpHandlerFactory(HttpHandlerOptions options = {});

}  // namespace fila
