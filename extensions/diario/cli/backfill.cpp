#include "backfill.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/diario/backfill_store_pg.h"
#include "fila/diario/handler.h"
#include "fila/diario/tjro_index.h"
#include "fila/diario/tjro_site.h"
#include "fila/http/http_client.h"
#include "fila/store_postgres/postgres_key_limiter.h"

namespace fila::diario {
namespace {

// Tasks per enqueue (one transaction each): 5,000 editions are 26 small
// commits, never one large one.
constexpr int kBatch = 200;
constexpr int kMaxYears = 40;

Date Today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return Date::Parse(buf);
}

// The index of `year`: a past year's from the cache when there, else
// fetched (and cached once it parses); the current year's always fetched.
IndexParse ReadYear(BackfillStore& store, HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                    int year, int current_year, bool& fetched) {
  const std::string origin = options.tjro.Origin();
  fetched = false;
  if (year < current_year) {
    if (auto cached = store.CachedIndex("tjro", year)) return ParseTjroIndex(*cached, year, origin);
  }
  const std::string body = FetchTjroIndex(http, limiter, options, options.tjro, year, DeadlineIn(std::chrono::minutes(5)));
  fetched = true;
  IndexParse parsed = ParseTjroIndex(body, year, origin);
  store.SaveIndex("tjro", year, body, static_cast<int>(parsed.editions.size()),
                  static_cast<int>(parsed.rejected.size()));
  return parsed;
}

TaskRequest EditionTask(const CliInvocation& args, const Edition& e) {
  TaskRequest r;
  r.type = "diario.process";
  r.queue = args.Text("--queue");
  r.priority = args.Number("--priority");
  r.tenant = args.Text("--tenant", "default");
  r.idempotency_key = "diario.process:tjro:" + e.Key();
  r.retry_base_ms = args.Number("--retry-base-ms");
  r.retry_cap_ms = args.Number("--retry-cap-ms");
  r.payload_form = TaskRequest::PayloadForm::kJson;
  r.payload = nlohmann::json{{"tribunal", "tjro"},
                             {"date", e.date.Iso()},
                             {"edition_number", e.number},
                             {"edition_suffix", e.suffix},
                             {"path", e.path},
                             {"use_llm", args.Flag("--use-llm")}}
                  .dump();
  return r;
}

struct Counts {
  int64_t created = 0;
  int64_t existing = 0;
};

// Enqueues the plan's editions without a task, a batch at a time: each
// batch is one enqueue (one transaction) and then recorded. A stop
// between the two leaves tasks the plan does not know yet: the next run
// enqueues them again, finds them by their idempotency keys and records
// them.
void EnqueuePlanned(const CliInvocation& args, BackfillStore& store, int64_t id, Counts& counts) {
  while (true) {
    const std::vector<Edition> batch = store.Unqueued(id, kBatch);
    if (batch.empty()) return;
    std::vector<TaskRequest> tasks;
    for (const auto& e : batch) tasks.push_back(EditionTask(args, e));
    const auto results = args.enqueue(tasks);
    std::vector<std::pair<std::string, std::string>> linked;
    for (size_t i = 0; i < batch.size() && i < results.size(); ++i) {
      (results[i].created ? counts.created : counts.existing)++;
      linked.emplace_back(batch[i].Key(), results[i].id);
    }
    store.MarkQueued(id, linked);
  }
}

}  // namespace

