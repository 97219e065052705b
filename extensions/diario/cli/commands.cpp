#include "commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/diario/diario_store_pg.h"
#include "fila/diario/tribunal.h"

namespace fila::diario {
namespace {

constexpr size_t kChunk = 500;
constexpr int kMaxDays = 20 * 366;

void Backfill(const CliInvocation& args) {
  const auto tribunal = MakeTribunal(args.Text("--tribunal"));
  const auto from = Date::Parse(args.Text("--from"), "from");
  const auto to = Date::Parse(args.Text("--to"), "to");
  if (to < from) throw PermanentError("--to is before --from", "to");
  std::vector<TaskRequest> tasks;
  for (auto day = from; day <= to; day = day.Next()) {
    if (tasks.size() >= static_cast<size_t>(kMaxDays)) {
      throw PermanentError("a backfill covers at most 20 years; split the range", "to");
    }
    TaskRequest r;
    r.type = "diario.process";
    r.queue = args.Text("--queue");
    r.priority = args.Number("--priority");
    r.tenant = args.Text("--tenant", "default");
    r.idempotency_key = "diario.process:" + tribunal->Code() + ":" + day.Iso();
    r.payload_form = TaskRequest::PayloadForm::kJson;
    r.payload = nlohmann::json{{"tribunal", tribunal->Code()}, {"date", day.Iso()}, {"use_llm", args.Flag("--use-llm")}}
                    .dump();
    tasks.push_back(std::move(r));
  }
  int64_t created = 0;
  int64_t existing = 0;
  for (size_t first = 0; first < tasks.size(); first += kChunk) {
    std::vector<TaskRequest> chunk(tasks.begin() + static_cast<std::ptrdiff_t>(first),
                               tasks.begin() + static_cast<std::ptrdiff_t>(std::min(tasks.size(), first + kChunk)));
    for (const auto& result : args.enqueue(chunk)) (result.created ? created : existing)++;
  }
  std::cout << "diario backfill " << tribunal->Code() << " " << from.Iso() << ".." << to.Iso() << ": " << created
            << " enqueued, " << existing << " already there\n";
}

void Stats(const CliInvocation& args) {
  const DiarioStats s = LoadDiarioStats(args.database_url);
  if (args.Flag("--json")) {
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
                                {"invalid_numbers", s.invalid_numbers}}
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
            << ", decisions found " << s.decisions << ", invalid process numbers " << s.invalid_numbers << "\n";
}

}  // namespace

std::vector<CliCommand> Commands() {
  using Kind = CliOption::Kind;
  return {
      {.path = {"diario"}, .help = "diario.process: court gazettes"},
      {.path = {"diario", "backfill"},
       .help = "Enqueue one diario.process task per day (idempotent)",
       .options = {{"--tribunal", "Tribunal, e.g. tjro", Kind::kText, true},
                   {"--from", "First day, YYYY-MM-DD", Kind::kText, true},
                   {"--to", "Last day, YYYY-MM-DD (inclusive)", Kind::kText, true},
                   {"--queue", "Queue (default: diario)"},
                   {"--priority", "0 (lowest) to 9 (highest)", Kind::kNumber},
                   {"--tenant", "Tenant owning the tasks"},
                   {"--use-llm", "Also run the LLM step", Kind::kFlag}},
       .run = Backfill},
      {.path = {"diario", "stats"},
       .help = "diario.process's figures: tasks by outcome, gazettes, decisions",
       .options = {{"--json", "Print JSON", Kind::kFlag}},
       .database_only = true,
       .stats_of_type = "diario.process",
       .run = Stats},
  };
}

}  // namespace fila::diario
