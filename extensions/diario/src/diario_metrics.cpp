#include "diario_metrics.h"

#include <string>

namespace fila::diario {

std::optional<double> OutcomeShare::Ratio() const {
  if (decisions <= 0) return std::nullopt;
  return static_cast<double>(unknown) / static_cast<double>(decisions);
}

OutcomeShare CountUnknownOutcomes(const std::vector<Decision>& decisions) {
  OutcomeShare s;
  for (const auto& d : decisions) {
    if (!d.HasDecision()) continue;  // an agenda's entry has no outcome to miss
    ++s.decisions;
    if (d.outcome == Outcome::kUnknown) ++s.unknown;
  }
  return s;
}

DiarioMetrics::DiarioMetrics(MetricRegistry& registry)
    : decisions_(registry.Counter("fila_diario_decisions_total",
                                  "Decisions (docket entries with a judgment) found in processed gazettes, by "
                                  "outcome code (desconhecido: wording the vocabulary does not know)",
                                  {"outcome"})),
      unknown_ratio_(registry
                         .Histogram("fila_diario_gazette_unknown_outcome_ratio",
                                    "Per processed gazette with decisions: the share of its decisions whose "
                                    "outcome is desconhecido (0 to 1)",
                                    {}, {0, 0.05, 0.1, 0.2, 0.3, 0.5, 1})
                         .With({})) {
  // Every code at zero, so the first of each shows as an increase.
  for (int o = static_cast<int>(Outcome::kUnknown); o <= static_cast<int>(kLastOutcome); ++o) {
    decisions_.With({std::string(OutcomeCode(static_cast<Outcome>(o)))});
  }
}

void DiarioMetrics::Gazette(const std::vector<Decision>& decisions) {
  for (const auto& d : decisions) {
    if (d.HasDecision()) decisions_.With({std::string(OutcomeCode(d.outcome))}).Increment();
  }
  if (auto ratio = CountUnknownOutcomes(decisions).Ratio()) unknown_ratio_.Observe(*ratio);
}

}  // namespace fila::diario
