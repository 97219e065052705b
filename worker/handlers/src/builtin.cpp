#include "fila/handlers/builtin_handlers.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/v1/payloads.pb.h"

namespace fila {
namespace {

template <typename Message>
Message Parse(const TaskContext& ctx) {
  Message m;
  if (!m.ParseFromString(ctx.Payload())) {
    throw PermanentError("payload of task type '" + ctx.Type() + "' does not parse as " +
                         Message::descriptor()->full_name());
  }
  return m;
}

// Reports progress after every step, so that a long sleep shows moving
// progress in `fila top` and `fila get`; a sleep of one step or less (the
// benchmarks' kind) writes none.
std::string Sleep(TaskContext& ctx) {
  using std::chrono::milliseconds;
  constexpr milliseconds kProgressStep{200};
  auto payload = Parse<v1::SleepPayload>(ctx);
  const milliseconds total(payload.ms());
  if (payload.ignore_cancel()) {
    std::this_thread::sleep_for(total);
    return {};
  }
  const auto start = SteadyClock::now();
  for (milliseconds slept{0}; slept < total;) {
    if (!ctx.SleepFor(std::min(kProgressStep, total - slept))) {
      throw TransientError("sleep interrupted after cancellation");
    }
    slept = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
    if (slept < total) {
      ctx.Progress(static_cast<int>(slept * 100 / total),
                   "slept " + std::to_string(slept.count()) + " ms");
    }
  }
  return {};
}

std::string Flaky(TaskContext& ctx) {
  auto payload = Parse<v1::FlakyPayload>(ctx);
  if (ctx.Attempt() <= payload.fail_times()) {
    throw TransientError("flaky: failing attempt " + std::to_string(ctx.Attempt()) + " of the first " +
                         std::to_string(payload.fail_times()));
  }
  return "succeeded on attempt " + std::to_string(ctx.Attempt());
}

}  // namespace

std::string Fanout(TaskContext& ctx) {
  v1::FanoutPayload p;
  if (!p.ParseFromString(ctx.Payload())) throw PermanentError("bad fanout payload");
  if (p.width() > 100 || p.depth() > 5) throw PermanentError("fanout is limited to width 100, depth 5");
  std::vector<std::string> children;
  if (p.depth() > 0) {
    v1::FanoutPayload child;
    child.set_width(p.width());
    child.set_depth(p.depth() - 1);
    for (uint32_t i = 0; i < p.width(); ++i) {
      TaskRequest r;
      r.type = "fanout";
      r.queue = ctx.Queue();
      r.payload_form = TaskRequest::PayloadForm::kBytes;
      r.payload = child.SerializeAsString();
      children.push_back(ctx.Enqueue(r));
    }
    TaskRequest join;
    join.type = "noop";
    join.queue = ctx.Queue();
    join.depends_on = children;
    ctx.Enqueue(join);
  }
  if (p.fail()) throw PermanentError("fanout asked to fail after enqueueing its children");
  return "children=" + std::to_string(children.size());
}

void RegisterBuiltinHandlers(HandlerRegistry& registry, TestTypes test_types) {
  registry.Register("noop", [](TaskContext&) { return std::string(); });
  if (test_types != TestTypes::kEnabled) return;
  registry.Register("fanout", Fanout);
  registry.Register("sleep", Sleep);
  registry.Register("flaky", Flaky);
}

}  // namespace fila
