#include "commands.h"

#include "backfill.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/diario/diario_store_pg.h"
#include "fila/diario/tribunal.h"

namespace fila::diario {
namespace {

// "12.5 %", or "-" for a share of nothing.
std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

nlohmann::json Share(int64_t part, int64_t whole) {
  return whole > 0 ? nlohmann::json(static_cast<double>(part) / static_cast<double>(whole)) : nlohmann::json();
}

// A URL-only gazette's source may be long: cut for the table.
std::string Cut(const std::string& s, size_t max) { return s.size() <= max ? s : s.substr(0, max - 3) + "..."; }

void Stats(const CliInvocation& args) {
  const int64_t listed = args.Number("--gazettes").value_or(10);
  if (listed < 0 || listed > 1000) throw PermanentError("--gazettes must be 0 to 1000", "gazettes");
  const DiarioStats s = LoadDiarioStats(args.database_url, "diario.process", static_cast<int>(listed));
  if (args.Flag("--json")) {
    nlohmann::json latest = nlohmann::json::array();
    for (const auto& g : s.latest) {
      latest.push_back({{"tenant", g.tenant},
                        {"tribunal", g.tribunal},
                        {"source", g.source},
                        {"date", g.date},
                        {"decisions", g.decisions},
                        {"unknown_outcomes", g.unknown},
                        {"unknown_share", Share(g.unknown, g.decisions)}});
    }
    std::cout << nlohmann::json{{"type", "diario.process"},
                                {"done", s.done},
                                {"no_gazette", s.no_gazette},
                                {"failed", s.failed},
                                {"pending", s.pending},
                                {"cancelled", s.cancelled},
                                {"gazettes", s.gazettes},
                                {"pages", s.pages},
                                {"entries", s.entries},
                                {"decisions", s.decisions},
                                {"invalid_numbers", s.invalid_numbers},
                                {"unknown_outcomes", s.unknown_outcomes},
                                {"unknown_share", Share(s.unknown_outcomes, s.decisions)},
                                {"latest_gazettes", latest}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "diario.process tasks\n"
            << "  done        " << s.done << "\n"
            << "  no gazette  " << s.no_gazette << "\n"
            << "  failed      " << s.failed << "\n"
            << "  pending     " << s.pending << "\n"
            << "  cancelled   " << s.cancelled << "\n"
            << "gazettes " << s.gazettes << ", pages " << s.pages << ", docket entries " << s.entries
            << ", decisions found " << s.decisions << ", invalid process numbers " << s.invalid_numbers << "\n"
            << "outcome unknown (desconhecido) " << s.unknown_outcomes << " of " << s.decisions << " decisions ("
            << Percent(s.unknown_outcomes, s.decisions) << ")\n";
  if (s.latest.empty()) return;
  std::cout << "latest " << s.latest.size() << " gazettes\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-8s %-12s %-40s %9s %8s %8s\n", "tribunal", "tenant", "gazette", "decisions",
                "unknown", "share");
  std::cout << line;
  for (const auto& g : s.latest) {
    std::snprintf(line, sizeof line, "  %-8s %-12s %-40s %9lld %8lld %8s\n", Cut(g.tribunal, 8).c_str(),
                  Cut(g.tenant, 12).c_str(), Cut(g.source, 40).c_str(), static_cast<long long>(g.decisions),
                  static_cast<long long>(g.unknown), Percent(g.unknown, g.decisions).c_str());
    std::cout << line;
  }
}

}  // namespace

std::vector<CliCommand> Commands() {
  using Kind = CliOption::Kind;
  return {
      {.path = {"diario"}, .help = "diario.process: court gazettes"},
      {.path = {"diario", "backfill"},
       .help = "Enqueue one diario.process task per edition in the tribunal's index (resumable, idempotent)",
       .options = {{"--tribunal", "Tribunal, e.g. tjro", Kind::kText, true},
                   {"--from", "First day, YYYY-MM-DD", Kind::kText, true},
                   {"--to", "Last day, YYYY-MM-DD (inclusive), or today", Kind::kText, true},
                   {"--queue", "Queue (default: diario)"},
                   {"--priority", "0 (lowest) to 9 (highest)", Kind::kNumber},
                   {"--tenant", "Tenant owning the tasks"},
                   {"--use-llm", "Also run the LLM step", Kind::kFlag},
                   {"--retry-base-ms", "First retry delay of each task (default: the type's, 30 s)", Kind::kNumber},
                   {"--retry-cap-ms", "Longest retry delay (default: the type's, 10 min)", Kind::kNumber}},
       .run = Backfill},
      {.path = {"diario", "status"},
       .help = "Progress of the diario backfills: editions discovered, queued, done, no gazette, failed",
       .options = {{"--json", "Print JSON", Kind::kFlag}, {"--tenant", "Only this tenant's backfills"}},
       .database_only = true,
       .run = Status},
      {.path = {"diario", "stats"},
       .help = "diario.process's figures: tasks by outcome, gazettes, decisions, outcomes left unknown",
       .options = {{"--json", "Print JSON", Kind::kFlag},
                   {"--gazettes", "How many of the latest gazettes to list (default 10, 0 to 1000)", Kind::kNumber}},
       .database_only = true,
       .stats_of_type = "diario.process",
       .run = Stats},
  };
}

}  // namespace fila::diario
