#pragma once

// What diario.process reports on the worker's /metrics (docs/metrics.md):
// per processed gazette, its decisions by outcome and the share of them
// the outcome vocabulary left 'desconhecido'. No per-gazette label: a
// gazette's own share is in `fila diario stats`.

#include <optional>
#include <vector>

#include "fila/core/extension_metrics.h"
#include "fila/diario/extractor.h"

namespace fila::diario {

// Decisions (entries with a judgment text) and how many have no known
// outcome. Pure.
struct OutcomeShare {
  int decisions = 0;
  int unknown = 0;
  // unknown / decisions; nullopt for a gazette without decisions.
  std::optional<double> Ratio() const;
};
OutcomeShare CountUnknownOutcomes(const std::vector<Decision>& decisions);

// Thread-safe; `registry` must outlive it.
class DiarioMetrics final {
 public:
  // Declares fila_diario_decisions_total{outcome} (every outcome at zero)
  // and fila_diario_gazette_unknown_outcome_ratio. PermanentError from the
  // registry.
  explicit DiarioMetrics(MetricRegistry& registry);
  // One processed gazette: each decision counted under its outcome, and
  // the gazette's unknown share observed when it has decisions.
  void Gazette(const std::vector<Decision>& decisions);

 private:
  MetricFamily<MetricCounter>& decisions_;
  MetricHistogram& unknown_ratio_;
};

}  // namespace fila::diario
