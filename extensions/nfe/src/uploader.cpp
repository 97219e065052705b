#include "uploader.h"

#include <algorithm>
#include <random>
#include <thread>

#include "fila/config.h"
#include "fila/errors.h"
#include "file_store.h"

namespace fila::nfe {

namespace {

bool IsUrl(const std::string& target) { return target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0; }

}  // namespace

void ValidateUploadTarget(const std::string& target) {
  if (target.size() > kMaxUrlBytes) {
    throw PermanentError("payload.upload is " + std::to_string(target.size()) + " bytes; at most " +
                             std::to_string(kMaxUrlBytes) + " are accepted",
                         "payload.upload");
  }
  if (IsUrl(target)) {
    ValidatePayloadUrl(target, "payload.upload");
  } else if (!SafeRelativePath(target)) {
    throw PermanentError("upload folder must be relative to FILA_NFE_ROOT, without '..'", "payload.upload");
  }
}

UploadResult UploadZip(HttpClient& http, const std::string& zip_path, const std::string& zip_name,
                       const std::string& target, const std::string& root, const std::string& bearer,
                       Deadline deadline, const std::function<bool()>& cancelled, int max_attempts) {
  UploadResult result;
  ValidateUploadTarget(target);
  const std::string bytes = ReadFile(zip_path);
  if (!IsUrl(target)) {
    WriteFileAtomically(root + "/" + target + "/" + zip_name, bytes);
    result.target = target + "/" + zip_name;
    result.attempts = 1;
    return result;
  }
  HttpRequest request;
  request.method = "PUT";
  // The caller checked that the target lies under an upload target an
  // operator bound to the tenant: the operator chose its origin, as they
  // chose Omie's. A redirect elsewhere still meets the egress policy.
  request.source = UrlSource::kOperator;
  request.url = target + (target.back() == '/' ? "" : "/") + zip_name;
  request.headers = {{"Content-Type", "application/zip"}};
  if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
  request.body = bytes;
  request.max_response_bytes = 1 << 20;
  result.target = RedactUrl(request.url);
  std::mt19937_64 rng{std::random_device{}()};
  std::string last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    result.attempts = attempt;
    request.deadline = std::min(deadline, DeadlineIn(std::chrono::seconds(120)));
    double wait_s = -1;
    try {
      HttpResponse r = http.Send(request);
      result.http_status = r.status;
      if (r.status >= 200 && r.status < 300) return result;
      last = "HTTP " + std::to_string(r.status);
      if (r.status != 408 && r.status != 429 && r.status < 500) {
        throw PermanentError("upload to " + result.target + " refused: " + last, "payload.upload");
      }
      wait_s = RetryAfterSeconds(r);
    } catch (const TransientError& e) {
      last = e.what();
    }
    if (attempt == max_attempts) break;
    const int64_t ceiling = std::min<int64_t>(20000, int64_t{250} << attempt);
    auto wait = wait_s >= 0 ? std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000))
                            : std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(ceiling / 2, ceiling)(rng));
    const auto until = DeadlineIn(wait);
    if (until > deadline) break;
    while (SteadyClock::now() < until) {
      if (cancelled && cancelled()) throw TransientError("cancelled during upload");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  throw TransientError("upload to " + result.target + " failed after " + std::to_string(result.attempts) +
                       " attempts: " + last);
}

}  // namespace fila::nfe
