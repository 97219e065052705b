#include <set>

#include "prometheus_families.h"

namespace fila::prom {
namespace {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;

class PrometheusSchedulerMetrics final : public SchedulerMetrics {
 public:
  explicit PrometheusSchedulerMetrics(prometheus::Registry& r)
      : enqueued_(prom::Counter(r, "fila_tasks_enqueued_total",
                                "Tasks created through the API or the AMQP ingest queue"),
                  {"queue", "type"}),
        published_(prom::Counter(r, "fila_outbox_published_total",
                                 "Outbox rows published to the broker with a confirm")
                       .Add({})),
        released_(prom::Counter(r, "fila_tasks_released_total",
                                "Delayed or retrying tasks moved to queued when due")
                      .Add({})),
        republished_(prom::Counter(r, "fila_tasks_republished_total",
                                   "Queued tasks published again by the leader's reconciler "
                                   "because the broker no longer held their messages"),
                     {"queue"}),
        schedule_slots_(prom::Counter(r, "fila_schedule_slots_total",
                                      "Cron slots of the leader: fired (a task enqueued) or "
                                      "missed (dropped by the schedule's catch-up policy)"),
                        {"outcome"}),
        lease_expiries_(prom::Counter(r, "fila_lease_expiries_total",
                                      "Running tasks taken back by the reaper (reason "
                                      "lease_expired or worker_lost)"),
                        {"reason"}),
        finished_(FinishedFamily(r), {"queue", "type", "outcome"}),
        dead_(DeadFamily(r), {"queue", "type"}),
        leader_(prom::Gauge(r, "fila_scheduler_leader",
                            "1 while this scheduler holds the leader lock, else 0")
                    .Add({})),
        ingested_(prom::Counter(r, "fila_ingest_messages_total",
                                "Enqueue requests read from the AMQP ingest queue, by result"),
                  {"result"}),
        api_requests_(prom::Counter(r, "fila_api_requests_total",
                                    "HTTP API requests by method, route pattern and status code"),
                      {"method", "route", "code"}),
        api_seconds_(prom::Histogram(r, "fila_api_request_seconds",
                                     "HTTP API request duration by route pattern"),
                     {"method", "route"}),
        depth_(prom::Gauge(r, "fila_queue_depth",
                           "Tasks not yet finished, by queue and state (blocked, queued, "
                           "scheduled, running)"),
               {"queue", "state"}),
        oldest_(prom::Gauge(r, "fila_queue_oldest_age_seconds",
                            "Age of the oldest queued task of a queue since it became due"),
                {"queue"}),
        consumers_(prom::Gauge(r, "fila_queue_consumers",
                               "Live workers consuming a queue (0 with tasks waiting: nothing runs them)"),
                   {"queue"}),
        outbox_lag_(prom::Gauge(r, "fila_outbox_lag_seconds",
                                "Age of the oldest outbox row not yet published (0 when empty)")
                        .Add({})),
        outbox_rows_(prom::Gauge(r, "fila_outbox_rows", "Outbox rows not yet published").Add({})),
        workers_(prom::Gauge(r, "fila_workers",
                             "Workers with a recent heartbeat in the workers table")
                     .Add({})),
        dispatch_aged_(prom::Counter(r, "fila_dispatch_aged_total",
                                     "Tasks the relay published with a priority raised by their "
                                     "wait (priority aging)"),
                       {"queue"}),
        window_full_(prom::Gauge(r, "fila_dispatch_window_full",
                                 "1 when the relay's last pass left outbox rows of the queue "
                                 "behind because its dispatch window was full, else 0"),
                     {"queue"}),
        group_size_(prom::Histogram(r, "fila_enqueue_group_size",
                                    "Single enqueues of the API committed together in one "
                                    "transaction (group commit)")
                        .Add({}, prometheus::Histogram::BucketBoundaries{
                                     1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})),
        commit_seconds_(prom::Histogram(r, "fila_enqueue_commit_seconds",
                                        "Duration of one group commit of the API's single enqueues")
                            .Add({}, prometheus::Histogram::BucketBoundaries(DurationBuckets()))),
        backpressure_(prom::Counter(r, "fila_api_backpressure_total",
                                    "Enqueues refused 429 before touching the database, by reason "
                                    "(commit_latency, backlog, queue_full)"),
                      {"reason"}),
        relay_in_flight_(prom::Gauge(r, "fila_relay_in_flight",
                                     "Messages the leader's relay published and the broker has "
                                     "not confirmed yet")
                             .Add({})) {
    // Known label values start at zero, so their first event is an increase.
    for (const char* reason : {"lease_expired", "worker_lost"}) lease_expiries_.Get({reason});
    for (const char* outcome : {"fired", "missed"}) schedule_slots_.Get({outcome});
    for (const char* result : {"accepted", "rejected"}) ingested_.Get({result});
    for (const char* reason : {"commit_latency", "backlog", "queue_full"}) backpressure_.Get({reason});
  }

