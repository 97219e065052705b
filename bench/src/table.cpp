#include "table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "fila_run.h"

namespace fila::bench {
namespace {

std::string Format(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}


const Result* Find(const std::vector<Result>& results, Result::Kind kind) {
  for (const auto& r : results) {
    if (r.kind == kind && !r.failed) return &r;
  }
  return nullptr;
}

// Markdown cells must not contain '|' or line breaks.
std::string Cell(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// Rows whose tasks/s is a throughput of their own (not an offered rate).
bool Rated(const Result& r) {
  switch (r.kind) {
    case Result::Kind::kFilaSteady:
    case Result::Kind::kHttpEnqueue:
    case Result::Kind::kE2eSingle:
    case Result::Kind::kNoisy:
    case Result::Kind::kStarve:
    case Result::Kind::kPlot:
      return false;
    default:
      return !r.failed;
  }
}

std::string Verdict(bool met) { return met ? "met" : "**not met**"; }

void PrintTargets(const std::vector<Result>& results, std::ostream& out) {
  const Result* burn = Find(results, Result::Kind::kFilaBurnDown);
  const Result* raw = Find(results, Result::Kind::kRawBroker);
  const Result* celery = Find(results, Result::Kind::kCelery);
  const Result* celery_pg = Find(results, Result::Kind::kCeleryPg);
  std::vector<std::string> lines;
  if (burn) {
    lines.push_back("burn-down ≥ 5,000 tasks/s: " + Thousands(burn->tasks_per_s) + " — " +
                    Verdict(burn->tasks_per_s >= 5000));
    if (celery_pg) {
      const double x = burn->tasks_per_s / celery_pg->tasks_per_s;
      lines.push_back("≥ 15× Celery with the pg backend: " + Format("%.1f×", x) + " — " +
                      Verdict(x >= 15));
    }
    if (celery) {
      const double x = burn->tasks_per_s / celery->tasks_per_s;
      lines.push_back("≥ 5× Celery without a backend: " + Format("%.1f×", x) + " — " +
                      Verdict(x >= 5));
    }
    if (raw) {
      const double x = burn->tasks_per_s / raw->tasks_per_s;
      lines.push_back("≥ 50% of the raw broker: " + Format("%.0f%%", x * 100) + " — " +
                      Verdict(x >= 0.5));
    }
  }
  for (const auto& r : results) {
    if (r.failed || r.kind != Result::Kind::kFilaHttp || !r.builtin_tasks_per_s) continue;
    const double x = r.tasks_per_s / *r.builtin_tasks_per_s;
    lines.push_back("HTTP no-op handler ≥ 50% of the built-in noop (same run): " + Format("%.0f%%", x * 100) +
                    " — " + Verdict(x >= 0.5));
  }
  for (const auto& r : results) {
    if (r.failed || r.kind != Result::Kind::kFilaSteady) continue;
    if (r.offered_rate == 500 && r.p99_ms) {
      lines.push_back("p99 enqueue→start ≤ 25 ms at 500 tasks/s: " + Format("%.1f ms", *r.p99_ms) +
                      " — " + Verdict(*r.p99_ms <= 25));
    }
  }
  for (const auto& r : results) {
    if (r.failed || r.goal.empty()) continue;
    lines.push_back(r.goal + " (" + r.label + "): " + r.figure + " — " +
                    (r.goal_met ? Verdict(*r.goal_met) : "not judged (the load did not reach capacity)"));
  }
  const Result* limit = Find(results, Result::Kind::kLimitCombined);
  if (burn && limit) {
    const double x = burn->tasks_per_s / limit->tasks_per_s;
    std::string line = "burn-down ≥ 80% of the machine's limit ((a) and (b) at the same time, " +
                       Thousands(limit->tasks_per_s) + "/s): " + Format("%.0f%%", x * 100) + " — " +
                       Verdict(x >= 0.8);
    if (limit->limit_alone) {
      line += " (of the lower figure alone, " + Thousands(*limit->limit_alone) + "/s: " +
              Format("%.0f%%", burn->tasks_per_s / *limit->limit_alone * 100) + ")";
    }
    lines.push_back(line);
  }
  int64_t idle = 0;
  for (const auto& r : results) {
    if (!r.failed && r.idle_rss_kb) idle = std::max(idle, *r.idle_rss_kb);
  }
  if (idle > 0) {
    lines.push_back("idle worker RSS ≤ 30 MiB: " + Mib(idle) + " — " + Verdict(idle <= 30 * 1024));
  }
  for (const auto& r : results) {
    if (r.failed || !r.idle_rss_kb || !r.end_rss_kb) continue;
    lines.push_back("worker RSS flat (" + r.label + "): " + Mib(*r.idle_rss_kb) + " idle → " +
                    Mib(*r.end_rss_kb) + " after " + Thousands(static_cast<double>(r.tasks)) +
                    " tasks (judge on a long run: --steady-seconds 600)");
  }
  const Result* small = nullptr;
  const Result* big = nullptr;
  for (const auto& r : results) {
    if (r.failed || r.kind != Result::Kind::kFilaBacklog) continue;
    (r.tasks == kBacklogReference ? small : big) = &r;
  }
  if (small && big) {
    const double ratio = big->tasks_per_s / small->tasks_per_s;
    lines.push_back("burn-down of " + Thousands(static_cast<double>(big->tasks)) +
                    " within 20% of " + Thousands(static_cast<double>(small->tasks)) +
                    " in tasks/s: " + Format("%.0f%%", ratio * 100) + " — " +
                    Verdict(std::fabs(ratio - 1) <= 0.2));
  }
  if (lines.empty()) return;
  out << "\nTargets:\n\n";
  for (const auto& line : lines) out << "- " << line << "\n";
}

}  // namespace

void PrintReport(const std::vector<Result>& results, const Options& options, std::ostream& out) {
  const Result* raw = Find(results, Result::Kind::kRawBroker);
  const Result* celery = Find(results, Result::Kind::kCelery);
  const Result* celery_pg = Find(results, Result::Kind::kCeleryPg);
  auto ratio = [](const Result& r, const Result* reference, const char* format, double scale) {
    if (!Rated(r) || reference == nullptr) return std::string("—");
    return Format(format, r.tasks_per_s / reference->tasks_per_s * scale);
  };
  out << "| scenario | tasks/s | vs raw broker | vs Celery | vs Celery+pg | CPU s / 1k tasks |"
         " worker peak RSS | notes |\n";
  out << "|---|--:|--:|--:|--:|--:|--:|---|\n";
  for (const auto& r : results) {
    std::string notes;
    if (!r.goal.empty() && !r.failed) {
      notes = "goal " + r.goal + ": " + r.figure + " — " + (r.goal_met ? Verdict(*r.goal_met) : "not judged");
    }
    for (const auto& note : r.notes) notes += (notes.empty() ? "" : "; ") + note;
    out << "| " << Cell(r.label) << " | " << (r.failed ? "**FAILED**" : Thousands(r.tasks_per_s))
        << " | " << ratio(r, raw, "%.0f%%", 100) << " | " << ratio(r, celery, "%.1f×", 1) << " | "
        << ratio(r, celery_pg, "%.1f×", 1) << " | "
        << (r.cpu_s_per_1k && !r.failed ? Format("%.3f", *r.cpu_s_per_1k) : "—") << " | "
        << (r.peak_rss_kb && !r.failed ? Mib(*r.peak_rss_kb) : "—") << " | " << Cell(notes)
        << " |\n";
  }
  out << "\n"
      << options.workers << " fila-worker processes × " << options.concurrency
      << " slot threads; Celery: prefork with " << options.workers
      << " processes. CPU: fila-scheduler + fila-workers (Celery: its worker tree), not "
         "PostgreSQL or RabbitMQ. Durability on throughout: fsync, persistent messages, "
         "publisher confirms, ack after commit.\n";
  PrintTargets(results, out);
}

}  // namespace fila::bench
