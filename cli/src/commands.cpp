#include "commands.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "fila/core/clock.h"
#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/core/tenant.h"
#include "fila/core/time_text.h"
#include "fila/core/type_store.h"
#include "fila/store_postgres/migrator.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/type_store_pg.h"
#include "guard.h"
#include "render.h"

namespace fila::cli {
namespace {

constexpr uint32_t kEnqueueChunk = 1000;

std::string ReadPayload(const EnqueueArgs& args) {
  if (args.payload_file.empty()) return args.payload_json;
  if (args.payload_file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(args.payload_file, std::ios::binary);
  if (!in) throw PermanentError("cannot read payload file '" + args.payload_file + "'", "payload-file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The request as the user gave it; the backend prepares it (once).
TaskRequest BuildRequest(const EnqueueArgs& args) {
  if (!args.idempotency_key.empty() && args.count > 1) {
    throw PermanentError("--idempotency-key names one task; it cannot be used with --count",
                         "idempotency-key");
  }
  TaskRequest r;
  r.type = args.type;
  r.queue = args.queue;
  r.priority = args.priority;
  r.max_attempts = args.max_attempts;
  r.timeout_ms = args.timeout_ms;
  r.retry_base_ms = args.retry_base_ms;
  r.retry_cap_ms = args.retry_cap_ms;
  r.tenant = args.tenant;
  r.idempotency_key = args.idempotency_key;
  r.payload = ReadPayload(args);
  r.payload_form = TaskRequest::PayloadForm::kJson;
  if (!args.delay.empty()) r.delay_ms = ParseDuration(args.delay, "delay");
  if (!args.at.empty()) r.run_at_ms = ParseTimestamp(args.at, "at");
  r.depends_on = args.depends_on;
  if (!args.limit_key.empty()) r.limit_key = args.limit_key;
  r.limit_concurrency = args.limit_concurrency;
  if (!args.limit_rate.empty()) {
    // N/period: "60/1m" is 60 starts a minute.
    const auto slash = args.limit_rate.find('/');
    const std::string count = args.limit_rate.substr(0, slash);
    if (slash == std::string::npos || count.empty() ||
        count.find_first_not_of("0123456789") != std::string::npos || count.size() > 9) {
      throw PermanentError("--limit-rate takes N/period, e.g. 60/1m", "limit-rate");
    }
    r.limit_rate = std::stoll(count);
    r.limit_period_ms = ParseDuration(args.limit_rate.substr(slash + 1), "limit-rate");
  }
  return r;
}

}  // namespace

int Migrate(const std::string& database_url, const std::string& direction) {
  return Guard("database " + RedactUrl(database_url), [&] {
    Migrator migrator(database_url);
    if (direction == "up") {
      auto applied = migrator.Up();
      std::cout << (applied.empty() ? "schema is up to date" : "applied " + std::to_string(applied.size()) + " migration(s)")
                << " (version " << RequiredSchemaVersion() << ")\n";
    } else if (direction == "down") {
      auto reverted = migrator.Down();
      std::cout << (reverted ? "reverted migration " + std::to_string(*reverted) : "nothing to revert")
                << "\n";
    } else {
      for (const auto& s : migrator.Status()) {
        char line[160];
        std::snprintf(line, sizeof(line), "%04d  %-24s  %s", s.version, s.name.c_str(),
                      s.applied ? ("applied " + s.applied_at).c_str() : "pending");
        std::cout << line << "\n";
      }
    }
    return kOk;
  });
}

namespace {

std::string g_types_database;

// Registered types come from the database the CLI talks to, when it does.
TaskTypes WithRegistered(TaskTypes types) {
  if (!g_types_database.empty()) {
    std::shared_ptr<TypeStore> store = MakePostgresTypeStore(g_types_database, 1);
    types.SetLoader([store] { return LoadRegisteredTypes(*store); }, std::chrono::seconds(0),
                    std::chrono::hours(1));
  }
  return types;
}

}  // namespace

void UseTypesOf(const std::string& database_url) { g_types_database = database_url; }

TaskTypes EnqueueTypes() {
  return WithRegistered(
      TaskTypes::Builtin(EnvFlag("FILA_ENABLE_TEST_TYPES") ? TestTypes::kEnabled : TestTypes::kDisabled));
}

TaskTypes DisplayTypes() { return WithRegistered(TaskTypes::Builtin(TestTypes::kEnabled)); }

int Enqueue(Backend& backend, const EnqueueArgs& args) {
  return Guard(backend.Describe(), [&] {
    const TaskRequest request = BuildRequest(args);
    for (uint32_t done = 0; done < args.count; done += kEnqueueChunk) {
      std::string out;
      for (const auto& r : backend.Submit(request, std::min(kEnqueueChunk, args.count - done))) {
        out += r.id;
        if (!r.created) out += " (existing, " + std::string(ToString(r.state)) + ")";
        out += '\n';
      }
      std::cout << out;
    }
    return kOk;
  });
}

int Get(Backend& backend, const std::string& id, bool json) {
  return Guard(backend.Describe(), [&] {
    auto task = backend.Get(id);
    if (!task) {
      spdlog::error("error: no task with id '{}'", id);
      return kUsage;
    }
    TaskTypes types = DisplayTypes();
    std::cout << (json ? Dump(TaskJson(*task, types)) + "\n" : TaskText(*task, types));
    return kOk;
  });
}

int GetTree(Backend& backend, const std::string& id, bool json) {
  return Guard(backend.Describe(), [&] {
    auto nodes = backend.Tree(id);
    if (nodes.empty()) {
      spdlog::error("error: no task with id '{}'", id);
      return kUsage;
    }
    std::cout << (json ? Dump(TreeJson(nodes)) + "\n" : TreeText(nodes));
    return kOk;
  });
}

int List(Backend& backend, const ListArgs& args) {
  return Guard(backend.Describe(), [&] {
    ListFilter filter;
    if (!args.state.empty()) {
      filter.state = ParseTaskState(args.state);
      if (!filter.state) throw PermanentError("unknown state '" + args.state + "'", "state");
    }
    filter.type = args.type;
    filter.queue = args.queue;
    filter.limit = args.limit;
    auto tasks = backend.List(filter);
    if (args.json) {
      TaskTypes types = DisplayTypes();
      nlohmann::json out = nlohmann::json::array();
      for (const auto& t : tasks) out.push_back(TaskJson(t, types));
      std::cout << Dump(out) << "\n";
    } else {
      for (const auto& t : tasks) std::cout << TaskRow(t) << "\n";
    }
    return kOk;
  });
}

int Stats(Backend& backend, bool json) {
  return Guard(backend.Describe(), [&] {
    auto counts = backend.Counts();
    std::cout << (json ? Dump(StatsJson(counts)) + "\n" : StatsText(counts));
    return kOk;
  });
}

int Wait(Backend& backend, double timeout_s) {
  return Guard(backend.Describe(), [&] {
    const auto deadline =
        SteadyClock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    while (true) {
      int64_t active = backend.CountActive();
      if (active == 0) return kOk;
      if (SteadyClock::now() >= deadline) {
        spdlog::error("error: {} tasks still queued, scheduled or running after {} s", active,
                      timeout_s);
        return kFailure;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

}  // namespace fila::cli

namespace fila::cli {

int Cancel(Backend& backend, const std::string& id) {
  return Guard(backend.Describe(), [&] {
    auto r = backend.Cancel(id);
    if (!r.found) {
      spdlog::error("error: no task with id '{}'", id);
      return kUsage;
    }
    if (r.state == TaskState::kCancelled && r.changed) {
      std::cout << id << " cancelled\n";
    } else if (r.state == TaskState::kRunning) {
      std::cout << id << " is running: cancellation requested, its worker stops it\n";
    } else {
      std::cout << id << " is already " << ToString(r.state) << "\n";
    }
    return kOk;
  });
}

int Retry(Backend& backend, const std::string& id) {
  return Guard(backend.Describe(), [&] {
    auto r = backend.Replay(id);
    if (!r.found) {
      spdlog::error("error: no task with id '{}'", id);
      return kUsage;
    }
    if (!r.changed) {
      spdlog::error("error: task {} is {}; only failed, dead or cancelled tasks can be retried", id,
                    ToString(r.state));
      return kUsage;
    }
    std::cout << id << " queued again\n";
    return kOk;
  });
}

int RetryDead(Backend& backend, const std::string& type) {
  return Guard(backend.Describe(), [&] {
    std::cout << "queued " << backend.ReplayDead(type) << " dead task(s) again\n";
    return kOk;
  });
}

}  // namespace fila::cli

namespace fila::cli {

int TokensCreate(const std::string& database_url, const std::string& tenant, const std::string& role) {
  return Guard("database " + RedactUrl(database_url), [&] {
    ValidateTenantName(tenant);
    PostgresStore store(database_url);
    store.RequireSchema();
    auto [info, token] = store.CreateToken(tenant, role);
    std::cout << token << "\n";
    spdlog::info("token {} for tenant '{}' ({}); it is shown only now", info.id, info.tenant, info.role);
    return kOk;
  });
}

int TokensList(const std::string& database_url, bool json) {
  return Guard("database " + RedactUrl(database_url), [&] {
    PostgresStore store(database_url);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : store.ListTokens()) {
      if (json) {
        out.push_back({{"id", t.id}, {"tenant", t.tenant}, {"role", t.role},
                       {"created_at", FormatTime(t.created_at_ms)},
                       {"revoked_at", FormatTime(t.revoked_at_ms)}});
      } else {
        std::cout << t.id << "  " << t.role << "  " << t.tenant << "  " << FormatTime(t.created_at_ms)
                  << (t.revoked_at_ms ? "  revoked " + FormatTime(t.revoked_at_ms) : "") << "\n";
      }
    }
    if (json) std::cout << Dump(out) << "\n";
    return kOk;
  });
}

int TokensRevoke(const std::string& database_url, const std::string& id) {
  return Guard("database " + RedactUrl(database_url), [&] {
    PostgresStore store(database_url);
    if (!store.RevokeToken(id)) {
      spdlog::error("error: no live token with id '{}'", id);
      return kUsage;
    }
    std::cout << "revoked " << id << "\n";
    return kOk;
  });
}

}  // namespace fila::cli
