#include "http_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "http_connection.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

HttpLoadResult RunHttpLoad(const HttpLoadSpec& spec) {
  EnsureCurl();
  const std::string url = spec.url + "/v1/tasks";
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / spec.rate));
  const auto warmup = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.warmup));
  const auto total =
      warmup + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.seconds));
  std::atomic<int64_t> next{0};
  std::mutex mutex;
  HttpLoadResult out;
  out.rate = spec.rate;
  std::vector<double> latencies;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  for (int t = 0; t < spec.connections; ++t) {
    threads.emplace_back([&] {
      HttpConnection conn(url, spec.token, &spec.body);
      std::vector<double> lat;
      int64_t accepted = 0, measured = 0, refused = 0, errors = 0, unsent = 0;
      std::string error, retry_after;
      std::this_thread::sleep_until(start);
      for (;;) {
        const Clock::time_point due = start + period * next.fetch_add(1);
        if (due - start >= total) break;
        if (Clock::now() - start >= total) {  // the window closed before it could be sent
          if (due - start >= warmup) ++unsent;
          continue;
        }
        std::this_thread::sleep_until(due);
        std::string err;
        const long status = conn.Send(err);
        const auto done = Clock::now();
        const bool in_window = due - start >= warmup;
        if (status >= 200 && status < 300) {
          ++accepted;
          if (in_window) {
            ++measured;
            lat.push_back(std::chrono::duration<double, std::milli>(done - due).count());
          }
        } else if (status == 429) {
          ++refused;
          if (retry_after.empty()) retry_after = conn.retry_after().empty() ? "-" : conn.retry_after();
        } else {
          ++errors;
          if (error.empty()) error = err;
        }
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), lat.begin(), lat.end());
      out.accepted += accepted;
      out.measured += measured;
      out.refused += refused;
      out.errors += errors;
      out.unsent += unsent;
      if (out.first_error.empty()) out.first_error = error;
      if (out.first_retry_after.empty()) out.first_retry_after = retry_after;
    });
  }
  for (auto& th : threads) th.join();
  std::sort(latencies.begin(), latencies.end());
  out.achieved = static_cast<double>(out.measured) / spec.seconds;
  out.p50_ms = Percentile(latencies, 50);
  out.p99_ms = Percentile(latencies, 99);
  out.max_ms = latencies.empty() ? 0 : latencies.back();
  return out;
}

bool HttpReady(const std::string& url, const std::string& token, double seconds) {
  EnsureCurl();
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  HttpConnection conn(url, token, nullptr);
  while (Clock::now() < deadline) {
    std::string error;
    if (conn.Send(error) == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace fila::bench
