// MetricRegistry (fila/core/extension_metrics.h) over the daemon's
// prometheus-cpp registry: extensions' families are exported on the same
// /metrics as the worker's own.
#include "extension_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

#include "fila/core/errors.h"

namespace fila::prom {
namespace {

class Counter final : public MetricCounter {
 public:
  explicit Counter(prometheus::Counter& c) : c_(c) {}
  void Increment(double by) override {
    if (std::isfinite(by) && by >= 0) c_.Increment(by);
  }

 private:
  prometheus::Counter& c_;
};

class Histogram final : public MetricHistogram {
 public:
  explicit Histogram(prometheus::Histogram& h) : h_(h) {}
  void Observe(double value) override {
    if (std::isfinite(value)) h_.Observe(value);
  }

 private:
  prometheus::Histogram& h_;
};

// The series of one family by label values, created on first use and
// cached (prometheus-cpp's Family::Add builds a whole metric each call).
template <typename Prom, typename Interface, typename Adapter>
class Family final : public MetricFamily<Interface> {
 public:
  Family(prometheus::Family<Prom>& family, std::vector<std::string> names, std::vector<double> buckets)
      : family_(family), names_(std::move(names)), buckets_(std::move(buckets)) {}

  Interface& With(const std::vector<std::string>& values) override {
    if (values.size() != names_.size()) {
      throw PermanentError("metric label values do not match the family's labels");
    }
    std::string key;
    for (const auto& v : values) key += v + '\x1f';
    std::lock_guard lock(mutex_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
    prometheus::Labels labels;
    for (size_t i = 0; i < names_.size(); ++i) labels.emplace(names_[i], values[i]);
    Prom* metric = nullptr;
    if constexpr (std::is_same_v<Prom, prometheus::Histogram>) {
      metric = &family_.Add(labels, prometheus::Histogram::BucketBoundaries(buckets_));
    } else {
      metric = &family_.Add(labels);
    }
    return *series_.emplace(std::move(key), std::make_unique<Adapter>(*metric)).first->second;
  }

 private:
  prometheus::Family<Prom>& family_;
  std::vector<std::string> names_;
  std::vector<double> buckets_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Adapter>> series_;
};

using CounterFamily = Family<prometheus::Counter, MetricCounter, Counter>;
using HistogramFamily = Family<prometheus::Histogram, MetricHistogram, Histogram>;

class Registry final : public MetricRegistry {
 public:
  explicit Registry(prometheus::Registry& registry) : registry_(registry) {}

  MetricFamily<MetricCounter>& Counter(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& labels) override {
    ValidateMetricDeclaration(name, true, labels);
    std::lock_guard lock(mutex_);
    Declared& d = Declare(name, true, labels, {});
    if (!d.counter_family) {
      auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(registry_);
      d.counter_family = std::make_unique<CounterFamily>(family, labels, std::vector<double>{});
    }
    return *d.counter_family;
  }

  MetricFamily<MetricHistogram>& Histogram(const std::string& name, const std::string& help,
                                           const std::vector<std::string>& labels,
                                           const std::vector<double>& buckets) override {
    ValidateMetricDeclaration(name, false, labels, buckets);
    std::lock_guard lock(mutex_);
    Declared& d = Declare(name, false, labels, buckets);
    if (!d.histogram_family) {
      auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(registry_);
      d.histogram_family = std::make_unique<HistogramFamily>(family, labels, buckets);
    }
    return *d.histogram_family;
  }

 private:
  struct Declared {
    bool counter = false;
    std::vector<std::string> labels;
    std::vector<double> buckets;
    std::unique_ptr<CounterFamily> counter_family;
    std::unique_ptr<HistogramFamily> histogram_family;
  };

  // The declaration of `name`, new or the same as before; PermanentError
  // when it was declared otherwise.
  Declared& Declare(const std::string& name, bool counter, const std::vector<std::string>& labels,
                    const std::vector<double>& buckets) {
    auto [it, fresh] = declared_.try_emplace(name);
    Declared& d = it->second;
    if (fresh) {
      d.counter = counter;
      d.labels = labels;
      d.buckets = buckets;
    } else if (d.counter != counter || d.labels != labels || d.buckets != buckets) {
      throw PermanentError("metric '" + name + "' is already declared with another type, labels or buckets");
    }
    return d;
  }

  prometheus::Registry& registry_;
  std::mutex mutex_;
  std::map<std::string, Declared> declared_;
};

}  // namespace

std::unique_ptr<MetricRegistry> NewExtensionMetrics(prometheus::Registry& registry) {
  return std::make_unique<Registry>(registry);
}

}  // namespace fila::prom
