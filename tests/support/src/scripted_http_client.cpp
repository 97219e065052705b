#include "fila/test_support/scripted_http_client.h"

#include "fila/core/errors.h"

namespace fila::test {

HttpResponse MakeResponse(long status, std::string body, std::map<std::string, std::string> headers) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

HttpAnswer Reply(long status, std::string body, std::map<std::string, std::string> headers) {
  return [=](const HttpRequest&) { return MakeResponse(status, body, headers); };
}

HttpAnswer NoAnswer(std::string message) {
  return [message](const HttpRequest&) -> HttpResponse { throw TransientError(message); };
}

HttpResponse ScriptedHttpClient::Send(const HttpRequest& request) {
  HttpAnswer next;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    if (script_.empty()) throw TransientError("script ran out");
    next = std::move(script_.front());
    script_.pop_front();
  }
  return next(request);
}

void ScriptedHttpClient::Push(HttpAnswer answer) {
  std::lock_guard lock(mutex_);
  script_.push_back(std::move(answer));
}

std::vector<HttpRequest> ScriptedHttpClient::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t ScriptedHttpClient::sent() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

}  // namespace fila::test
