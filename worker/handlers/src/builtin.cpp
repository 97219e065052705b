#include "fila/builtin_handlers.h"

#include <string>
#include <thread>

#include "fila/errors.h"
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

std::string Sleep(TaskContext& ctx) {
  auto payload = Parse<v1::SleepPayload>(ctx);
  if (payload.ignore_cancel()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(payload.ms()));
    return {};
  }
  if (!ctx.SleepFor(std::chrono::milliseconds(payload.ms()))) {
    throw TransientError("sleep interrupted after cancellation");
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

void RegisterBuiltinHandlers(HandlerRegistry& registry) {
  registry.Register("noop", [](TaskContext&) { return std::string(); });
  registry.Register("sleep", Sleep);
  registry.Register("flaky", Flaky);
}

}  // namespace fila
