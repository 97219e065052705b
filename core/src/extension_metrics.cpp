#include "fila/core/extension_metrics.h"

#include <cmath>
#include <memory>
#include <mutex>

#include "fila/core/errors.h"

namespace fila {
namespace {

bool Word(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

class NoCounter final : public MetricCounter {
 public:
  void Increment(double) override {}
};

class NoHistogram final : public MetricHistogram {
 public:
  void Observe(double) override {}
};

template <typename Series, typename Impl>
class NoFamily final : public MetricFamily<Series> {
 public:
  explicit NoFamily(size_t labels) : labels_(labels) {}
  Series& With(const std::vector<std::string>& values) override {
    if (values.size() != labels_) throw PermanentError("metric label values do not match the family's labels");
    return series_;
  }

 private:
  size_t labels_;
  Impl series_;
};

class NoRegistry final : public MetricRegistry {
 public:
  MetricFamily<MetricCounter>& Counter(const std::string& name, const std::string&,
                                       const std::vector<std::string>& labels) override {
    ValidateMetricDeclaration(name, true, labels);
    return Keep(counters_, labels.size());
  }
  MetricFamily<MetricHistogram>& Histogram(const std::string& name, const std::string&,
                                           const std::vector<std::string>& labels,
                                           const std::vector<double>& buckets) override {
    ValidateMetricDeclaration(name, false, labels, buckets);
    return Keep(histograms_, labels.size());
  }

 private:
  // One family per label count is enough: they record nothing.
  template <typename F>
  static F& Keep(std::vector<std::unique_ptr<F>>& families, size_t labels) {
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (families.size() <= labels) families.resize(labels + 1);
    if (!families[labels]) families[labels] = std::make_unique<F>(labels);
    return *families[labels];
  }
  std::vector<std::unique_ptr<NoFamily<MetricCounter, NoCounter>>> counters_;
  std::vector<std::unique_ptr<NoFamily<MetricHistogram, NoHistogram>>> histograms_;
};

}  // namespace

void ValidateMetricDeclaration(const std::string& name, bool counter, const std::vector<std::string>& label_names,
                               const std::vector<double>& buckets) {
  if (name.rfind("fila_", 0) != 0 || !Word(name) || name.size() > 200) {
    throw PermanentError("metric name '" + name.substr(0, 200) + "' is not fila_[a-z0-9_]+");
  }
  const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  if (counter != total) {
    throw PermanentError("metric '" + name + "': counters, and only counters, end in _total");
  }
  for (const auto& l : label_names) {
    if (!Word(l) || l.rfind("__", 0) == 0 || l == "le" || l == "quantile") {
      throw PermanentError("metric '" + name + "': bad label name '" + l.substr(0, 100) + "'");
    }
  }
  if (!counter) {
    if (buckets.empty()) throw PermanentError("histogram '" + name + "' has no buckets");
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
        throw PermanentError("histogram '" + name + "': buckets must be finite and increasing");
      }
    }
  }
}

MetricRegistry& NoMetricRegistry() {
  static auto* registry = new NoRegistry;  // never destroyed: handlers may outlive static destruction
  return *registry;
}

}  // namespace fila
