#include "fetch.h"

#include <filesystem>
#include <fstream>

#include "fila/core/config.h"
#include "fila/core/errors.h"

namespace fila::document {
namespace {

namespace fs = std::filesystem;

std::string TooLarge(size_t size, size_t limit) {
  return "document too large: " + std::to_string(size) + " bytes, the limit is " + std::to_string(limit) +
         " (payload max_bytes, worker FILA_DOCUMENT_MAX_BYTES)";
}

Fetched FromPath(const std::string& path, const IngestOptions& options, const std::string& folder, size_t limit) {
  if (options.root.empty()) {
    throw PermanentError("file sources are disabled on this worker", "payload.path");
  }
  // One answer for every path that cannot be read, so that a producer
  // learns nothing of what exists outside its folder (or where it is).
  const auto unreadable = [&] {
    return PermanentError("no readable file '" + path.substr(0, 256) + "' in the tenant's document folder",
                          "payload.path");
  };
  const fs::path relative(path);
  if (path.empty() || relative.is_absolute() || path.find("..") != std::string::npos ||
      path.find('\0') != std::string::npos) {
    throw PermanentError("path must be relative to the tenant's document folder, without '..'", "payload.path");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(fs::path(options.root) / folder, ec);
  if (ec) throw unreadable();
  const fs::path full = fs::weakly_canonical(root / relative, ec);
  // A symlink inside the folder may still point outside it.
  auto [r, f] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (ec || r != root.end() || !fs::is_regular_file(full, ec)) throw unreadable();
  const auto size = fs::file_size(full, ec);
  if (ec) throw unreadable();
  if (size > limit) throw PermanentError(TooLarge(size, limit), "payload.path");
  std::ifstream in(full, std::ios::binary);
  Fetched out;
  out.bytes.resize(size);
  if (!in.read(out.bytes.data(), static_cast<std::streamsize>(size))) throw unreadable();
  out.name = full.filename().string();
  out.source = path;
  return out;
}

// The URL as logged and stored: no password, and no query string (signed
// download links carry their credentials there).
std::string Shown(const std::string& url) {
  const size_t query = url.find_first_of("?#");
  return RedactUrl(url.substr(0, query)) + (query == std::string::npos ? "" : "?…");
}

Fetched FromUrl(const std::string& url, size_t limit, HttpClient& http, Deadline deadline) {
  ValidatePayloadUrl(url, "payload.url");
  const std::string shown = Shown(url);
  HttpRequest request;
  request.url = url;
  request.deadline = deadline;
  request.max_response_bytes = limit;
  HttpResponse response;
  try {
    response = http.Send(request);
  } catch (const PermanentError& e) {
    if (e.field() == "max_response_bytes") {
      throw PermanentError("fetching " + shown + ": " + TooLarge(limit + 1, limit), "payload.url");
    }
    // Blocked by the egress policy, too many redirects, a bad URL: the
    // client's message names the method and the URL, never the answer.
    throw PermanentError(e.what(), "payload.url");
  } catch (const TransientError& e) {
    throw TransientError("fetching " + shown + ": " + e.what());
  }
  const long s = response.status;
  if (s == 408 || s == 429 || s >= 500) {
    throw TransientError("fetching " + shown + ": HTTP " + std::to_string(s));
  }
  if (s < 200 || s >= 300) {
    throw PermanentError("fetching " + shown + ": HTTP " + std::to_string(s), "payload.url");
  }
  if (response.body.size() > limit) throw PermanentError(TooLarge(response.body.size(), limit), "payload.url");
  Fetched out;
  out.bytes = std::move(response.body);
  out.declared = response.Header("content-type");
  const size_t path_start = url.find('/', url.find("://") + 3);
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  out.name = path.substr(0, path.find_first_of("?#"));
  out.source = shown;
  return out;
}

}  // namespace

Fetched FetchSource(const v1::DocumentIngestPayload& payload, const IngestOptions& options,
                    const std::string& folder, size_t limit, HttpClient& http, Deadline deadline) {
  Fetched out;
  switch (payload.source_case()) {
    case v1::DocumentIngestPayload::kText:
      if (payload.text().size() > limit) throw PermanentError(TooLarge(payload.text().size(), limit), "payload.text");
      out.bytes = payload.text();
      out.source = "inline";
      break;
    case v1::DocumentIngestPayload::kPath:
      out = FromPath(payload.path(), options, folder, limit);
      break;
    case v1::DocumentIngestPayload::kUrl:
      out = FromUrl(payload.url(), limit, http, deadline);
      break;
    default:
      throw PermanentError("payload names no source: set url, path or text", "payload.source");
  }
  if (!payload.media_type().empty()) out.declared = payload.media_type();
  return out;
}

}  // namespace fila::document
