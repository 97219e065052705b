#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "fila/clock.h"
#include "fila/http_client.h"

namespace fila::nfe {

struct UploadResult {
  std::string target;  // where the zip went (URL without credentials, or relative path)
  long http_status = 0;
  int attempts = 0;
};

// Uploads the file at `zip_path` under the name `zip_name`:
// - `target` http(s)://...: HTTP PUT to target + "/" + zip_name, with a
//   bearer token when `bearer` is not empty; 408/429/5xx and transport
//   errors retried with backoff up to `max_attempts`; another status is a
//   PermanentError.
// - otherwise a folder relative to `root`, written atomically.
// Throws TransientError when retries or the deadline run out.
UploadResult UploadZip(HttpClient& http, const std::string& zip_path, const std::string& zip_name,
                       const std::string& target, const std::string& root, const std::string& bearer,
                       Deadline deadline, const std::function<bool()>& cancelled, int max_attempts = 6);

}  // namespace fila::nfe
