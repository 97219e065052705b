#include "fila/scheduler/sampler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "fila/core/errors.h"
#include "fila/core/process.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila {

std::vector<QueueSample> WithKnownQueues(std::vector<QueueSample> sample,
                                         const std::vector<std::string>& known) {
  std::set<std::string> present;
  for (const auto& q : sample) present.insert(q.queue);
  for (const auto& queue : known) {
    if (present.insert(queue).second) sample.push_back({.queue = queue});
  }
  std::sort(sample.begin(), sample.end(),
            [](const QueueSample& a, const QueueSample& b) { return a.queue < b.queue; });
  return sample;
}

std::chrono::milliseconds SampleSpacing(std::chrono::milliseconds interval, std::chrono::nanoseconds took) {
  constexpr int kCost = 10;
  constexpr std::chrono::milliseconds kLongest = std::chrono::minutes(1);
  const auto spacing = std::chrono::ceil<std::chrono::milliseconds>(kCost * took);
  return std::max(interval, std::min(spacing, kLongest));
}

Sampler::Sampler(SamplerOptions options, std::unique_ptr<PostgresStore> store,
                 std::unique_ptr<Consumer> probe, SchedulerMetrics& metrics)
    : options_(options), store_(std::move(store)), probe_(std::move(probe)), metrics_(metrics) {}

Sampler::~Sampler() { Stop(); }

void Sampler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Sampler::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  probe_->Wakeup();
  thread_.join();
}

std::optional<std::string> Sampler::DatabaseProblem() const {
  if (auto problem = database_.Problem()) return "cannot query PostgreSQL: " + *problem;
  if (!sampled_) return "cannot query PostgreSQL yet";
  return std::nullopt;
}

std::optional<std::string> Sampler::BrokerProblem() const {
  if (probe_started_ && probe_->Connected()) return std::nullopt;
  return probe_started_ ? "connection lost, reconnecting" : "cannot connect to RabbitMQ";
}

void Sampler::Loop() {
  while (!stop_) {
    // Every error is caught: this thread is what /readyz and the gauges
    // rely on, it must outlive whatever the database or broker does.
    try {
      if (!probe_started_) {
        try {
          probe_->Start({}, 1);
        } catch (const std::exception& e) {
          spdlog::debug("sampler: broker probe: {}", e.what());  // Next() keeps trying
        }
        probe_started_ = true;
      }
      try {
        if (SteadyClock::now() < next_sample_) {
          store_->Ping();  // the gauges can wait; readiness cannot
        } else {
          SampleOnce();
        }
        if (database_.Succeeded()) spdlog::info("sampler: PostgreSQL answers again");
      } catch (const std::exception& e) {
        if (database_.Failed(e.what()))
          spdlog::warn("sampler: cannot sample the queues: {}", e.what());
      }
      WaitInterval();
    } catch (const std::exception& e) {
      spdlog::error("sampler: {}; carrying on", e.what());
      SleepUnlessStopped(options_.interval, stop_);
    }
  }
}

void Sampler::SampleOnce() {
  const auto started = SteadyClock::now();
  auto sample = store_->SampleQueues(static_cast<uint32_t>(options_.worker_timeout.count()));
  const auto finished = SteadyClock::now();
  next_sample_ = finished + SampleSpacing(options_.interval, finished - started);
  if (options_.known_queues) {
    sample.queues = WithKnownQueues(std::move(sample.queues), options_.known_queues());
  }
  metrics_.Queues(sample.queues);
  metrics_.Outbox(sample.outbox_lag_seconds, sample.outbox_rows);
  metrics_.Workers(sample.workers_alive);
  if (options_.backlog) options_.backlog->Post(std::move(sample.queued_by_tenant));
  sampled_ = true;
}

void Sampler::WaitInterval() {
  // Waiting inside the probe serves its heartbeats and reconnects it.
  const Deadline until = DeadlineIn(options_.interval);
  while (!stop_ && SteadyClock::now() < until) {
    (void)probe_->Next(until);
  }
}

}  // namespace fila
