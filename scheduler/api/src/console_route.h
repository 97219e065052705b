#pragma once

// GET /ui and /ui/...: the web console's static files (fila_console), with
// the headers that keep a page holding a token safe. No token is needed to
// load them: every call the page makes goes to /v1 with its own bearer.

#include <optional>

#include "router.h"

namespace fila::api {

// The answer to a request for /ui or below it, or nullopt for any other
// path. `enabled` false (--console off): 404. Never throws.
std::optional<Response> ConsoleResponse(const Request& r, bool enabled);

}  // namespace fila::api
