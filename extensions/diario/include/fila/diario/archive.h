#pragma once

// Keeps a copy of each gazette PDF: in a local folder or by HTTP PUT.
// Thread-safe. At most 2 archive writes at once across the workers sharing
// the KeyLimiter (key "diario-archive").

#include <memory>
#include <string>
#include <string_view>

#include "fila/core/clock.h"
#include "fila/core/key_limiter.h"
#include "fila/http/http_client.h"

namespace fila::diario {

class Archive {
 public:
  virtual ~Archive() = default;
  // Stores `bytes` under `name` (e.g. "tjro/2024/20240720.pdf"); returns
  // the URI of the copy. Throws TransientError when the target is
  // unreachable or refuses for a while (5xx), PermanentError otherwise.
  virtual std::string Put(const std::string& name, std::string_view bytes, Deadline deadline,
                          const std::function<bool()>& cancelled) = 0;
};

// `target`: "" (no archive: returns nullptr), a folder path or file://
// URL (written atomically: temporary file then rename), or an http(s)://
// base URL (PUT <base>/<name>). `http` is used for the latter and must
// outlive the archive.
std::unique_ptr<Archive> MakeArchive(const std::string& target, KeyLimiter& limiter, HttpClient& http);

inline constexpr std::string_view kArchiveLimitKey = "diario-archive";

}  // namespace fila::diario
