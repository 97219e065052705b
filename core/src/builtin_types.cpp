// The compiled-in task types: noop, the test types and those of the
// installed extensions (the job kinds).
#include <cstdint>

#include "fila/core/errors.h"
#include "fila/core/extension.h"
#include "fila/core/task_types.h"
#include "fila/v1/payloads.pb.h"

namespace fila {
namespace {

// How many tasks a fanout payload creates below its own task: each level
// enqueues `width` children and one join task; saturates at `cap` + 1.
uint64_t FanoutDescendants(uint64_t width, uint64_t depth, uint64_t cap) {
  uint64_t below = 0;
  for (uint64_t level = 0; level < depth; ++level) {
    if (width != 0 && below + 1 > cap / width) return cap + 1;  // no overflow
    below = width * (below + 1) + 1;
    if (below > cap) return cap + 1;
  }
  return below;
}

void CheckFanout(const std::string& payload, const TaskLimits& limits) {
  v1::FanoutPayload p;
  if (!p.ParseFromString(payload)) throw PermanentError("payload does not parse as fila.v1.FanoutPayload", "payload");
  const uint64_t children = uint64_t{p.width()} + 1;  // the join task too
  if (p.depth() > 0 && children > limits.max_children) {
    throw PermanentError("fanout width " + std::to_string(p.width()) + " makes " +
                             std::to_string(children) + " children per task, over the limit of " +
                             std::to_string(limits.max_children),
                         "payload.width");
  }
  const uint64_t below = FanoutDescendants(p.width(), p.depth(), limits.max_tree_tasks);
  if (below + 1 > limits.max_tree_tasks) {
    throw PermanentError("fanout of width " + std::to_string(p.width()) + " and depth " +
                             std::to_string(p.depth()) + " makes more than " +
                             std::to_string(limits.max_tree_tasks) + " tasks in one tree",
                         "payload.depth");
  }
}

void RegisterTestTypes(TaskTypes& types) {
  types.Register({.name = "sleep",
                  .payload_message = "fila.v1.SleepPayload",
                  .default_timeout = std::chrono::seconds(60)});
  types.Register({.name = "fanout", .payload_message = "fila.v1.FanoutPayload", .check = CheckFanout});
  types.Register({.name = "flaky",
                  .payload_message = "fila.v1.FlakyPayload",
                  .retry = {.max_attempts = 5,
                            .base = std::chrono::milliseconds(200),
                            .cap = std::chrono::seconds(5)}});
}

}  // namespace

TaskTypes TaskTypes::Builtin(TestTypes test_types) {
  TaskTypes types;
  types.Register({.name = "noop", .payload_message = "fila.v1.NoopPayload"});
  if (test_types == TestTypes::kEnabled) RegisterTestTypes(types);
  for (const auto& extension : InstalledExtensions()) {
    for (const auto& spec : extension.types) types.Register(spec);
  }
  return types;
}

}  // namespace fila
