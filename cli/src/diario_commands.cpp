#include "diario_commands.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <vector>

#include "commands.h"
#include "fila/diario/tribunal.h"
#include "fila/diario_store_pg.h"
#include "fila/errors.h"
#include "fila/task_request.h"
#include "fila/task_types.h"
#include "guard.h"

namespace fila::cli {
namespace {

constexpr size_t kChunk = 500;
constexpr int kMaxDays = 20 * 366;

}  // namespace

int DiarioBackfill(Backend& backend, const DiarioBackfillArgs& args) {
  return Guard(backend.Describe(), [&] {
    const auto tribunal = diario::MakeTribunal(args.tribunal);
    const auto from = diario::Date::Parse(args.from, "from");
    const auto to = diario::Date::Parse(args.to, "to");
    if (to < from) throw PermanentError("--to is before --from", "to");
    const TaskTypes types = EnqueueTypes();
    std::vector<NewTask> tasks;
    for (auto day = from; day <= to; day = day.Next()) {
      if (tasks.size() >= static_cast<size_t>(kMaxDays)) {
        throw PermanentError("a backfill covers at most 20 years; split the range", "to");
      }
      TaskRequest r;
      r.type = "diario.process";
      r.queue = args.queue;
      r.priority = args.priority;
      r.tenant = args.tenant;
      r.idempotency_key = "diario.process:" + tribunal->Code() + ":" + day.Iso();
      r.payload_form = TaskRequest::PayloadForm::kJson;
      r.payload = nlohmann::json{{"tribunal", tribunal->Code()}, {"date", day.Iso()}, {"use_llm", args.use_llm}}
                      .dump();
      tasks.push_back(PrepareTask(r, types, TaskLimits{}));
    }
    int64_t created = 0;
    int64_t existing = 0;
    for (size_t first = 0; first < tasks.size(); first += kChunk) {
      std::vector<NewTask> chunk(tasks.begin() + static_cast<std::ptrdiff_t>(first),
                                 tasks.begin() + static_cast<std::ptrdiff_t>(std::min(tasks.size(), first + kChunk)));
      for (const auto& result : backend.Enqueue(chunk)) (result.created ? created : existing)++;
    }
    std::cout << "diario backfill " << tribunal->Code() << " " << from.Iso() << ".." << to.Iso() << ": "
              << created << " enqueued, " << existing << " already there\n";
    return kOk;
  });
}

int DiarioStatsCommand(const std::string& database_url, bool json) {
  return Guard("database", [&] {
    if (database_url.empty()) {
      throw PermanentError("stats --type diario.process reads the database: set --database-url", "database-url");
    }
    const DiarioStats s = LoadDiarioStats(database_url);
    if (json) {
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
      return kOk;
    }
    std::cout << "diario.process tasks\n"
              << "  done        " << s.done << "\n"
              << "  no gazette  " << s.no_gazette << "\n"
              << "  failed      " << s.failed << "\n"
              << "  pending     " << s.pending << "\n"
              << "  cancelled   " << s.cancelled << "\n"
              << "gazettes " << s.gazettes << ", pages " << s.pages << ", docket entries " << s.entries
              << ", decisions found " << s.decisions << ", invalid process numbers " << s.invalid_numbers
              << "\n";
    return kOk;
  });
}

}  // namespace fila::cli