  void Enqueued(const std::string& queue, const std::string& type, uint64_t count) override {
    enqueued_.Get({queue, type}).Increment(static_cast<double>(count));
  }
  void Published(uint64_t messages) override { published_.Increment(static_cast<double>(messages)); }
  void Released(uint64_t tasks) override { released_.Increment(static_cast<double>(tasks)); }
  void Republished(const std::string& queue, uint64_t tasks) override {
    republished_.Get({queue}).Increment(static_cast<double>(tasks));
  }
  void ScheduleSlots(uint64_t fired, uint64_t missed) override {
    schedule_slots_.Get({"fired"}).Increment(static_cast<double>(fired));
    schedule_slots_.Get({"missed"}).Increment(static_cast<double>(missed));
  }
  void LeaseExpired(const std::string& reason, const std::string& queue,
                    const std::string& type, TaskState state) override {
    lease_expiries_.Get({reason}).Increment();
    finished_.Get({queue, type, ToString(Outcome::kLost)}).Increment();
    if (state == TaskState::kDead) dead_.Get({queue, type}).Increment();
  }
  void Leader(bool is_leader) override { leader_.Set(is_leader ? 1 : 0); }
  void Ingested(bool accepted) override {
    ingested_.Get({accepted ? "accepted" : "rejected"}).Increment();
  }
  void ApiRequest(const std::string& method, const std::string& route, int status,
                  double seconds) override {
    api_requests_.Get({method, route, std::to_string(status)}).Increment();
    api_seconds_.Get({method, route}).Observe(seconds);
  }
  void Queues(const std::vector<QueueSample>& queues) override {
    std::lock_guard lock(queues_mutex_);
    std::set<std::string> absent = seen_;
    for (const auto& q : queues) {
      absent.erase(q.queue);
      seen_.insert(q.queue);
      depth_.Get({q.queue, "blocked"}).Set(static_cast<double>(q.blocked));
      depth_.Get({q.queue, "queued"}).Set(static_cast<double>(q.queued));
      depth_.Get({q.queue, "scheduled"}).Set(static_cast<double>(q.scheduled));
      depth_.Get({q.queue, "running"}).Set(static_cast<double>(q.running));
      oldest_.Get({q.queue}).Set(q.oldest_queued_age_seconds);
      consumers_.Get({q.queue}).Set(static_cast<double>(q.consumers));
      republished_.Get({q.queue});  // at zero, so the first republish is an increase
    }
    // A queue that emptied keeps its series, at zero: a vanished series
    // would read as "no data" rather than "nothing waiting".
    for (const auto& queue : absent) {
      for (const char* state : {"blocked", "queued", "scheduled", "running"}) {
        depth_.Get({queue, state}).Set(0);
      }
      oldest_.Get({queue}).Set(0);
      consumers_.Get({queue}).Set(0);
    }
  }
  void Outbox(double lag_seconds, int64_t rows) override {
    outbox_lag_.Set(lag_seconds);
    outbox_rows_.Set(static_cast<double>(rows));
  }
  void Workers(int64_t alive) override { workers_.Set(static_cast<double>(alive)); }
  void DispatchAged(const std::string& queue, uint64_t tasks) override {
    dispatch_aged_.Get({queue}).Increment(static_cast<double>(tasks));
  }
  void DispatchWindowFull(const std::string& queue, bool full) override {
    window_full_.Get({queue}).Set(full ? 1 : 0);
  }
  void EnqueueGroup(size_t tasks, double seconds) override {
    group_size_.Observe(static_cast<double>(tasks));
    commit_seconds_.Observe(seconds);
  }
  void Backpressure(const std::string& reason) override { backpressure_.Get({reason}).Increment(); }
  void RelayInFlight(int64_t messages) override {
    relay_in_flight_.Set(static_cast<double>(messages));
  }

 private:
  Series<Counter> enqueued_;
  Counter& published_;
  Counter& released_;
  Series<Counter> republished_;
  Series<Counter> schedule_slots_;
  Series<Counter> lease_expiries_;
  Series<Counter> finished_;
  Series<Counter> dead_;
  Gauge& leader_;
  Series<Counter> ingested_;
  Series<Counter> api_requests_;
  Series<Histogram> api_seconds_;
  Series<Gauge> depth_;
  Series<Gauge> oldest_;
  Series<Gauge> consumers_;
  Gauge& outbox_lag_;
  Gauge& outbox_rows_;
  Gauge& workers_;
  Series<Counter> dispatch_aged_;
  Series<Gauge> window_full_;
  Histogram& group_size_;
  Histogram& commit_seconds_;
  Series<Counter> backpressure_;
  Gauge& relay_in_flight_;
  std::mutex queues_mutex_;
  std::set<std::string> seen_;
};

}  // namespace

std::unique_ptr<SchedulerMetrics> NewSchedulerMetrics(prometheus::Registry& registry) {
  return std::make_unique<PrometheusSchedulerMetrics>(registry);
}

}  // namespace fila::prom
