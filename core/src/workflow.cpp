#include "fila/core/workflow.h"

#include <map>
#include <utility>
#include <vector>

#include "fila/core/errors.h"

namespace fila {

void RejectCycles(std::span<const NewTask> tasks) {
  std::map<std::string, const NewTask*> by_id;
  for (const auto& t : tasks) {
    if (!t.id.empty()) by_id[t.id] = &t;
  }
  std::map<std::string, int> mark;  // 1: on the path, 2: done
  for (const auto& [start, task] : by_id) {
    if (mark[start] != 0) continue;
    // (task, index of the next of its parents to look at)
    std::vector<std::pair<const NewTask*, size_t>> path{{task, 0}};
    mark[start] = 1;
    while (!path.empty()) {
      auto& [node, next] = path.back();
      if (next == node->depends_on.size()) {
        mark[node->id] = 2;
        path.pop_back();
        continue;
      }
      const std::string& parent = node->depends_on[next++];
      auto it = by_id.find(parent);
      if (it == by_id.end()) continue;
      if (mark[parent] == 1) {
        throw PermanentError("dependency cycle through task " + parent, "depends_on");
      }
      if (mark[parent] == 0) {
        mark[parent] = 1;
        path.emplace_back(it->second, 0);
      }
    }
  }
}

FinishRecord ChildrenRefused(const FinishRecord& finish, const std::string& why) {
  FinishRecord failed = finish;
  failed.children.clear();
  failed.state = TaskState::kFailed;
  failed.outcome = Outcome::kFailed;
  failed.error = "its child tasks were refused: " + why;
  failed.error_kind = "permanent";
  failed.result.clear();
  return failed;
}

}  // namespace fila
