// fila queues list | pause NAME | resume NAME. With --api the server checks
// the token (pause and resume need an operator's); with the database URL
// the caller is an operator already.
#include <iostream>

#include "commands.h"
#include "fila/core/task_types.h"
#include "guard.h"
#include "render.h"

namespace fila::cli {
namespace {

nlohmann::json QueueJson(const QueueStatusView& q) {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [state, n] : q.counts) counts[std::string(ToString(state))] = n;
  nlohmann::json out{{"queue", q.queue},
                     {"counts", counts},
                     {"oldest_queued_age_seconds", q.oldest_queued_age_seconds},
                     {"paused", q.paused}};
  if (q.paused) {
    out["paused_by"] = q.paused_by;
    out["paused_at"] = FormatTime(q.paused_at_ms);
  }
  return out;
}

std::string QueueRow(const QueueStatusView& q) {
  std::string counts;
  for (const auto& [state, n] : q.counts) {
    counts += (counts.empty() ? "" : " ") + std::string(ToString(state)) + "=" + std::to_string(n);
  }
  std::string row = q.queue + "  " + (counts.empty() ? "empty" : counts);
  if (q.paused) row += "  PAUSED by " + q.paused_by + " at " + FormatTime(q.paused_at_ms);
  return row;
}

}  // namespace

int Queues(Backend& backend, const std::string& action, const std::string& name, bool json) {
  return Guard(backend.Describe(), [&] {
    if (action == "list") {
      const auto all = backend.Queues();
      if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& q : all) out.push_back(QueueJson(q));
        std::cout << Dump(out) << "\n";
      } else {
        for (const auto& q : all) std::cout << QueueRow(q) << "\n";
        if (all.empty()) std::cout << "(no queues)\n";
      }
      return kOk;
    }
    ValidateQueueName(name);
    backend.SetQueuePaused(name, action == "pause");
    std::cout << name << ": " << action << "d\n";
    return kOk;
  });
}

}  // namespace fila::cli
