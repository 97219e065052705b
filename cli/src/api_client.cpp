#include "api_client.h"

#include "fila/codec/wire.h"
#include "fila/core/errors.h"
#include "fila/v1/api.pb.h"

namespace fila::cli {

ApiClient::ApiClient(std::string url, std::string token)
    // The default policy: the operator's origin is trusted, a redirect
    // elsewhere must not reach an internal address.
    : url_(std::move(url)), token_(std::move(token)), http_(MakeHttpClient(EgressPolicy())) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

ApiClient::Reply ApiClient::Call(const std::string& method, const std::string& path, const std::string& body,
                                 std::chrono::milliseconds timeout) const {
  HttpRequest request;
  request.method = method;
  request.url = url_ + path;
  request.source = UrlSource::kOperator;
  request.headers = {{"Authorization", "Bearer " + token_},
                     {"Content-Type", "application/json"},
                     {"Accept", "application/json"}};
  request.body = body;
  request.deadline = DeadlineIn(timeout);
  try {
    HttpResponse response = http_->Send(request);
    return {response.status, std::move(response.body)};
  } catch (const Error& e) {
    // Whatever kept the request from an answer (a malformed --api URL
    // too) is a failure to reach the API, not bad input of the command.
    throw TransientError(std::string("cannot reach the API: ") + e.what());
  }
}

const ApiClient::Reply& ApiClient::Expect(const Reply& reply, std::initializer_list<long> ok) {
  for (long status : ok) {
    if (reply.status == status) return reply;
  }
  v1::ErrorResponse error;
  bool parsed = true;
  try {
    codec::Decode(codec::Format::kJson, reply.body, error, codec::Unknown::kIgnore);
  } catch (const PermanentError&) {
    parsed = false;
  }
  std::string message =
      parsed && !error.message().empty() ? error.message() : "HTTP " + std::to_string(reply.status);
  if (reply.status == 0 || reply.status >= 500) throw TransientError("API unavailable: " + message);
  throw PermanentError(message, parsed ? error.field() : "");
}

void ApiClient::Parse(const Reply& reply, google::protobuf::Message& message) {
  try {
    codec::Decode(codec::Format::kJson, reply.body, message, codec::Unknown::kIgnore);
  } catch (const PermanentError&) {
    throw TransientError("the API answered with an unreadable body");
  }
}

std::string ApiClient::Json(const google::protobuf::Message& message) {
  return codec::Encode(codec::Format::kJson, message);
}

}  // namespace fila::cli