void Backfill(const CliInvocation& args) {
  if (args.database_url.empty()) {
    throw PermanentError("fila diario backfill keeps its plan in the database: set --database-url or "
                         "FILA_DATABASE_URL", "database-url");
  }
  const auto tribunal = MakeTribunal(args.Text("--tribunal"));
  if (tribunal->Code() != "tjro") {
    throw PermanentError("only tjro has an index to backfill from", "tribunal");
  }
  const Date today = Today();
  const Date from = Date::Parse(args.Text("--from"), "from");
  const std::string to_arg = args.Text("--to");
  const Date to = to_arg == "today" ? today : Date::Parse(to_arg, "to");
  if (to < from) throw PermanentError("--to is before --from", "to");
  if (to.year - from.year >= kMaxYears) {
    throw PermanentError("a backfill covers at most " + std::to_string(kMaxYears) + " years; split the range", "to");
  }
  const DiarioOptions options = DiarioOptions::FromEnv();
  auto store = MakePostgresBackfillStore(args.database_url);
  auto http = MakeHttpClient();
  // The same limiter and key as the workers': the index reads take their
  // turn with every worker's downloads.
  auto limiter = MakePostgresKeyLimiter(args.database_url);
  const int64_t id = store->Open({.tenant = args.Text("--tenant", "default"),
                                  .tribunal = "tjro",
                                  .from = from,
                                  .to = to,
                                  .to_arg = to_arg,
                                  .queue = args.Text("--queue")});
  std::cout << "diario backfill #" << id << " tjro " << from.Iso() << ".." << to.Iso() << " (index "
            << options.tjro.index_url << ")\n";
  Counts counts;
  EnqueuePlanned(args, *store, id, counts);  // what a stopped run left recorded but not enqueued
  int64_t discovered = 0;
  for (int year = from.year; year <= to.year; ++year) {
    bool fetched = false;
    IndexParse index = ReadYear(*store, *http, *limiter, options, year, today.year, fetched);
    std::vector<Edition> in_range;
    for (auto& e : index.editions) {
      if (!(e.date < from) && !(to < e.date)) in_range.push_back(std::move(e));
    }
    if (year == today.year && !(to < today)) {
      // The latest issue may be newer than the index (best effort).
      try {
        if (auto latest = FetchTjroLatest(*http, *limiter, options, options.tjro, DeadlineIn(std::chrono::minutes(1)));
            latest && latest->date.year == year && !(latest->date < from) && !(to < latest->date)) {
          bool known = false;
          for (const auto& e : in_range) known = known || e.Key() == latest->Key();
          if (!known) in_range.push_back(*latest);
        }
      } catch (const Error& e) {
        std::cerr << "warning: ultimo-diario.php: " << e.what() << "\n";
      }
    }
    const int64_t added = store->AddYear(id, in_range, static_cast<int>(index.rejected.size()));
    discovered += static_cast<int64_t>(in_range.size());
    std::cout << "  " << year << ": " << in_range.size() << " editions (" << added << " new"
              << (index.rejected.empty() ? "" : ", " + std::to_string(index.rejected.size()) + " entries set aside")
              << (fetched ? ", index fetched" : ", index from cache") << ")\n";
    for (size_t i = 0; i < index.rejected.size() && i < 5; ++i) std::cout << "    set aside: " << index.rejected[i] << "\n";
    EnqueuePlanned(args, *store, id, counts);
  }
  store->SetState(id, "planned");
  std::cout << "diario backfill tjro " << from.Iso() << ".." << to.Iso() << ": " << discovered << " editions, "
            << counts.created << " enqueued, " << counts.existing << " already there\n";
}

std::string BackfillsJson(const std::string& database_url, const std::string& tenant) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : MakePostgresBackfillStore(database_url)->Progress(tenant)) {
    out.push_back({{"id", p.id},
                   {"tenant", p.tenant},
                   {"tribunal", p.tribunal},
                   {"from", p.from},
                   {"to", p.to},
                   {"state", p.state},
                   {"years_read", p.years_read},
                   {"index_entries_set_aside", p.rejected},
                   {"discovered", p.discovered},
                   {"queued", p.queued},
                   {"done", p.done},
                   {"no_gazette", p.no_gazette},
                   {"failed", p.failed},
                   {"pending", p.pending},
                   {"cancelled", p.cancelled},
                   {"updated_at", p.updated_at}});
  }
  return nlohmann::json{{"backfills", out}}.dump(2);
}

void Status(const CliInvocation& args) {
  if (args.Flag("--json")) {
    std::cout << BackfillsJson(args.database_url, args.Text("--tenant")) << "\n";
    return;
  }
  auto store = MakePostgresBackfillStore(args.database_url);
  const auto all = store->Progress(args.Text("--tenant"));
  if (all.empty()) {
    std::cout << "no diario backfill yet\n";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-4s %-10s %-6s %-23s %-9s %10s %7s %7s %10s %7s %8s\n", "id", "tenant",
                "trib.", "range", "state", "discovered", "queued", "done", "no gazette", "failed", "pending");
  std::cout << line;
  for (const auto& p : all) {
    std::snprintf(line, sizeof line, "%-4lld %-10.10s %-6.6s %-23s %-9s %10lld %7lld %7lld %10lld %7lld %8lld\n",
                  static_cast<long long>(p.id), p.tenant.c_str(), p.tribunal.c_str(), (p.from + ".." + p.to).c_str(),
                  p.state.c_str(), static_cast<long long>(p.discovered), static_cast<long long>(p.queued),
                  static_cast<long long>(p.done), static_cast<long long>(p.no_gazette),
                  static_cast<long long>(p.failed), static_cast<long long>(p.pending));
    std::cout << line;
  }
}

}  // namespace fila::diario
