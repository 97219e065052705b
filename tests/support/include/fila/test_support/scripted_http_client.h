#pragma once

// An HttpClient that answers from a script, in order, and records each
// request. No network. Thread-safe.

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fila/http/http_client.h"

namespace fila::test {

using HttpAnswer = std::function<HttpResponse(const HttpRequest&)>;

// A response of `status` with `body` and `headers` (names lower case).
HttpResponse MakeResponse(long status, std::string body = "", std::map<std::string, std::string> headers = {});
// An answer that returns MakeResponse(...).
HttpAnswer Reply(long status, std::string body = "", std::map<std::string, std::string> headers = {});
// An answer that throws TransientError(message) (no response arrived).
HttpAnswer NoAnswer(std::string message = "connection refused");

class ScriptedHttpClient final : public HttpClient {
 public:
  // Answers with the next scripted answer; TransientError "script ran
  // out" when there is none.
  HttpResponse Send(const HttpRequest& request) override;
  void Push(HttpAnswer answer);
  std::vector<HttpRequest> requests() const;
  size_t sent() const;

 private:
  mutable std::mutex mutex_;
  std::deque<HttpAnswer> script_;
  std::vector<HttpRequest> requests_;
};

}  // namespace fila::test
