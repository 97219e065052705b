#include "fila/http_handler/http_handler.h"

#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "concurrency_gate.h"
#include "fila/core/errors.h"
#include "http_contract.h"

namespace fila {
namespace {

using http_handler::ConcurrencyGate;

// What every attempt of one (type, version) shares.
struct Endpoint {
  std::shared_ptr<const TaskTypeSpec> spec;
  std::shared_ptr<HttpClient> client;
  std::shared_ptr<ConcurrencyGate> gate;  // null: no limit of its own
  CallbackServer* callbacks = nullptr;
};

int64_t WallClockOf(Deadline deadline) {
  return NowUnixMs() + std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
}

std::string Deliver(const Endpoint& e, TaskContext& ctx) {
  std::optional<ConcurrencyGate::Place> place;
  if (e.gate) place.emplace(*e.gate, ctx);
  // Callbacks are open until the answer is in: one that arrives later is
  // refused (410), whatever the handler meant by it.
  std::unique_ptr<CallbackServer::Attempt> callbacks = e.callbacks ? e.callbacks->Open(ctx) : nullptr;
  HttpRequest request = http_handler::DeliveryRequest(*e.spec, ctx, callbacks ? callbacks->Url() : std::string(),
                                                      WallClockOf(ctx.TaskDeadline()));
  request.deadline = ctx.TaskDeadline();
  request.cancelled = [&ctx] { return ctx.Cancelled(); };
  const size_t max_result = e.spec->max_result_bytes;
  if (max_result > 0) request.max_response_bytes = max_result;
  HttpResponse response;
  try {
    response = e.client->Send(request);
  } catch (const PermanentError& ex) {
    if (ex.field() == "max_response_bytes") {
      throw PermanentError("the HTTP handler's answer is larger than the type's max_result_bytes of " +
                           std::to_string(max_result) + " bytes (the rest was not read)");
    }
    throw PermanentError(std::string("the HTTP handler could not be called: ") + ex.what());
  } catch (const TransientError& ex) {
    // Cut at the deadline: let it pass (a few ms at most) so the worker
    // records the attempt as timed out, not as failed.
    const Deadline deadline = ctx.TaskDeadline();
    if (deadline - SteadyClock::now() < std::chrono::milliseconds(20)) std::this_thread::sleep_until(deadline);
    throw TransientError(std::string("the HTTP handler did not answer: ") + ex.what());
  }
  callbacks.reset();
  return http_handler::ResultOf(response, max_result);
}

const char* KindName(HandlerSpec::Kind kind) {
  switch (kind) {
    case HandlerSpec::Kind::kBuiltin: return "builtin";
    case HandlerSpec::Kind::kHttp: return "http";
    case HandlerSpec::Kind::kExec: return "exec";
  }
  return "unknown";
}

class HttpHandlerFactory final : public HandlerFactory {
 public:
  explicit HttpHandlerFactory(HttpHandlerOptions options) : options_(std::move(options)) {
    if (!options_.client) options_.client = MakeHttpClient();
  }

  Handler Make(const TaskTypeSpec& spec) override {
    if (spec.handler.kind != HandlerSpec::Kind::kHttp) {
      throw PermanentError("type '" + spec.name + "' version " + std::to_string(spec.version) + " has an " +
                           KindName(spec.handler.kind) + " handler; this factory runs http handlers only");
    }
    auto endpoint = std::make_shared<Endpoint>();
    endpoint->spec = std::make_shared<const TaskTypeSpec>(spec);
    endpoint->client = options_.client;
    endpoint->gate = GateOf(spec);
    endpoint->callbacks = options_.callbacks;
    return [endpoint](TaskContext& ctx) { return Deliver(*endpoint, ctx); };
  }

 private:
  // Versions of a type that keep its concurrency share its places.
  std::shared_ptr<ConcurrencyGate> GateOf(const TaskTypeSpec& spec) {
    if (spec.handler.concurrency == 0) return nullptr;
    std::lock_guard lock(mutex_);
    auto& gate = gates_[{spec.name, spec.handler.concurrency}];
    if (!gate) gate = std::make_shared<ConcurrencyGate>(spec.handler.concurrency);
    return gate;
  }

  HttpHandlerOptions options_;
  std::mutex mutex_;
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<ConcurrencyGate>> gates_;
};

}  // namespace

std::shared_ptr<HandlerFactory> MakeHttpHandlerFactory(HttpHandlerOptions options) {
  return std::make_shared<HttpHandlerFactory>(std::move(options));
}

}  // namespace fila
