#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Open-loop load on fila's HTTP enqueue API (POST /v1/tasks), the way
// bench/enqueue_load.cpp does it: request i is due at start + i/rate
// whatever happened to the earlier ones, and its latency is measured from
// that due time, so a stalled server shows in the percentiles (no
// coordinated omission). Keep-alive connections, one thread each.
namespace fila::bench {

struct HttpLoadSpec {
  std::string url;     // http://127.0.0.1:PORT
  std::string token;   // producer token (its tenant owns the tasks)
  std::string body;    // JSON of one task
  double rate = 1000;  // requests/s
  double seconds = 5;  // measured window
  double warmup = 0;   // sent first, not measured
  int connections = 32;
};

struct HttpLoadResult {
  double rate = 0;
  int64_t accepted = 0;                       // 2xx, in the whole run (warm-up included): tasks enqueued
  int64_t measured = 0;                       // 2xx answers in the measured window
  int64_t refused = 0;                        // 429: "refused, retry after" (backpressure), not a failure
  int64_t errors = 0;                         // anything else, or no answer
  int64_t unsent = 0;                         // due in the window but not sent before it closed
  double achieved = 0;                        // 2xx/s in the measured window
  double p50_ms = 0, p99_ms = 0, max_ms = 0;  // of the measured 2xx answers, from the due time
  std::string first_error;
  std::string first_retry_after;  // the first 429's Retry-After header, if any
};

HttpLoadResult RunHttpLoad(const HttpLoadSpec& spec);

// GET `path` with the token until it answers 200 or `seconds` pass; false then.
bool HttpReady(const std::string& url, const std::string& token, double seconds);

}  // namespace fila::bench
