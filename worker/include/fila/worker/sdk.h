#pragma once

// The C++ SDK (docs/extensions.md): run your own handlers in-process under
// the same runtime as fila-worker, which owns the claim, the attempt, the
// deadline, cancellation, retries, progress, children and the ack. A
// program registers its handlers and calls RunWorker from main:
//
//   int main(int argc, char** argv) {
//     fila::WorkerSetup setup;
//     setup.program = "acme-worker";
//     setup.register_handlers = [](fila::HandlerRegistry& handlers, const fila::WorkerServices&) {
//       handlers.Register("acme.resize", Resize);  // std::string Resize(fila::TaskContext&)
//     };
//     return fila::RunWorker(argc, argv, setup);
//   }
//
// Producers and the scheduler learn a type from the database: register it
// as data with `handler: {builtin: <its name>}` (`fila types apply`), and
// have only workers that register its handler consume its queue.
//
// No third-party header comes with these headers; payloads are bytes (a
// serialized protobuf message, or a JSON object's text), parsed with
// whatever the program links.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/errors.h"
#include "fila/core/extension.h"
#include "fila/core/extension_metrics.h"
#include "fila/core/handler.h"
#include "fila/core/key_limiter.h"
#include "fila/core/tenant.h"
#include "fila/extract/budget.h"
#include "fila/http/http_client.h"

namespace fila {

// Where the helper that parses untrusted documents runs (fila-extract,
// fila/extract/sandbox.h) and what one document may cost.
struct ExtractionSettings {
  std::string helper;     // its path
  extract::Budget budget;  // FILA_EXTRACT_*
};

// What a worker gives the handlers it runs. Everything here lives as long
// as the worker; the functions are thread-safe.
struct WorkerServices {
  std::string database_url;
  uint32_t concurrency = 0;  // the worker's slots
  // Per-key limits on calls to external services, shared by every worker
  // through PostgreSQL.
  KeyLimiter& key_limiter;
  // The settings operators gave a task's tenant (its bindings), cached for
  // --tenant-cache-ms. TransientError when they cannot be read now.
  TenantLookup tenants;
  // A new HTTP client (libcurl) under the worker's egress policy
  // (FILA_EGRESS_ALLOW).
  std::function<std::unique_ptr<HttpClient>()> http_client;
  // fila-extract next to the worker (or $FILA_EXTRACTOR) and the budget.
  // Throws PermanentError when the helper is missing or a FILA_EXTRACT_*
  // value is bad.
  std::function<ExtractionSettings()> extraction;
  // The worker's Prometheus registry, for the handlers' own families
  // (fila/core/extension_metrics.h), exported on its /metrics; records
  // nothing when metrics are off.
  MetricRegistry& metrics = NoMetricRegistry();
};

// What a program built on the SDK runs.
struct WorkerSetup {
  // The name in logs, --help and crash reports.
  std::string program = "fila-worker";
  // Kinds whose types, binding kinds and handlers this worker serves
  // (fila-worker passes fila's own). An extension's compiled-in types are
  // known to the binaries that install it; a type of your own that
  // producers enqueue must be registered as data (see above).
  std::vector<Extension> extensions;
  // Handlers of this program (HandlerRegistry::Register), after those of
  // `extensions`. Throws PermanentError for a bad setting: exit 2.
  std::function<void(HandlerRegistry&, const WorkerServices&)> register_handlers;
};

// The worker: flags and environment (`--help`: --queues, --concurrency,
// --database-url, --amqp-url, ...), logging, /metrics, /healthz and
// /readyz, startup, signals (SIGTERM drains) and the runtime
// (fila/worker_runtime.h). Installs setup.extensions (InstallExtensions).
// Call it once, from main. When it stops before consuming it returns the
// exit code for main: 0 (--help), 1 (PostgreSQL or RabbitMQ unreachable
// at start), 2 (bad flags or settings). Once it consumed, it ends the
// process itself (std::_Exit, logs flushed) with 0 (drained) or 3 (too
// many abandoned handlers): handler threads may still be running, so
// nothing after it in main runs and no destructor does.
int RunWorker(int argc, char** argv, const WorkerSetup& setup);

// The version of the installed SDK (libfila_worker), e.g. "0.1.0".
const char* SdkVersion();

}  // namespace fila
