#include "render.h"


#include <ctime>
#include <functional>
#include <map>
#include <sstream>

namespace fila::cli {
namespace {

constexpr TaskState kColumns[] = {TaskState::kQueued,    TaskState::kScheduled, TaskState::kRunning,
                                  TaskState::kSucceeded, TaskState::kFailed,    TaskState::kDead,
                                  TaskState::kCancelled, TaskState::kBlocked};

nlohmann::json PayloadJson(const TaskView& task, const TaskTypes& types) {
  if (!types.Contains(task.type, task.type_version)) return nullptr;
  auto parsed =
      nlohmann::json::parse(types.PayloadToJson(task.type, task.payload, task.type_version), nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

}  // namespace

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

nlohmann::json TaskJson(const TaskView& t, const TaskTypes& types) {
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& a : t.attempts) {
    attempts.push_back({{"attempt", a.attempt},
                        {"worker", a.worker},
                        {"outcome", a.outcome},
                        {"error", a.error},
                        {"error_kind", a.error_kind},
                        {"started_at", FormatTime(a.started_at_ms)},
                        {"finished_at", FormatTime(a.finished_at_ms)},
                        {"retry_at", FormatTime(a.retry_at_ms)}});
  }
  return {{"id", t.id},
          {"type", t.type},
          {"queue", t.queue},
          {"priority", t.priority},
          {"state", ToString(t.state)},
          {"attempt", t.attempt},
          {"max_attempts", t.max_attempts},
          {"timeout_ms", t.timeout_ms},
          {"tenant", t.tenant},
          {"idempotency_key", t.idempotency_key},
          {"payload", PayloadJson(t, types)},
          {"trace_id", t.trace_id},
          {"worker", t.worker},
          {"last_error", t.last_error},
          {"result", t.result.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.result)},
          {"progress", {{"percent", t.progress}, {"message", t.progress_message}}},
          {"created_at", FormatTime(t.created_at_ms)},
          {"run_at", FormatTime(t.run_at_ms)},
          {"started_at", FormatTime(t.started_at_ms)},
          {"finished_at", FormatTime(t.finished_at_ms)},
          {"cancel_requested", t.cancel_requested},
          {"attempts", attempts}};
}

std::string TaskText(const TaskView& t, const TaskTypes& types) {
  std::ostringstream out;
  out << "id:        " << t.id << "\n"
      << "type:      " << t.type << (t.type_version > 0 ? "  v" + std::to_string(t.type_version) : "") << "\n"
      << "queue:     " << t.queue << "  priority " << t.priority << "\n"
      << "state:     " << ToString(t.state) << "\n"
      << "attempt:   " << t.attempt << " of " << t.max_attempts << "  (timeout " << t.timeout_ms
      << " ms)\n"
      << "tenant:    " << t.tenant << "\n";
  if (!t.idempotency_key.empty()) out << "key:       " << t.idempotency_key << "\n";
  out << "payload:   " << PayloadJson(t, types).dump() << "\n"
      << "progress:  " << t.progress << "%" << (t.progress_message.empty() ? "" : " " + t.progress_message)
      << "\n"
      << "created:   " << FormatTime(t.created_at_ms) << "\n";
  if (t.started_at_ms) out << "started:   " << FormatTime(t.started_at_ms) << "  on " << t.worker << "\n";
  if (t.finished_at_ms) out << "finished:  " << FormatTime(t.finished_at_ms) << "\n";
  if (t.state == TaskState::kScheduled) out << "next run:  " << FormatTime(t.run_at_ms) << "\n";
  if (!t.result.empty()) out << "result:    " << t.result << "\n";
  if (!t.attempts.empty()) {
    out << "attempts:\n";
    for (const auto& a : t.attempts) {
      out << "  #" << a.attempt << " " << a.outcome << " on " << a.worker << " at "
          << FormatTime(a.finished_at_ms);
      if (!a.error.empty()) out << " [" << a.error_kind << "] " << a.error;
      if (a.retry_at_ms) out << "; retry at " << FormatTime(a.retry_at_ms);
      out << "\n";
    }
  }
  return out.str();
}

std::string TaskRow(const TaskView& t) {
  char line[256];
  std::snprintf(line, sizeof(line), "%-36s  %-10s  %-16s  %-12s  p%u  a%u/%u  %s", t.id.c_str(),
                std::string(ToString(t.state)).c_str(), t.type.c_str(), t.queue.c_str(), t.priority,
                t.attempt, t.max_attempts, FormatTime(t.created_at_ms).c_str());
  return line;
}

nlohmann::json StatsJson(const std::vector<QueueStateCount>& counts) {
  nlohmann::json queues = nlohmann::json::object();
  for (const auto& c : counts) queues[c.queue][std::string(ToString(c.state))] = c.count;
  return {{"queues", queues}};
}

std::string StatsText(const std::vector<QueueStateCount>& counts) {
  std::map<std::string, std::map<TaskState, int64_t>> table;
  for (const auto& c : counts) table[c.queue][c.state] = c.count;
  std::ostringstream out;
  char cell[32];
  std::snprintf(cell, sizeof(cell), "%-16s", "queue");
  out << cell;
  for (TaskState s : kColumns) {
    std::snprintf(cell, sizeof(cell), " %10s", std::string(ToString(s)).c_str());
    out << cell;
  }
  out << "\n";
  for (const auto& [queue, by_state] : table) {
    std::snprintf(cell, sizeof(cell), "%-16s", queue.c_str());
    out << cell;
    for (TaskState s : kColumns) {
      auto it = by_state.find(s);
      std::snprintf(cell, sizeof(cell), " %10lld",
                    static_cast<long long>(it == by_state.end() ? 0 : it->second));
      out << cell;
    }
    out << "\n";
  }
  if (table.empty()) out << "(no tasks)\n";
  return out.str();
}

nlohmann::json TreeJson(const std::vector<TaskTreeNode>& nodes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& n : nodes) {
    out.push_back({{"id", n.id},
                   {"type", n.type},
                   {"state", ToString(n.state)},
                   {"parent_id", n.parent_id},
                   {"depth", n.depth},
                   {"depends_on", n.depends_on},
                   {"last_error", n.last_error}});
  }
  return out;
}

