#pragma once

// Metrics that an extension's handlers record through the worker's
// Prometheus registry (WorkerServices::metrics, fila/sdk.h), without a
// Prometheus header: metrics/ implements this over prometheus-cpp, and
// NoMetricRegistry() records nothing (unit tests, a worker started with
// --metrics-listen off).
//
// A family is declared once, when the handlers are registered; its series
// are taken by label values while tasks run. Names follow
// docs/metrics.md: `fila_<kind>_...`, base units, `_total` on counters.
// Label values must come from a bounded set (an outcome code, a
// tribunal), never from a task id or anything a producer chooses freely.
// Everything here is thread-safe and lives as long as the registry.

#include <string>
#include <vector>

namespace fila {

class MetricCounter {
 public:
  virtual ~MetricCounter() = default;
  // Adds `by`; a negative or non-finite `by` is ignored.
  virtual void Increment(double by = 1) = 0;
};

class MetricHistogram {
 public:
  virtual ~MetricHistogram() = default;
  virtual void Observe(double value) = 0;
};

// The series of one family, by label values in the order of the family's
// label names. Throws PermanentError when the count of values differs.
template <typename Series>
class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  virtual Series& With(const std::vector<std::string>& label_values) = 0;
};

class MetricRegistry {
 public:
  virtual ~MetricRegistry() = default;
  // Declares a counter family (the name ends in `_total`) or a histogram
  // family with these bucket upper bounds (increasing). Declaring the same
  // family again returns it. Throws PermanentError for a name that is not
  // `fila_[a-z0-9_]+`, a counter without `_total`, a bad label name, bad
  // buckets, or a name already declared with another type or labels.
  virtual MetricFamily<MetricCounter>& Counter(const std::string& name, const std::string& help,
                                               const std::vector<std::string>& label_names) = 0;
  virtual MetricFamily<MetricHistogram>& Histogram(const std::string& name, const std::string& help,
                                                   const std::vector<std::string>& label_names,
                                                   const std::vector<double>& buckets) = 0;
};

// A registry that checks declarations as the real one does and records
// nothing.
MetricRegistry& NoMetricRegistry();

// The checks every MetricRegistry applies to a declaration (see above).
// Throws PermanentError.
void ValidateMetricDeclaration(const std::string& name, bool counter, const std::vector<std::string>& label_names,
                               const std::vector<double>& buckets = {});

}  // namespace fila
