#pragma once

// The CLI's calls to the HTTP API: JSON bodies over fila_http's client, the
// API's error answers turned into fila errors.

#include <google/protobuf/message.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>

#include "fila/http/http_client.h"

namespace fila::cli {

class ApiClient final {
 public:
  struct Reply {
    long status = 0;
    std::string body;
  };

  // `url`: the API's base URL, named by the operator (--api): its origin
  // is reachable wherever it points (UrlSource::kOperator).
  ApiClient(std::string url, std::string token);

  const std::string& Url() const { return url_; }

  // One request with a JSON body (may be empty). Any status is a reply;
  // throws TransientError "cannot reach the API: ..." when none came.
  // Thread-safe (fila top calls from a second thread).
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // `reply` when its status is one of `ok`; otherwise the API's error:
  // TransientError ("API unavailable: ...") for 5xx, else PermanentError
  // with the server's message and field.
  static const Reply& Expect(const Reply& reply, std::initializer_list<long> ok);
  // Reads an answer (unknown fields ignored: newer servers may add some);
  // TransientError when it is not `message` in JSON.
  static void Parse(const Reply& reply, google::protobuf::Message& message);
  static std::string Json(const google::protobuf::Message& message);

 private:
  std::string url_;
  std::string token_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace fila::cli
