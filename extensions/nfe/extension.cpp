// nfe.download as an extension: what core, the worker and the CLI learn of
// it.
#include "fila/nfe/extension.h"

#include <algorithm>
#include <memory>

#include "fila/core/errors.h"
#include "fila/nfe/nfe_document_store_pg.h"
#include "fila/nfe/nfe_handler.h"
#include "fila/v1/nfe.pb.h"
#include "fila/worker/sdk.h"
#include "verify_command.h"

namespace fila::nfe {
namespace {

void ValidateAccount(std::string_view v) {
  const bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!ok) throw PermanentError("an account is 1 to 64 of A-Z, a-z, 0-9 and '_'", "value");
}

void ValidateUploadTarget(std::string_view v) {
  if (!ValidTargetUrl(v)) {
    throw PermanentError(
        "an upload target is an http(s) URL without user info, query, fragment or dot segments", "value");
  }
}

void RegisterHandlers(HandlerRegistry& handlers, const WorkerServices& services) {
  auto handler = std::make_shared<NfeDownloadHandler>(NfeConfig::FromEnvironment(), services.key_limiter,
                                                      MakePostgresNfeDocumentStore(services.database_url),
                                                      services.tenants, services.http_client());
  handlers.Register("nfe.download", [handler](TaskContext& ctx) { return handler->Run(ctx); });
}

}  // namespace

fila::Extension Extension() {
  fila::Extension e;
  e.name = "nfe";
  // Exports of one account share its request budget (KeyLimiter): more
  // than two at once only queue behind each other inside the workers, so
  // the third waits in PostgreSQL instead, without a worker slot. The
  // account and an upload URL must be bound to the tenant by an operator.
  e.types.push_back({.name = "nfe.download",
                     .payload_message = v1::NfeDownloadPayload::descriptor()->full_name(),
                     .default_queue = "nfe",
                     .default_timeout = std::chrono::minutes(30),
                     .retry = {.max_attempts = 5, .base = std::chrono::seconds(10), .cap = std::chrono::minutes(5)},
                     .limit = {.max_concurrent = 2},
                     .limit_key_field = "account",
                     .bound_fields = {{.field = "account", .binding = "omie_account"},
                                      {.field = "upload", .binding = "upload_target", .urls_only = true}}});
  e.binding_kinds.push_back(
      {"omie_account", "an Omie account whose invoices the tenant may export (nfe.download)", true, ValidateAccount});
  e.binding_kinds.push_back(
      {"upload_target",
       "an http(s) URL prefix the tenant's exports may be uploaded under, with the worker's upload token", false,
       ValidateUploadTarget});
  e.register_handlers = RegisterHandlers;
  e.commands.push_back({.path = {"nfe"}, .help = "NF-e tools (nfe.download's verifier, locally)"});
  e.commands.push_back(VerifyCommand());
  return e;
}

}  // namespace fila::nfe
