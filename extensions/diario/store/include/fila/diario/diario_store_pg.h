#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fila/diario/store.h"

namespace fila {

// diario.process's DiarioStore on PostgreSQL (tables diario_*, migration
// 0008). Keeps up to `max_connections` connections, opened on first use
// and shared by every thread (thread-safe). A row's tenant is the tenant of
// the task that stored it.
std::unique_ptr<diario::DiarioStore> MakePostgresDiarioStore(std::string url, size_t max_connections = 4);

// One processed gazette's decisions and how many of them the outcome
// vocabulary left 'desconhecido' (counted from the stored outcomes).
struct GazetteOutcomeShare {
  std::string tenant;
  std::string tribunal;
  std::string source;  // the date, or the URL of a URL-only task
  std::string date;    // YYYY-MM-DD, "" when the task named only a URL
  int64_t decisions = 0;
  int64_t unknown = 0;
};

// What `fila stats --type diario.process` shows. Tasks by outcome (every
// tenant), and what the processed gazettes hold.
struct DiarioStats {
  int64_t done = 0;        // succeeded with a gazette processed
  int64_t no_gazette = 0;  // succeeded: the tribunal published nothing that day
  int64_t failed = 0;      // failed or dead
  int64_t pending = 0;     // blocked, queued, scheduled or running
  int64_t cancelled = 0;
  int64_t gazettes = 0;    // processed gazettes stored
  int64_t pages = 0;
  int64_t entries = 0;     // docket entries
  int64_t decisions = 0;   // entries with a judgment
  int64_t invalid_numbers = 0;
  int64_t unknown_outcomes = 0;  // decisions whose outcome is 'desconhecido'
  // The latest gazettes (by gazette date, then by when they were stored).
  std::vector<GazetteOutcomeShare> latest;
};

// `latest_gazettes`: how many gazettes DiarioStats::latest lists (0: none,
// at most 1000). Throws TransientError when the database is unreachable.
DiarioStats LoadDiarioStats(const std::string& url, const std::string& task_type = "diario.process",
                            int latest_gazettes = 10);

}  // namespace fila
