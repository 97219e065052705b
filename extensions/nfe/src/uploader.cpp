#include "uploader.h"

#include <algorithm>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/http/retrying_call.h"
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
  RetryingCall call;
  call.what = "upload to " + result.target;
  // The default rule (408/425/429/5xx retried); another status is refused.
  call.classify = [&result](const TryOutcome& outcome) {
    RetryVerdict v = DefaultClassify(outcome);
    if (v.kind == RetryVerdict::Kind::kPermanent) {
      v = RetryVerdict::Permanent("upload to " + result.target + " refused: " + v.reason, "payload.upload");
    }
    return v;
  };
  call.policy = {.max_attempts = static_cast<uint32_t>(std::max(max_attempts, 1)),
                 .base = std::chrono::milliseconds(500),
                 .cap = std::chrono::seconds(20)};
  call.max_named_wait = std::chrono::seconds(120);
  call.try_timeout = std::chrono::seconds(120);
  call.deadline = deadline;
  call.cancelled = cancelled;
  CallStats stats;
  SendWithRetries(http, std::move(request), call, &stats);
  result.attempts = stats.tries;
  result.http_status = stats.last_status;
  return result;
}

}  // namespace fila::nfe
