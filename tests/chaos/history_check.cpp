#include "history_check.h"

#include <pqxx/pqxx>

#include <regex>
#include <set>
#include <sstream>

#include "fila/v1/payloads.pb.h"

namespace fila::chaos {
namespace {

const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

// A PostgreSQL array literal of `items`, each quoted.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// One violation of `kind` per row of `sql`, detailed as "column=value ...".
template <typename... Args>
void ViolationPerRow(pqxx::transaction_base& tx, Report& report, const std::string& kind,
                     const std::string& sql, Args&&... args) {
  for (const auto& row : tx.exec_params(sql, std::forward<Args>(args)...)) {
    std::string detail;
    for (const auto& field : row) {
      if (!detail.empty()) detail += ' ';
      detail += std::string(field.name()) + "=" + (field.is_null() ? "null" : field.c_str());
    }
    report.violations.push_back({kind, detail});
  }
}

constexpr const char* kTerminal = "('succeeded', 'failed', 'dead', 'cancelled')";

void CheckTasks(pqxx::transaction_base& tx, const CheckInput& input, Report& report) {
  std::vector<std::string> ids;
  for (const auto& e : input.enqueued) ids.push_back(e.id);
  const std::string acked = ArrayLiteral(ids);
  ViolationPerRow(tx, report, "lost",
                  "SELECT a.id AS task FROM unnest($1::uuid[]) a(id) LEFT JOIN tasks t ON t.id = a.id "
                  "WHERE t.id IS NULL",
                  acked);
  ViolationPerRow(tx, report, "stuck",
                  std::string("SELECT t.id AS task, t.state, t.attempt, t.run_at FROM tasks t WHERE "
                              "t.state IN ('queued', 'running') "
                              "OR (t.state = 'scheduled' AND t.run_at < now() - $1 * interval '1 second') "
                              "OR (t.state = 'blocked' AND NOT EXISTS (SELECT 1 FROM task_deps d "
                              "JOIN tasks p ON p.id = d.parent_id WHERE d.task_id = t.id "
                              "AND p.state NOT IN ") + kTerminal + ")) ORDER BY t.created_at",
                  static_cast<int64_t>(input.release_grace.count()));
  report.counts["tasks not acknowledged to a producer (roots)"] =
      tx.exec_params1("SELECT count(*) FROM tasks WHERE parent_id IS NULL AND id <> ALL($1::uuid[])", acked)[0]
          .as<int64_t>();
}

void CheckAttempts(pqxx::transaction_base& tx, Report& report) {
  ViolationPerRow(tx, report, "double-success",
                  "SELECT task_id AS task, count(*) AS successes FROM task_attempts "
                  "WHERE outcome = 'succeeded' GROUP BY task_id HAVING count(*) > 1");
  ViolationPerRow(tx, report, "stale-success",
                  "SELECT a.task_id AS task, a.attempt AS success_attempt, t.attempt AS final_attempt, t.state "
                  "FROM task_attempts a JOIN tasks t ON t.id = a.task_id "
                  "WHERE a.outcome = 'succeeded' AND (a.attempt <> t.attempt OR t.state <> 'succeeded')");
  ViolationPerRow(tx, report, "missing-success",
                  "SELECT t.id AS task, t.attempt FROM tasks t WHERE t.state = 'succeeded' AND NOT EXISTS "
                  "(SELECT 1 FROM task_attempts a WHERE a.task_id = t.id AND a.attempt = t.attempt "
                  "AND a.outcome = 'succeeded')");
  // (task_id, attempt) is the key: N rows between 1 and N are exactly 1..N.
  ViolationPerRow(tx, report, "attempt-gap",
                  "SELECT t.id AS task, t.state, t.attempt, count(a.attempt) AS rows, "
                  "min(a.attempt) AS first, max(a.attempt) AS last "
                  "FROM tasks t LEFT JOIN task_attempts a ON a.task_id = t.id GROUP BY t.id "
                  "HAVING count(a.attempt) <> t.attempt - (t.state = 'running')::int "
                  "OR coalesce(min(a.attempt), 1) < 1 "
                  "OR coalesce(max(a.attempt), 0) > t.attempt - (t.state = 'running')::int");
}

void CheckRefusals(pqxx::transaction_base& tx, const CheckInput& input, Report& report) {
  std::vector<std::string> workers, tasks, attempts;
  int64_t total = 0;
  for (const auto& w : input.workers) {
    for (const auto& r : w.refusals) {
      workers.push_back(r.worker);
      tasks.push_back(r.task_id);
      attempts.push_back(std::to_string(r.attempt));
    }
    total += static_cast<int64_t>(w.refusals.size());
    if (w.exit_stale >= 0 && w.exit_stale != static_cast<int64_t>(w.refusals.size())) {
      report.violations.push_back({"refused-count", "worker=" + w.worker + " exit_stale=" +
                                                        std::to_string(w.exit_stale) + " refusals_in_log=" +
                                                        std::to_string(w.refusals.size())});
    }
  }
  report.counts["late finishes refused (workers' logs)"] = total;
  // A refused finish is legitimate when its attempt was reaped, or when
  // the same worker's earlier commit of it landed (an answer lost on the
  // way back, then the commit tried again).
  ViolationPerRow(tx, report, "fence",
                  "SELECT r.worker, r.task, r.attempt, a.outcome AS recorded, a.worker AS recorded_by "
                  "FROM unnest($1::text[], $2::uuid[], $3::int[]) r(worker, task, attempt) "
                  "LEFT JOIN task_attempts a ON a.task_id = r.task AND a.attempt = r.attempt "
                  "WHERE a.task_id IS NULL OR (a.outcome <> 'lost' AND a.worker <> r.worker)",
                  ArrayLiteral(workers), ArrayLiteral(tasks), ArrayLiteral(attempts));
}

void CheckWorkflows(pqxx::transaction_base& tx, Report& report) {
  ViolationPerRow(tx, report, "orphan-child",
                  "SELECT c.id AS task, p.id AS parent, p.state AS parent_state FROM tasks c "
                  "JOIN tasks p ON p.id = c.parent_id WHERE p.state <> 'succeeded'");
  ViolationPerRow(tx, report, "dependency",
                  "SELECT d.task_id AS task, c.state, d.parent_id AS depends_on, p.state AS its_state "
                  "FROM task_deps d JOIN tasks c ON c.id = d.task_id JOIN tasks p ON p.id = d.parent_id "
                  "WHERE c.attempt > 0 AND p.state <> 'succeeded'");
  for (const auto& row : tx.exec(
           "SELECT t.id, t.payload, (SELECT count(*) FROM tasks c WHERE c.parent_id = t.id) "
           "FROM tasks t WHERE t.type = 'fanout' AND t.state = 'succeeded'")) {
    v1::FanoutPayload p;
    const pqxx::binarystring payload(row[1]);
    if (!p.ParseFromString(payload.str())) continue;  // refused at enqueue; not this check's
    const int64_t want = p.depth() > 0 ? p.width() + 1 : 0;
    const auto got = row[2].as<int64_t>();
    if (got != want) {
      report.violations.push_back({"children", "task=" + row[0].as<std::string>() + " children=" +
                                                   std::to_string(got) + " expected=" + std::to_string(want)});
    }
  }
}

void Count(pqxx::transaction_base& tx, Report& report, const std::string& prefix, const std::string& sql) {
  for (const auto& row : tx.exec(sql)) report.counts[prefix + row[0].as<std::string>()] = row[1].as<int64_t>();
}

}  // namespace

std::vector<Enqueued> ParseEnqueueLog(const std::string& text, Report& report) {
  std::vector<Enqueued> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Enqueued e;
    if (!(fields >> e.id >> e.key >> e.type >> e.via) || !std::regex_match(e.id, kUuid)) {
      report.violations.push_back({"malformed", "enqueue log line: " + line.substr(0, 200)});
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

WorkerLog ParseWorkerLog(const std::string& worker, const std::string& text) {
  static const std::regex kRefused("finish of task ([0-9a-f-]{36}) attempt ([0-9]+) was fenced out");
  static const std::regex kExit("worker (\\S+) stopped: .*\\bstale=([0-9]+)");
  WorkerLog log{worker, {}, -1};
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kRefused)) {
      log.refusals.push_back({worker, m[1], std::stoll(m[2])});
    } else if (std::regex_search(line, m, kExit) && m[1] == worker) {
      log.exit_stale = std::stoll(m[2]);
    }
  }
  return log;
}

void CheckHistory(const CheckInput& input, Report& report) {
  std::map<std::string, std::string> id_of_key;
  for (const auto& e : input.enqueued) {
    auto [it, fresh] = id_of_key.emplace(e.key, e.id);
    if (!fresh && it->second != e.id) {
      report.violations.push_back({"idempotency", "key=" + e.key + " ids=" + it->second + "," + e.id});
    }
    ++report.counts["enqueues acknowledged via " + e.via];
  }
  std::set<std::string> distinct;
  for (const auto& e : input.enqueued) distinct.insert(e.id);
  report.counts["tasks acknowledged to producers"] = static_cast<int64_t>(distinct.size());

  pqxx::connection conn(input.database_url);
  pqxx::read_transaction tx(conn);
  CheckTasks(tx, input, report);
  CheckAttempts(tx, report);
  CheckRefusals(tx, input, report);
  CheckWorkflows(tx, report);
  Count(tx, report, "tasks ", "SELECT state, count(*) FROM tasks GROUP BY 1 ORDER BY 1");
  Count(tx, report, "tasks of type ", "SELECT type, count(*) FROM tasks GROUP BY 1 ORDER BY 1");
  Count(tx, report, "attempts ", "SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1");
}

}  // namespace fila::chaos
