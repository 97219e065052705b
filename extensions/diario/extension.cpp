// diario.process as an extension: what core, the worker and the CLI learn
// of it.
#include "fila/diario/extension.h"

#include <memory>

#include "backfill.h"
#include "commands.h"
#include "fila/diario/diario_store_pg.h"
#include "fila/diario/handler.h"
#include "fila/v1/diario.pb.h"
#include "fila/worker/sdk.h"

namespace fila::diario {
namespace {

void RegisterHandlers(HandlerRegistry& handlers, const WorkerServices& services) {
  DiarioOptions options = DiarioOptions::FromEnv();
  const ExtractionSettings extraction = services.extraction();
  options.extractor = extraction.helper;
  options.budget = extraction.budget;
  // The store serves every slot for the worker's life.
  std::shared_ptr<DiarioStore> store = MakePostgresDiarioStore(services.database_url);
  Handler handler = MakeDiarioHandler(std::move(options), *store, services.key_limiter, services.http_client(),
                                      services.metrics);
  handlers.Register("diario.process", [store, handler](TaskContext& ctx) { return handler(ctx); });
}

}  // namespace

fila::Extension Extension() {
  fila::Extension e;
  e.name = "diario";
  // A blocked download (anti-bot page) is retried with backoff for a while.
  e.types.push_back({.name = "diario.process",
                     .payload_message = v1::DiarioProcessPayload::descriptor()->full_name(),
                     .default_queue = "diario",
                     .default_timeout = std::chrono::minutes(10),
                     .retry = {.max_attempts = 5, .base = std::chrono::seconds(30), .cap = std::chrono::minutes(10)}});
  e.register_handlers = RegisterHandlers;
  e.commands = Commands();
  // The backfills' progress for the web-facing API: a producer sees its
  // tenant's, an operator every tenant's.
  e.routes.push_back({.path = "/v1/diario/backfills",
                      .get = [](const ApiRouteCall& call) { return BackfillsJson(call.database_url, call.tenant); }});
  return e;
}

}  // namespace fila::diario
