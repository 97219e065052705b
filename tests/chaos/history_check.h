#pragma once

// The history checker of the chaos run (scripts/chaos): after the faults
// stopped and the system drained, compares what the producers were told
// (their enqueue logs), what the workers were refused (their logs) and what
// PostgreSQL recorded, and lists every violation of the task contract:
//
//   lost             an acknowledged enqueue has no task row
//   stuck            a task neither terminal nor legitimately pending
//                    (scheduled in the future, blocked on an unfinished parent)
//   double-success   more than one successful attempt recorded for a task
//   stale-success    a success recorded at an attempt other than the task's
//                    final (fencing) attempt, or on a task that did not succeed
//   missing-success  a succeeded task without its successful attempt row
//   attempt-gap      the attempt rows of a task are not exactly 1..N (N-1
//                    while running)
//   fence            a finish a worker was refused whose attempt was not
//                    reaped (no 'lost' row) and not recorded by that worker
//   refused-count    a worker's exit counter of refused finishes disagrees
//                    with the refusals in its log
//   orphan-child     a task enqueued by a handler whose parent did not succeed
//   children         a succeeded fanout task without exactly width + 1
//                    children (a superseded attempt's children recorded too)
//   dependency       a task started although a task it depends on did not succeed
//   idempotency      one idempotency key answered with two task ids
//   malformed        a log line that does not parse
//
// Test code, not product code: reads the database with libpqxx directly.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fila::chaos {

// One acknowledged enqueue: a producer's log line "ID KEY TYPE VIA".
struct Enqueued {
  std::string id;
  std::string key;
  std::string type;
  std::string via;
};

// One finish a worker was refused ("finish of task ID attempt N was fenced out").
struct Refusal {
  std::string worker;
  std::string task_id;
  int64_t attempt = 0;
};

struct WorkerLog {
  std::string worker;
  std::vector<Refusal> refusals;
  int64_t exit_stale = -1;  // "stale=" of its exit line; -1 without one (killed)
};

struct Violation {
  std::string kind;
  std::string detail;
};

struct Report {
  std::vector<Violation> violations;
  std::map<std::string, int64_t> counts;  // figures for the summary, by name
};

struct CheckInput {
  std::string database_url;
  std::vector<Enqueued> enqueued;
  std::vector<WorkerLog> workers;
  // A scheduled task due longer ago than this should have been released.
  std::chrono::seconds release_grace{15};
};

// Lines "ID KEY TYPE VIA" ('#' comments and blank lines skipped); a line
// that does not parse becomes a "malformed" violation in `report`.
std::vector<Enqueued> ParseEnqueueLog(const std::string& text, Report& report);
// The refusals and the exit counter in a worker's log (text or JSON lines).
WorkerLog ParseWorkerLog(const std::string& worker, const std::string& text);

// Runs every check; violations and figures are added to `report`.
// Throws std::exception when the database cannot be read.
void CheckHistory(const CheckInput& input, Report& report);

}  // namespace fila::chaos
