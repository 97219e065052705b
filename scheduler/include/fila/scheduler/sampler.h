#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/backlog_board.h"
#include "fila/core/broker.h"
#include "fila/core/clock.h"
#include "fila/core/metrics.h"
#include "fila/core/readiness.h"

namespace fila {

class PostgresStore;

struct SamplerOptions {
  std::chrono::milliseconds interval{5000};
  // Workers whose heartbeat is older than this are not counted as alive.
  std::chrono::milliseconds worker_timeout{10000};
  // Where each sample's queued tasks by tenant are posted (the API's
  // backpressure reads them); null: nowhere. Must outlive the sampler.
  BacklogBoard* backlog = nullptr;
  // Queues reported at zero when they hold no unfinished task (the default
  // queues of the known task types); called once per sample, from the
  // sampler's thread. Empty: none beyond what the store knows.
  std::function<std::vector<std::string>()> known_queues;
};

// `sample` with a zero entry added for each of `known` it lacks, in queue
// order, so a known queue that emptied keeps its gauges at 0.
std::vector<QueueSample> WithKnownQueues(std::vector<QueueSample> sample,
                                         const std::vector<std::string>& known);

// How long after a sample that took `took` the next one starts: the
// interval, or 10 times `took` when that is longer (at most a minute). A
// sample counts every unfinished task: with a backlog of a million it took
// 1.3-1.5 s here, and once every 5 s that was 26-30 % of a core per replica.
std::chrono::milliseconds SampleSpacing(std::chrono::milliseconds interval, std::chrono::nanoseconds took);

// A scheduler thread that samples the queue gauges from Postgres every
// interval (less often when sampling is slow: SampleSpacing) and watches
// the database (a ping at every interval in between) and the broker for
// /readyz. It owns a
// database connection and a broker connection that consumes nothing
// (`probe`, started with no queues): Connected() on it says whether
// RabbitMQ is reachable, whatever the relay and ingest are doing.
class Sampler final {
 public:
  Sampler(SamplerOptions options, std::unique_ptr<PostgresStore> store,
          std::unique_ptr<Consumer> probe, SchedulerMetrics& metrics);
  ~Sampler();
  void Start();
  void Stop();

  // Thread-safe: nullopt when fine, else what is wrong.
  std::optional<std::string> DatabaseProblem() const;
  std::optional<std::string> BrokerProblem() const;

 private:
  void Loop();
  void SampleOnce();
  void WaitInterval();

  SamplerOptions options_;
  std::unique_ptr<PostgresStore> store_;
  std::unique_ptr<Consumer> probe_;
  SchedulerMetrics& metrics_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sampled_{false};  // once: "starting" until then
  PartHealth database_;
  std::atomic<bool> probe_started_{false};
  SteadyClock::time_point next_sample_{};  // the sampler's thread only
  std::thread thread_;
};

}  // namespace fila
