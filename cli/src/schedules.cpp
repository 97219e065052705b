// fila schedules add | list | pause | resume | delete
#include <iostream>

#include "commands.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "guard.h"
#include "render.h"

namespace fila::cli {
namespace {

int Add(Backend& backend, const ScheduleArgs& args) {
  // The task each slot creates is checked now, as an enqueue would be.
  TaskRequest request;
  request.type = args.type;
  request.queue = args.queue;
  request.priority = args.priority;
  request.max_attempts = args.max_attempts;
  request.timeout_ms = args.timeout_ms;
  request.tenant = args.tenant;
  request.payload = args.payload_json;
  request.payload_form = TaskRequest::PayloadForm::kJson;
  NewTask task = PrepareTask(request, EnqueueTypes(), TaskLimits{});
  ScheduleView created = backend.AddSchedule(
      ScheduleOf(task, args.name, args.cron, args.timezone, args.catch_up));
  std::cout << (args.json ? Dump(ScheduleJson(created)) : ScheduleRow(created)) << "\n";
  return kOk;
}

}  // namespace

int Schedules(Backend& backend, const std::string& action, const ScheduleArgs& args) {
  return Guard(backend.Describe(), [&] {
    if (action == "add") return Add(backend, args);
    if (action == "list") {
      auto all = backend.ListSchedules(args.tenant);
      if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : all) out.push_back(ScheduleJson(s));
        std::cout << Dump(out) << "\n";
      } else {
        for (const auto& s : all) std::cout << ScheduleRow(s) << "\n";
      }
      return kOk;
    }
    bool found = false;
    if (action == "pause" || action == "resume") {
      found = backend.SetSchedulePaused(args.tenant, args.name, action == "pause");
    } else if (action == "delete") {
      found = backend.DeleteSchedule(args.tenant, args.name);
    }
    if (!found) {
      spdlog::error("error: no schedule named '{}'", args.name);
      return kUsage;
    }
    std::cout << args.name << ": " << (action == "delete" ? "deleted" : action + "d") << "\n";
    return kOk;
  });
}

}  // namespace fila::cli
