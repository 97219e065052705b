#pragma once

#include <cstddef>
#include <string>

#include "fila/core/clock.h"
#include "fila/document/ingest_handler.h"
#include "fila/v1/document.pb.h"

namespace fila::document {

struct Fetched {
  std::string bytes;
  std::string name;      // file name or URL path: only a hint for Markdown vs text
  std::string declared;  // the payload's media type, else the server's Content-Type
  std::string source;    // for the record: URL without credentials, path, or "inline"
};

// The bytes of the payload's source, at most `limit` of them (more is a
// PermanentError "document too large"). Paths resolve under
// options.root/<folder> (the tenant's folder) and may not leave it.
Fetched FetchSource(const v1::DocumentIngestPayload& payload, const IngestOptions& options,
                    const std::string& folder, size_t limit, HttpClient& http, Deadline deadline);

}  // namespace fila::document
