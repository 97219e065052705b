#include "prometheus_families.h"

namespace fila::prom {
namespace {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;

class PrometheusWorkerMetrics final : public WorkerMetrics {
 public:
  explicit PrometheusWorkerMetrics(prometheus::Registry& r)
      : deliveries_(prom::Counter(r, "fila_deliveries_total",
                                  "Messages received from the broker, by queue"),
                    {"queue"}),
        redeliveries_(prom::Counter(r, "fila_task_redeliveries_total",
                                    "Messages the broker delivered again (a consumer died or "
                                    "disconnected before acking)"),
                      {"queue"}),
        started_(prom::Counter(r, "fila_tasks_started_total", "Attempts claimed and started"),
                 {"queue", "type"}),
        finished_(FinishedFamily(r), {"queue", "type", "outcome"}),
        retries_(prom::Counter(r, "fila_task_retries_total",
                               "Failed attempts scheduled to run again with backoff"),
                 {"queue", "type"}),
        dead_(DeadFamily(r), {"queue", "type"}),
        run_(prom::Histogram(r, "fila_task_run_seconds", "Run time of an attempt in its handler"),
             {"queue", "type"}),
        wait_(prom::Histogram(r, "fila_task_wait_seconds",
                              "Time from when a task became due (enqueue, delay or retry time) "
                              "to its start"),
              {"queue", "type"}),
        duplicates_(prom::Counter(r, "fila_task_duplicates_total",
                                  "Deliveries of tasks not in the queued state (duplicate "
                                  "publishes, cancelled tasks), acked and dropped"),
                    {"queue"}),
        deferred_(prom::Counter(r, "fila_tasks_deferred_total",
                                "Deliveries of tasks over their limit key (concurrency or rate), "
                                "sent back to wait in PostgreSQL without a slot"),
                  {"queue"}),
        poison_(prom::Counter(r, "fila_poison_messages_total",
                              "Undecodable or unknown messages moved to the fila.dead queue"),
                {"queue"}),
        stale_(prom::Counter(r, "fila_stale_finishes_total",
                             "Finishes fenced out because the attempt was no longer current")
                   .Add({})),
        abandoned_(prom::Counter(r, "fila_tasks_abandoned_total",
                                 "Handlers that ignored their deadline or a cancel and were "
                                 "abandoned")
                       .Add({})),
        handed_back_(prom::Counter(r, "fila_tasks_handed_back_total",
                                   "Running tasks handed back when the drain budget ran out")
                         .Add({})),
        commit_(prom::Histogram(r, "fila_finish_commit_seconds",
                                "Duration of one group commit of finishes")
                    .Add({}, Histogram::BucketBoundaries(DurationBuckets()))),
        commit_records_(prom::Counter(r, "fila_finish_records_total",
                                      "Finishes written by group commits (divide by "
                                      "fila_finish_commit_seconds_count for the mean group size)")
                            .Add({})),
        slots_(prom::Gauge(r, "fila_worker_slots", "Task slots of this worker by state (busy, idle)")),
        busy_(slots_.Add({{"state", "busy"}})),
        idle_(slots_.Add({{"state", "idle"}})) {}

  void Prepare(const std::vector<std::string>& queues,
               const std::vector<std::string>& types) override {
    for (const auto& queue : queues) {
      deliveries_.Get({queue});
      redeliveries_.Get({queue});
      duplicates_.Get({queue});
      deferred_.Get({queue});
      poison_.Get({queue});
      for (const auto& type : types) {
        started_.Get({queue, type});
        retries_.Get({queue, type});
        dead_.Get({queue, type});
        for (auto outcome : {Outcome::kSucceeded, Outcome::kFailed, Outcome::kTimedOut,
                             Outcome::kCancelled, Outcome::kLost}) {
          finished_.Get({queue, type, ToString(outcome)});
        }
      }
    }
  }
  void Delivered(const std::string& queue, bool redelivered) override {
    deliveries_.Get({queue}).Increment();
    if (redelivered) redeliveries_.Get({queue}).Increment();
  }
  void TaskStarted(const std::string& queue, const std::string& type, double wait) override {
    started_.Get({queue, type}).Increment();
    wait_.Get({queue, type}).Observe(wait < 0 ? 0 : wait);
  }
  void TaskFinished(const std::string& queue, const std::string& type, Outcome outcome,
                    TaskState state, double run_seconds) override {
    finished_.Get({queue, type, ToString(outcome)}).Increment();
    run_.Get({queue, type}).Observe(run_seconds < 0 ? 0 : run_seconds);
    if (state == TaskState::kScheduled && outcome != Outcome::kLost) {
      retries_.Get({queue, type}).Increment();
    }
    if (state == TaskState::kDead) dead_.Get({queue, type}).Increment();
  }
  void Duplicate(const std::string& queue) override { duplicates_.Get({queue}).Increment(); }
  void Deferred(const std::string& queue) override { deferred_.Get({queue}).Increment(); }
  void Poison(const std::string& queue) override { poison_.Get({queue}).Increment(); }
  void StaleFinish() override { stale_.Increment(); }
  void Abandoned() override { abandoned_.Increment(); }
  void HandedBack() override { handed_back_.Increment(); }
  void FinishCommitted(size_t records, double seconds) override {
    commit_.Observe(seconds);
    commit_records_.Increment(static_cast<double>(records));
  }
  void Slots(uint32_t busy, uint32_t total) override {
    busy_.Set(busy);
    idle_.Set(total > busy ? total - busy : 0);
  }

 private:
  Series<Counter> deliveries_;
  Series<Counter> redeliveries_;
  Series<Counter> started_;
  Series<Counter> finished_;
  Series<Counter> retries_;
  Series<Counter> dead_;
  Series<Histogram> run_;
  Series<Histogram> wait_;
  Series<Counter> duplicates_;
  Series<Counter> deferred_;
  Series<Counter> poison_;
  Counter& stale_;
  Counter& abandoned_;
  Counter& handed_back_;
  Histogram& commit_;
  Counter& commit_records_;
  prometheus::Family<Gauge>& slots_;
  Gauge& busy_;
  Gauge& idle_;
};

}  // namespace

std::unique_ptr<WorkerMetrics> NewWorkerMetrics(prometheus::Registry& registry) {
  return std::make_unique<PrometheusWorkerMetrics>(registry);
}

}  // namespace fila::prom
