#include "console_route.h"

#include "fila/console/console.h"
#include "router_support.h"

namespace fila::api {
namespace {

// Scripts only from the console's own modules (no inline script, no eval),
// calls only to this origin, never framed (clickjacking of operator
// buttons), no referrer leaking a filter's URL to another site.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void AddSecurityHeaders(Response& out) {
  out.headers = {{"Content-Security-Policy", kContentSecurityPolicy},
                 {"X-Content-Type-Options", "nosniff"},
                 {"X-Frame-Options", "DENY"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Cross-Origin-Opener-Policy", "same-origin"}};
}

}  // namespace

std::optional<Response> ConsoleResponse(const Request& r, bool enabled) {
  if (r.path != "/ui" && r.path.rfind("/ui/", 0) != 0) return std::nullopt;
  Response out;
  if (!enabled) {
    out = ErrorReply(r, {404, "not_found", "the console is off (fila-scheduler --console off)", ""});
  } else if (r.method != "GET" && r.method != "HEAD") {
    out = ErrorReply(r, {405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""});
  } else if (auto asset = FindConsoleAsset(r.path.size() > 4 ? std::string_view(r.path).substr(4) : "")) {
    out.status = 200;
    out.content_type = std::string(asset->content_type);
    if (r.method == "GET") out.body = std::string(asset->body);
  } else {
    out = ErrorReply(r, {404, "not_found", "no console file " + r.path, ""});
  }
  AddSecurityHeaders(out);
  // The page is always fetched anew (a new binary brings new modules with
  // it); the modules are revalidated too, having no version in their names.
  out.headers.emplace_back("Cache-Control", "no-store");
  return out;
}

}  // namespace fila::api
