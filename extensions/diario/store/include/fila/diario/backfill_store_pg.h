#pragma once

// The plan and progress of `fila diario backfill` and the cache of the
// tribunals' yearly indexes, in PostgreSQL (migration 0019). One
// connection, for one thread (the CLI). Every query is parameterized.
// Throws TransientError when the database is unreachable.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fila/diario/tjro_index.h"

namespace fila {

struct BackfillSpec {
  std::string tenant = "default";
  std::string tribunal;  // "tjro"
  diario::Date from;
  diario::Date to;
  std::string to_arg;    // --to as written ("today"): a re-run on another day resumes the same backfill
  std::string queue;
};

// One backfill's progress. Editions: found in the index, with a task,
// and what their tasks became.
struct BackfillProgress {
  int64_t id = 0;
  std::string tenant;
  std::string tribunal;
  std::string from;
  std::string to;
  std::string state;  // planning (years or batches left) or planned
  int years_read = 0;
  int64_t rejected = 0;    // index entries set aside
  int64_t discovered = 0;
  int64_t queued = 0;      // editions with a task
  int64_t done = 0;        // processed
  int64_t no_gazette = 0;  // the PDF was missing (404)
  int64_t failed = 0;      // failed or dead
  int64_t pending = 0;     // queued, scheduled, running, blocked
  int64_t cancelled = 0;
  std::string updated_at;
};

class BackfillStore {
 public:
  virtual ~BackfillStore() = default;
  // The backfill of `spec`: created, or the one a previous run left
  // (its to_date updated). Returns its id.
  virtual int64_t Open(const BackfillSpec& spec) = 0;
  // The cached index of a year, if a copy fetched after the year ended
  // is there (an earlier copy may lack its last editions).
  virtual std::optional<std::string> CachedIndex(const std::string& tribunal, int year) = 0;
  virtual void SaveIndex(const std::string& tribunal, int year, const std::string& body, int editions,
                         int rejected) = 0;
  // Records a year's editions (those already recorded stay as they are)
  // in one transaction, and counts the year as read. Returns how many
  // were new.
  virtual int64_t AddYear(int64_t backfill, const std::vector<diario::Edition>& editions, int rejected) = 0;
  // Up to `limit` recorded editions without a task, oldest first.
  virtual std::vector<diario::Edition> Unqueued(int64_t backfill, int limit) = 0;
  // Links editions (by key) to their tasks.
  virtual void MarkQueued(int64_t backfill, const std::vector<std::pair<std::string, std::string>>& edition_task) = 0;
  virtual void SetState(int64_t backfill, const std::string& state) = 0;
  // Every backfill (of `tenant` when given), newest first.
  virtual std::vector<BackfillProgress> Progress(const std::string& tenant = "") = 0;
};

std::unique_ptr<BackfillStore> MakePostgresBackfillStore(const std::string& url);

}  // namespace fila
