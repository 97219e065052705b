// What diario.process records per gazette (fila_diario_decisions_total,
// fila_diario_gazette_unknown_outcome_ratio), through a MetricRegistry
// that keeps what it is given, and the checks on a declaration.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "diario_metrics.h"
#include "fila/core/errors.h"

namespace fila::diario {
namespace {

// Keeps every value by family name and label values.
class RecordingRegistry final : public MetricRegistry {
 public:
  struct Series final : MetricCounter, MetricHistogram {
    double total = 0;
    std::vector<double> observed;
    void Increment(double by) override { total += by; }
    void Observe(double v) override { observed.push_back(v); }
  };
  template <typename I>
  struct Family final : MetricFamily<I> {
    std::map<std::vector<std::string>, Series> series;
    std::vector<double> buckets;
    I& With(const std::vector<std::string>& values) override { return series[values]; }
  };
  MetricFamily<MetricCounter>& Counter(const std::string& name, const std::string&,
                                       const std::vector<std::string>& labels) override {
    ValidateMetricDeclaration(name, true, labels);
    return counters[name];
  }
  MetricFamily<MetricHistogram>& Histogram(const std::string& name, const std::string&,
                                           const std::vector<std::string>& labels,
                                           const std::vector<double>& buckets) override {
    ValidateMetricDeclaration(name, false, labels, buckets);
    histograms[name].buckets = buckets;
    return histograms[name];
  }
  std::map<std::string, Family<MetricCounter>> counters;
  std::map<std::string, Family<MetricHistogram>> histograms;
};

Decision Judged(Outcome outcome) {
  Decision d;
  d.decision_text = "julgado";
  d.outcome = outcome;
  return d;
}

TEST(DiarioMetrics, EachGazetteCountsItsDecisionsByOutcomeAndObservesItsUnknownShare) {
  RecordingRegistry r;
  DiarioMetrics metrics(r);
  auto& decisions = r.counters["fila_diario_decisions_total"].series;
  // Every code is there at zero before the first gazette.
  EXPECT_EQ(decisions.count({"desconhecido"}), 1u);
  EXPECT_EQ(decisions.count({"competencia_declarada"}), 1u);
  EXPECT_EQ(decisions[{"provido"}].total, 0);

  Decision agenda;  // an entry without a judgment: no outcome to miss
  metrics.Gazette({Judged(Outcome::kProvido), Judged(Outcome::kProvido), Judged(Outcome::kUnknown),
                   Judged(Outcome::kNaoProvido), agenda});
  metrics.Gazette({agenda});  // no decisions: nothing observed
  metrics.Gazette({Judged(Outcome::kUnknown)});
  EXPECT_EQ(decisions[{"provido"}].total, 2);
  EXPECT_EQ(decisions[{"nao_provido"}].total, 1);
  EXPECT_EQ(decisions[{"desconhecido"}].total, 2);
  const auto& ratio = r.histograms["fila_diario_gazette_unknown_outcome_ratio"];
  ASSERT_EQ(ratio.series.size(), 1u);
  EXPECT_EQ(ratio.series.begin()->first, std::vector<std::string>{});
  EXPECT_EQ(ratio.series.begin()->second.observed, (std::vector<double>{0.25, 1.0}));
  EXPECT_EQ(ratio.buckets, (std::vector<double>{0, 0.05, 0.1, 0.2, 0.3, 0.5, 1}));
}

TEST(DiarioMetrics, TheShareOfAGazetteWithoutDecisionsIsNone) {
  EXPECT_FALSE(CountUnknownOutcomes({}).Ratio());
  const OutcomeShare s = CountUnknownOutcomes({Judged(Outcome::kUnknown), Judged(Outcome::kDeferido), Decision{}});
  EXPECT_EQ(s.decisions, 2);
  EXPECT_EQ(s.unknown, 1);
  EXPECT_DOUBLE_EQ(*s.Ratio(), 0.5);
}

TEST(ExtensionMetrics, DeclarationsOutsideTheNamingRulesAreRefused) {
  EXPECT_NO_THROW(ValidateMetricDeclaration("fila_x_total", true, {"outcome"}));
  EXPECT_THROW(ValidateMetricDeclaration("x_total", true, {}), PermanentError);        // no fila_ prefix
  EXPECT_THROW(ValidateMetricDeclaration("fila_x", true, {}), PermanentError);         // counter without _total
  EXPECT_THROW(ValidateMetricDeclaration("fila_x_total", false, {}, {1}), PermanentError);  // histogram with it
  EXPECT_THROW(ValidateMetricDeclaration("fila_X_total", true, {}), PermanentError);
  EXPECT_THROW(ValidateMetricDeclaration("fila_x_total", true, {"le"}), PermanentError);
  EXPECT_THROW(ValidateMetricDeclaration("fila_x_total", true, {"Bad-Label"}), PermanentError);
  EXPECT_THROW(ValidateMetricDeclaration("fila_x_ratio", false, {}, {}), PermanentError);
  EXPECT_THROW(ValidateMetricDeclaration("fila_x_ratio", false, {}, {0.5, 0.1}), PermanentError);
  // The registry that records nothing checks the same.
  EXPECT_THROW(NoMetricRegistry().Counter("fila_x", "", {}), PermanentError);
  EXPECT_THROW(NoMetricRegistry().Counter("fila_x_total", "", {"a"}).With({}), PermanentError);
  EXPECT_NO_THROW(NoMetricRegistry().Counter("fila_x_total", "", {"a"}).With({"v"}).Increment());
}

}  // namespace
}  // namespace fila::diario
