#pragma once

// fila diario backfill and fila stats --type diario.process.

#include <cstdint>
#include <optional>
#include <string>

#include "backend.h"

namespace fila::cli {

struct DiarioBackfillArgs {
  std::string tribunal;
  std::string from;  // YYYY-MM-DD, inclusive
  std::string to;    // YYYY-MM-DD, inclusive
  std::string queue;
  std::optional<int64_t> priority;
  std::string tenant = "default";
  bool use_llm = false;
};

// Enqueues one diario.process task per day of [from, to], each with the
// idempotency key "diario.process:<tribunal>:<date>": running it again
// enqueues nothing new. Prints how many tasks were created and how many
// existed. At most 20 years at once.
int DiarioBackfill(Backend& backend, const DiarioBackfillArgs& args);

// The view of `fila stats --type diario.process` (database only): tasks
// done / no gazette / failed / pending / cancelled, and what the stored
// gazettes hold (pages, entries, decisions, invalid numbers).
int DiarioStatsCommand(const std::string& database_url, bool json);

}  // namespace fila::cli
