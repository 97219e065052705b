// fila-chaos-check: the history checker of scripts/chaos (history_check.h).
//   fila-chaos-check --database-url URL --enqueued FILE... --worker-log ID=FILE...
// Prints the figures and every violation (at most --max-listed per kind);
// exits 0 when there is none, 1 when there is one, 2 when it cannot check.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "history_check.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fila-chaos-check: checks a chaos run's history against the task contract"};
  fila::chaos::CheckInput input;
  const char* env_url = std::getenv("FILA_DATABASE_URL");
  input.database_url = env_url != nullptr ? env_url : "";
  std::vector<std::string> enqueue_logs, worker_logs;
  int grace_s = 15;
  size_t max_listed = 20;
  app.add_option("--database-url", input.database_url, "PostgreSQL URL (env FILA_DATABASE_URL)");
  app.add_option("--enqueued", enqueue_logs, "A producer's log: lines ID KEY TYPE VIA");
  app.add_option("--worker-log", worker_logs, "ID=FILE: a worker's stderr");
  app.add_option("--release-grace", grace_s, "Seconds a due scheduled task may wait for release");
  app.add_option("--max-listed", max_listed, "Violations listed per kind");
  CLI11_PARSE(app, argc, argv);
  input.release_grace = std::chrono::seconds(grace_s);

  fila::chaos::Report report;
  try {
    for (const auto& path : enqueue_logs) {
      for (auto& e : fila::chaos::ParseEnqueueLog(ReadFile(path), report)) input.enqueued.push_back(std::move(e));
    }
    for (const auto& spec : worker_logs) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos) throw std::runtime_error("--worker-log wants ID=FILE, got " + spec);
      input.workers.push_back(fila::chaos::ParseWorkerLog(spec.substr(0, eq), ReadFile(spec.substr(eq + 1))));
    }
    fila::chaos::CheckHistory(input, report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fila-chaos-check: cannot check: %s\n", e.what());
    return 2;
  }
  for (const auto& [name, n] : report.counts) std::printf("  %-48s %lld\n", name.c_str(), static_cast<long long>(n));
  std::map<std::string, size_t> per_kind;
  for (const auto& v : report.violations) {
    if (++per_kind[v.kind] <= max_listed) std::printf("VIOLATION [%s] %s\n", v.kind.c_str(), v.detail.c_str());
  }
  for (const auto& [kind, n] : per_kind) {
    if (n > max_listed) std::printf("VIOLATION [%s] ... %zu in all\n", kind.c_str(), n);
  }
  std::printf("history check: %zu violation(s)%s\n", report.violations.size(),
              report.violations.empty() ? "" : " -- the contract does not hold");
  return report.violations.empty() ? 0 : 1;
}
