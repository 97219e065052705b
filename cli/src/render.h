#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "fila/core/state_store.h"
#include "fila/core/task_types.h"

namespace fila::cli {

std::string FormatTime(int64_t unix_ms);  // ISO 8601 UTC, "" for 0
nlohmann::json TaskJson(const TaskView& task, const TaskTypes& types);
std::string TaskText(const TaskView& task, const TaskTypes& types);
std::string TaskRow(const TaskView& task);  // one line of `fila list`
nlohmann::json StatsJson(const std::vector<QueueStateCount>& counts);
std::string StatsText(const std::vector<QueueStateCount>& counts);
// `fila get --tree`: one line per task, indented by depth.
nlohmann::json TreeJson(const std::vector<TaskTreeNode>& nodes);
std::string TreeText(const std::vector<TaskTreeNode>& nodes);
nlohmann::json ScheduleJson(const ScheduleView& schedule);
std::string ScheduleRow(const ScheduleView& schedule);

}  // namespace fila::cli
