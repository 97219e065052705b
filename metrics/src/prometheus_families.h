#pragma once

// Helpers shared by the Prometheus implementations of the metric interfaces.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "fila/core/metrics.h"
#include "fila/metrics/metrics_server.h"

namespace fila::prom {

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& registry,
                                                 const std::string& name, const std::string& help);
prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& registry,
                                             const std::string& name, const std::string& help);
prometheus::Family<prometheus::Histogram>& Histogram(prometheus::Registry& registry,
                                                     const std::string& name,
                                                     const std::string& help);

// Families both daemons export: the worker for the attempts it ran, the
// scheduler for those its reaper took back from lost workers.
prometheus::Family<prometheus::Counter>& FinishedFamily(prometheus::Registry& registry);
prometheus::Family<prometheus::Counter>& DeadFamily(prometheus::Registry& registry);

// The series of one family by label values, cached: prometheus-cpp's
// Family::Add builds a whole metric (a histogram's buckets) on every call
// even when the series exists. Thread-safe.
template <typename T>
class Series final {
 public:
  Series(prometheus::Family<T>& family, std::vector<std::string> label_names)
      : family_(family), names_(std::move(label_names)) {}

  T& Get(std::initializer_list<std::string_view> values) {
    std::string key;
    for (auto v : values) {
      key.append(v);
      key.push_back('\x1f');
    }
    std::lock_guard lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    prometheus::Labels labels;
    size_t i = 0;
    for (auto v : values) labels.emplace(names_.at(i++), std::string(v));
    T* metric = nullptr;
    if constexpr (std::is_same_v<T, prometheus::Histogram>) {
      metric = &family_.Add(labels, prometheus::Histogram::BucketBoundaries(DurationBuckets()));
    } else {
      metric = &family_.Add(labels);
    }
    cache_.emplace(std::move(key), metric);
    return *metric;
  }

 private:
  prometheus::Family<T>& family_;
  std::vector<std::string> names_;
  std::mutex mutex_;
  std::unordered_map<std::string, T*> cache_;
};

std::unique_ptr<WorkerMetrics> NewWorkerMetrics(prometheus::Registry& registry);
std::unique_ptr<SchedulerMetrics> NewSchedulerMetrics(prometheus::Registry& registry);

}  // namespace fila::prom
