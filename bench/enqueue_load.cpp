// Open-loop load generator for fila's enqueue API (POST /v1/tasks).
//
// Rate mode (--rate R): request i is due at start + i/R, whatever happened to
// the requests before it, and its latency is measured from that intended send
// time, so a stalled server shows up in the percentiles instead of silently
// slowing the generator down (no coordinated omission, as in wrk2). Requests
// are sent by --connections threads, each with one keep-alive connection; a
// request due while every connection is busy waits, and that wait counts.
// The run ends on time: requests still due when the window closes are not
// sent but reported ("due but not sent in time"): the server fell behind.
//
// Batch mode (--batch N): POST /v1/tasks:batch with N copies of --body per
// request, as fast as --connections connections allow (closed loop), and
// reports tasks/s.
//
//   fila_bench_enqueue --url http://127.0.0.1:8080 --token T --rate 500 --duration 20
//   fila_bench_enqueue --url http://127.0.0.1:8080 --token T --batch 1000 --duration 10
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "src/http_connection.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  std::string body = R"({"type":"noop"})";
  double rate = 500;       // requests/s (rate mode)
  double duration = 20;    // seconds measured
  double warmup = 2;       // seconds sent first, not measured
  int connections = 16;
  int batch = 0;           // > 0: batch mode with this many tasks per request
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: fila_bench_enqueue --url URL --token TOKEN [--rate R | --batch N]\n"
               "         [--duration S] [--warmup S] [--connections C] [--body JSON]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") Usage("fila_bench_enqueue: open-loop enqueue load generator");
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    try {
      if (a == "--url") o.url = v;
      else if (a == "--token") o.token = v;
      else if (a == "--body") o.body = v;
      else if (a == "--rate") o.rate = std::stod(v);
      else if (a == "--duration") o.duration = std::stod(v);
      else if (a == "--warmup") o.warmup = std::stod(v);
      else if (a == "--connections") o.connections = std::stoi(v);
      else if (a == "--batch") o.batch = std::stoi(v);
      else Usage(("unknown option " + a).c_str());
    } catch (const std::logic_error&) {
      Usage(("bad value for " + a + ": " + v).c_str());
    }
  }
  if (o.token.empty()) Usage("--token is required");
  if (o.rate <= 0 || o.duration <= 0 || o.warmup < 0 || o.connections < 1 || o.batch < 0) {
    Usage("--rate, --duration and --connections must be positive");
  }
  while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
  return o;
}

struct Totals {
  std::mutex mutex;
  std::vector<double> latencies_ms;  // measured requests only
  long ok = 0, errors = 0, unsent = 0;
  std::string first_error;

  void Add(const std::vector<double>& lat, long n_ok, long n_err, long n_unsent, const std::string& err) {
    std::lock_guard lock(mutex);
    latencies_ms.insert(latencies_ms.end(), lat.begin(), lat.end());
    ok += n_ok;
    errors += n_err;
    unsent += n_unsent;
    if (first_error.empty()) first_error = err;
  }
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int Run(const Options& o) {
  const bool batch = o.batch > 0;
  std::string body = o.body;
  if (batch) {
    body = R"({"tasks":[)";
    for (int i = 0; i < o.batch; ++i) body += (i ? "," : "") + o.body;
    body += "]}";
  }
  const std::string path = batch ? "/v1/tasks:batch" : "/v1/tasks";
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
  const auto warmup = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto total = warmup + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));

  std::atomic<long> next{0};
  Totals totals;
  const auto start = Clock::now() + std::chrono::milliseconds(100);  // let every thread get ready
  std::vector<std::thread> threads;
  for (int t = 0; t < o.connections; ++t) {
    threads.emplace_back([&] {
      fila::bench::HttpConnection conn(o.url + path, o.token, &body);
      std::vector<double> lat;
      long n_ok = 0, n_err = 0, n_unsent = 0;
      std::string err;
      std::this_thread::sleep_until(start);
      for (;;) {
        Clock::time_point intended;
        if (batch) {
          intended = Clock::now();  // closed loop: as fast as the server answers
          if (intended - start >= total) break;
        } else {
          intended = start + period * next.fetch_add(1);
          if (intended - start >= total) break;
          // Past the end of the window, requests still due are not sent but
          // counted: the server could not keep up with the rate.
          if (Clock::now() - start >= total) {
            if (intended - start >= warmup) ++n_unsent;
            continue;
          }
          std::this_thread::sleep_until(intended);
        }
        long status = conn.Send(err);
        const auto done = Clock::now();
        if (intended - start < warmup) continue;
        if (status >= 200 && status < 300) {
          ++n_ok;
          lat.push_back(std::chrono::duration<double, std::milli>(done - intended).count());
        } else {
          ++n_err;
        }
      }
      totals.Add(lat, n_ok, n_err, n_unsent, n_err ? err : "");
    });
  }
  for (auto& th : threads) th.join();
  const double measured = Seconds(Clock::now() - start - warmup);

  auto& l = totals.latencies_ms;
  std::sort(l.begin(), l.end());
  const double requests_per_s = static_cast<double>(totals.ok) / measured;
  std::printf("target      %s, %d connections, %.0f s (+%.0f s warm-up)\n",
              batch ? ("batch of " + std::to_string(o.batch) + ", closed loop").c_str()
                    : (std::to_string(static_cast<long>(o.rate)) + " req/s, open loop").c_str(),
              o.connections, o.duration, o.warmup);
  std::printf("requests    %ld ok, %ld errors, %ld due but not sent in time, %.1f req/s achieved\n",
              totals.ok, totals.errors, totals.unsent, requests_per_s);
  if (batch) std::printf("tasks       %.0f tasks/s\n", requests_per_s * o.batch);
  std::printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", Percentile(l, 50),
              Percentile(l, 90), Percentile(l, 99), l.empty() ? 0.0 : l.back());
  if (!totals.first_error.empty()) std::printf("first error %s\n", totals.first_error.c_str());
  // One line for scripts.
  std::printf("summary mode=%s rate=%.0f achieved=%.1f tasks_per_s=%.0f ok=%ld errors=%ld "
              "unsent=%ld p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
              batch ? "batch" : "rate", batch ? 0.0 : o.rate, requests_per_s,
              requests_per_s * (batch ? o.batch : 1), totals.ok, totals.errors, totals.unsent,
              Percentile(l, 50),
              Percentile(l, 90), Percentile(l, 99), l.empty() ? 0.0 : l.back());
  return totals.ok > 0 && totals.errors == 0 && totals.unsent == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  fila::bench::EnsureCurl();
  int rc = Run(o);
  return rc;
}
