#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "fila/core/clock.h"
#include "fila/http/http_client.h"

namespace fila::nfe {

struct UploadResult {
  std::string target;  // where the zip went (URL without credentials, or relative path)
  long http_status = 0;
  int attempts = 0;
};

// Checks a payload's upload target before anything is fetched: at most
// kMaxUrlBytes, and a well-formed http(s) URL or a folder relative to the
// root without '..'. Throws PermanentError naming payload.upload.
void ValidateUploadTarget(const std::string& target);

// Uploads the file at `zip_path` under the name `zip_name`:
// - `target` http(s)://...: HTTP PUT to target + "/" + zip_name, with a
//   bearer token when `bearer` is not empty; 408/425/429/5xx and transport
//   errors retried with backoff up to `max_attempts` (a Retry-After up to
//   120 s is waited out); another status is a PermanentError. The caller has checked that the target lies under an
//   upload target an operator bound to the task's tenant: its origin is
//   reachable like the operator's Omie URL, a redirect to another origin
//   passes the egress policy, and neither the token nor the zip follows it
//   (HttpClient).
// - otherwise a folder relative to `root`, written atomically.
// Throws TransientError when retries or the deadline run out.
UploadResult UploadZip(HttpClient& http, const std::string& zip_path, const std::string& zip_name,
                       const std::string& target, const std::string& root, const std::string& bearer,
                       Deadline deadline, const std::function<bool()>& cancelled, int max_attempts = 6);

}  // namespace fila::nfe
