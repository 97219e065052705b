#pragma once

// `fila diario backfill` and `fila diario status`.

#include "fila/core/extension.h"

namespace fila::diario {

// Plans a tribunal's editions of [--from, --to] from its yearly index, year
// by year (a past year's index from the database's cache, the current
// year's fetched again), records them in the backfill's plan and enqueues
// them in batches of at most 200 (one transaction each), one task per
// edition with the idempotency key "diario.process:<tribunal>:<edition>".
// Stopped at any point (Ctrl-C, kill -9) and run again with the same
// arguments, it resumes the same plan and enqueues nothing twice.
void Backfill(const CliInvocation& args);

// Every backfill's progress: editions discovered, queued, done, no
// gazette, failed, pending. --json for machines.
void Status(const CliInvocation& args);

// {"backfills": [...]}: every backfill's progress (of `tenant`, or every
// tenant's when ""), as `fila diario status --json` and GET
// /v1/diario/backfills answer it.
std::string BackfillsJson(const std::string& database_url, const std::string& tenant);

}  // namespace fila::diario