std::string TreeText(const std::vector<TaskTreeNode>& nodes) {
  // Depth-first, children under their parent, in the order they came.
  std::map<std::string, std::vector<const TaskTreeNode*>> children;
  for (const auto& n : nodes) children[n.parent_id].push_back(&n);
  std::ostringstream out;
  std::function<void(const TaskTreeNode&)> print = [&](const TaskTreeNode& n) {
    out << std::string(2 * n.depth, ' ') << n.id << "  " << n.type << "  " << ToString(n.state);
    if (!n.depends_on.empty()) {
      out << "  after";
      for (const auto& d : n.depends_on) out << " " << d.substr(0, 8);
    }
    if (!n.last_error.empty() && n.state != TaskState::kSucceeded) out << "  (" << n.last_error << ")";
    out << "\n";
    for (const auto* c : children[n.id]) print(*c);
  };
  if (!nodes.empty()) print(nodes.front());
  return out.str();
}

nlohmann::json ScheduleJson(const ScheduleView& s) {
  return {{"name", s.spec.name},         {"cron", s.spec.cron},
          {"timezone", s.spec.timezone}, {"type", s.spec.type},
          {"queue", s.spec.queue},       {"catch_up", s.spec.catch_up},
          {"paused", s.paused},          {"next_fire_at", FormatTime(s.next_fire_at_ms)},
          {"last_slot_at", FormatTime(s.last_slot_at_ms)},
          {"last_task_id", s.last_task_id},
          {"fired", s.fired},            {"missed", s.missed}};
}

std::string ScheduleRow(const ScheduleView& s) {
  std::ostringstream out;
  out << s.spec.name << "  \"" << s.spec.cron << "\" " << s.spec.timezone << "  " << s.spec.type
      << "  " << (s.paused ? "paused" : "next " + FormatTime(s.next_fire_at_ms))
      << "  fired " << s.fired << ", missed " << s.missed << ", catch-up " << s.spec.catch_up;
  return out.str();
}

}  // namespace fila::cli
