#pragma once

// One keep-alive HTTP connection that POSTs the same JSON body (or GETs,
// without one) with a bearer token: the load generators' client
// (fila-bench's http_load, fila_bench_enqueue). libcurl stays behind it.

#include <string>

namespace fila::bench {

// curl_global_init, once per process; before any thread makes a connection.
void EnsureCurl();

class HttpConnection {
 public:
  // `body` (nullptr: a GET) must outlive the connection.
  HttpConnection(const std::string& url, const std::string& token, const std::string* body);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The HTTP status, or 0 when no answer came; `error` says why (also for
  // a status outside 2xx, with the first 512 bytes of the answer).
  long Send(std::string& error);
  // The last answer's Retry-After header ("" when it had none).
  const std::string& retry_after() const { return retry_after_; }

 private:
  void* curl_ = nullptr;     // CURL*
  void* headers_ = nullptr;  // curl_slist*
  std::string response_, retry_after_;
};

}  // namespace fila::bench
