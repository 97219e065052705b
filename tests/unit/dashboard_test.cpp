// The Grafana dashboard (dashboards/fila.json) keeps its promises: every
// panel says what it shows and what to do, loss panels turn red, every
// query honours the namespace and queue variables, gauges sampled by every
// scheduler replica are de-duplicated with max, and only metrics of
// docs/metrics.md are used. Each check also runs on a broken copy, so that
// a check that can no longer fail is noticed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fila {
namespace {

using nlohmann::json;
using Problems = std::vector<std::string>;

// Panels whose rise means work is lost or delayed: they must have a
// threshold that turns them red.
const std::set<std::string> kLossMetrics{
    "fila_tasks_dead_total",      "fila_lease_expiries_total", "fila_task_redeliveries_total",
    "fila_poison_messages_total", "fila_outbox_lag_seconds",   "fila_ready",
    "fila_queue_oldest_age_seconds"};
// Metrics with a queue label: their selectors must honour $queue.
const std::set<std::string> kQueueLabelled{
    "fila_deliveries_total",       "fila_task_redeliveries_total", "fila_tasks_started_total",
    "fila_tasks_finished_total",   "fila_task_retries_total",      "fila_tasks_dead_total",
    "fila_task_run_seconds",       "fila_task_wait_seconds",       "fila_task_duplicates_total",
    "fila_poison_messages_total",  "fila_tasks_enqueued_total",    "fila_queue_depth",
    "fila_queue_oldest_age_seconds"};
// Sampled from PostgreSQL by every scheduler replica: summing them would
// count each task once per replica.
const std::set<std::string> kReplicaGauges{"fila_queue_depth", "fila_queue_oldest_age_seconds",
                                           "fila_outbox_lag_seconds", "fila_outbox_rows",
                                           "fila_workers"};

std::string ReadFile(const std::string& relative) {
  std::ifstream in(std::string(FILA_SOURCE_DIR) + "/" + relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json Dashboard() { return json::parse(ReadFile("dashboards/fila.json")); }

bool IsRow(const json& panel) { return panel.value("type", "") == "row"; }

// Every panel, with the panels of collapsed rows; rows themselves too.
std::vector<const json*> AllPanels(const json& dashboard) {
  std::vector<const json*> out;
  for (const auto& p : dashboard.at("panels")) {
    out.push_back(&p);
    if (p.contains("panels")) {
      for (const auto& nested : p.at("panels")) out.push_back(&nested);
    }
  }
  return out;
}

std::vector<std::string> Exprs(const json& panel) {
  std::vector<std::string> out;
  for (const auto& t : panel.value("targets", json::array())) out.push_back(t.value("expr", ""));
  return out;
}

std::string Name(const json& panel) { return "'" + panel.value("title", "?") + "'"; }

// Each metric selector of `expr`: the metric name and what is between its
// braces ("" when the selector has none, which the checks reject).
std::vector<std::pair<std::string, std::string>> Selectors(const std::string& expr) {
  static const std::regex kMetric("fila_[a-z0-9_]+");
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kMetric); it != std::sregex_iterator();
       ++it) {
    const size_t after = static_cast<size_t>(it->position() + it->length());
    std::string labels;
    if (after < expr.size() && expr[after] == '{') {
      labels = expr.substr(after + 1, expr.find('}', after) - after - 1);
    }
    out.emplace_back(it->str(), labels);
  }
  return out;
}

Problems MissingDescriptions(const json& dashboard) {
  Problems out;
  for (const json* p : AllPanels(dashboard)) {
    // Grafana neither shows nor keeps a row's description: rows are headers.
    if (IsRow(*p)) continue;
    const std::string d = p->value("description", "");
    if (d.find_first_not_of(" \t\n") == std::string::npos) out.push_back(Name(*p) + " has no description");
  }
  return out;
}

bool HasColouredStep(const json& panel) {
  const json steps = panel.value("/fieldConfig/defaults/thresholds/steps"_json_pointer, json::array());
  for (const auto& s : steps) {
    if (s.contains("value") && s.at("value").is_number()) return true;
  }
  return false;
}

Problems LossPanelsWithoutThresholds(const json& dashboard) {
  Problems out;
  std::set<std::string> shown;
  for (const json* p : AllPanels(dashboard)) {
    bool loss = false;
    for (const auto& expr : Exprs(*p)) {
      if (expr.find("outcome!=\"succeeded\"") != std::string::npos) loss = true;  // failure rate
      for (const auto& [metric, labels] : Selectors(expr)) {
        if (kLossMetrics.count(metric)) {
          loss = true;
          shown.insert(metric);
        }
      }
    }
    if (loss && !HasColouredStep(*p)) {
      out.push_back(Name(*p) + " shows a loss metric without a threshold step");
    }
  }
  for (const auto& m : kLossMetrics) {
    if (!shown.count(m)) out.push_back(m + " is on no panel");
  }
  return out;
}

Problems MissingVariables(const json& dashboard) {
  Problems out;
  std::map<std::string, json> vars;
  for (const auto& v : dashboard.at("templating").at("list")) vars[v.value("name", "")] = v;
  if (!vars.count("datasource") || vars["datasource"].value("type", "") != "datasource" ||
      vars["datasource"].value("query", "") != "prometheus") {
    out.push_back("no datasource variable of type datasource/prometheus");
  }
  for (const char* name : {"namespace", "queue"}) {
    if (!vars.count(name)) {
      out.push_back(std::string("no variable ") + name);
      continue;
    }
    const json& v = vars[name];
    if (v.value("type", "") != "query" || !v.value("includeAll", false) || !v.value("multi", false) ||
        v.value("allValue", "") != ".*") {
      out.push_back(std::string("variable ") + name + " is not a multi-value query with All = .*");
    }
  }
  return out;
}

Problems UnfilteredSelectors(const json& dashboard) {
  Problems out;
  for (const json* p : AllPanels(dashboard)) {
    for (const auto& expr : Exprs(*p)) {
      if (expr.empty()) out.push_back(Name(*p) + " has a target without expr");
      for (const auto& [metric, labels] : Selectors(expr)) {
        if (labels.find("namespace=~\"$namespace\"") == std::string::npos) {
          out.push_back(Name(*p) + ": " + metric + " not filtered by $namespace");
        }
        if (kQueueLabelled.count(metric) && labels.find("queue=~\"$queue\"") == std::string::npos) {
          out.push_back(Name(*p) + ": " + metric + " not filtered by $queue");
        }
      }
    }
  }
  return out;
}

Problems ReplicaGaugesSummed(const json& dashboard) {
  Problems out;
  for (const json* p : AllPanels(dashboard)) {
    for (const auto& expr : Exprs(*p)) {
      for (const auto& metric : kReplicaGauges) {
        // Every selector of the gauge must be the direct argument of max.
        const std::regex any(metric + "\\{");
        const std::regex under_max("max\\s*(by\\s*\\([^)]*\\)\\s*)?\\(\\s*" + metric + "\\{");
        const auto count = [&](const std::regex& r) {
          return std::distance(std::sregex_iterator(expr.begin(), expr.end(), r), std::sregex_iterator());
        };
        if (count(any) != count(under_max)) {
          out.push_back(Name(*p) + ": " + metric + " not aggregated with max");
        }
      }
    }
  }
  return out;
}

// The panels of the first row: nested when it is collapsed, else those
// after it up to the next row.
std::vector<json> HealthTiles(const json& dashboard) {
  const json& panels = dashboard.at("panels");
  if (panels.empty() || !IsRow(panels[0])) return {};
  if (panels[0].value("collapsed", false)) return panels[0].value("panels", json::array());
  std::vector<json> out;
  for (size_t i = 1; i < panels.size() && !IsRow(panels[i]); ++i) out.push_back(panels[i]);
  return out;
}

Problems HealthRowProblems(const json& dashboard) {
  Problems out;
  const auto tiles = HealthTiles(dashboard);
  if (tiles.size() != 5) {
    out.push_back("the health row holds " + std::to_string(tiles.size()) + " panels, not 5");
  }
  // What each tile's query must contain, in order.
  const std::vector<std::pair<std::string, std::string>> kTiles{
      {"backlog", "fila_queue_depth\\{[^}]*state=\"queued\""},
      {"in-flight", "fila_queue_depth\\{[^}]*state=\"running\""},
      {"throughput", "rate\\(fila_tasks_finished_total\\{"},
      {"failure rate", "outcome!=\"succeeded\""},
      {"workers", "fila_workers\\{"}};
  for (size_t i = 0; i < kTiles.size() && i < tiles.size(); ++i) {
    const auto exprs = Exprs(tiles[i]);
    const bool match = !exprs.empty() && std::regex_search(exprs[0], std::regex(kTiles[i].second));
    if (tiles[i].value("type", "") != "stat" || !match) {
      out.push_back("health tile " + std::to_string(i + 1) + " is not the " + kTiles[i].first + " stat");
    }
  }
  return out;
}

// Metric names and types from the tables of docs/metrics.md.
std::map<std::string, std::string> DocumentedMetrics() {
  static const std::regex kRow("\\| `(fila_[a-z0-9_]+)` \\| ([a-z]+) \\|");
  const std::string doc = ReadFile("docs/metrics.md");
  std::map<std::string, std::string> out;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), kRow); it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = (*it)[2];
  }
  return out;
}

Problems UndocumentedMetrics(const json& dashboard) {
  const auto documented = DocumentedMetrics();
  Problems out;
  for (const json* p : AllPanels(dashboard)) {
    for (const auto& expr : Exprs(*p)) {
      for (const auto& [metric, labels] : Selectors(expr)) {
        std::string base = metric;
        for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
          const auto stem = metric.substr(0, metric.size() - std::min(metric.size(), suffix.size()));
          if (metric.ends_with(suffix) && documented.count(stem) && documented.at(stem) == "histogram") {
            base = stem;
          }
        }
        const bool bare_histogram = base == metric && documented.count(metric) &&
                                    documented.at(metric) == "histogram";
        if (!documented.count(base) || bare_histogram) {
          out.push_back(Name(*p) + ": " + metric + " is not in docs/metrics.md");
        }
      }
    }
  }
  return out;
}

TEST(DashboardJson, IdentifiesItselfAndUsesTheDatasourceVariable) {
  const json d = Dashboard();
  EXPECT_EQ(d.value("uid", ""), "fila-overview");
  EXPECT_EQ(d.value("title", ""), "fila");
  EXPECT_GE(d.value("schemaVersion", 0), 37);
  std::set<int> ids;
  for (const json* p : AllPanels(d)) {
    EXPECT_TRUE(ids.insert(p->value("id", 0)).second) << Name(*p) << " repeats a panel id";
    if (IsRow(*p)) continue;
    EXPECT_EQ(p->value("/datasource/uid"_json_pointer, ""), "${datasource}") << Name(*p);
    EXPECT_FALSE(Exprs(*p).empty()) << Name(*p) << " has no query";
    for (const auto& t : p->value("targets", json::array())) {
      EXPECT_EQ(t.value("/datasource/uid"_json_pointer, ""), "${datasource}") << Name(*p);
    }
  }
}

TEST(DashboardJson, EveryPanelHasADescription) {
  EXPECT_EQ(MissingDescriptions(Dashboard()), Problems{});
  json broken = Dashboard();
  broken["panels"][1]["description"] = " ";
  EXPECT_EQ(MissingDescriptions(broken).size(), 1u);
  broken["panels"].push_back({{"type", "row"}, {"collapsed", true}, {"panels", {{{"title", "hidden"}}}}});
  EXPECT_EQ(MissingDescriptions(broken).size(), 2u) << "panels nested in collapsed rows count";
}

TEST(DashboardJson, LossPanelsHaveThresholds) {
  EXPECT_EQ(LossPanelsWithoutThresholds(Dashboard()), Problems{});
  for (const auto& metric : kLossMetrics) {
    json broken = Dashboard();
    for (auto& p : broken["panels"]) {
      for (const auto& expr : Exprs(p)) {
        if (expr.find(metric + "{") != std::string::npos) {
          p["fieldConfig"]["defaults"]["thresholds"]["steps"] = {{{"color", "green"}, {"value", nullptr}}};
        }
      }
    }
    EXPECT_FALSE(LossPanelsWithoutThresholds(broken).empty()) << metric;
  }
}

TEST(DashboardJson, EveryLossMetricIsShown) {
  json broken = Dashboard();
  auto& panels = broken["panels"];
  for (auto it = panels.begin(); it != panels.end(); ++it) {
    const auto exprs = Exprs(*it);
    if (!exprs.empty() && exprs[0].find("fila_poison_messages_total") != std::string::npos) {
      panels.erase(it);
      break;
    }
  }
  EXPECT_EQ(LossPanelsWithoutThresholds(broken), Problems{"fila_poison_messages_total is on no panel"});
}

TEST(DashboardJson, NamespaceAndQueueVariablesExist) {
  EXPECT_EQ(MissingVariables(Dashboard()), Problems{});
  for (const char* name : {"namespace", "queue", "datasource"}) {
    json broken = Dashboard();
    auto& list = broken["templating"]["list"];
    for (auto& v : list) {
      if (v.value("name", "") == name) v["name"] = std::string(name) + "_renamed";
    }
    EXPECT_EQ(MissingVariables(broken).size(), 1u) << name;
  }
}

TEST(DashboardJson, EveryQueryFiltersByNamespaceAndQueue) {
  EXPECT_EQ(UnfilteredSelectors(Dashboard()), Problems{});
  json broken = Dashboard();
  auto& target = broken["panels"][1]["targets"][0];
  target["expr"] = std::regex_replace(target["expr"].get<std::string>(),
                                      std::regex("namespace=~\"\\$namespace\", "), "");
  EXPECT_EQ(UnfilteredSelectors(broken).size(), 1u) << target["expr"];
  target["expr"] = "sum(fila_queue_depth)";
  EXPECT_EQ(UnfilteredSelectors(broken).size(), 2u);
}

TEST(DashboardJson, ReplicaGaugesAreAggregatedWithMax) {
  EXPECT_EQ(ReplicaGaugesSummed(Dashboard()), Problems{});
  json broken = Dashboard();
  broken["panels"][1]["targets"][0]["expr"] =
      "sum by (queue) (fila_queue_depth{namespace=~\"$namespace\"})";
  EXPECT_EQ(ReplicaGaugesSummed(broken).size(), 1u);
}

TEST(DashboardJson, HealthRowHoldsTheFiveTiles) {
  EXPECT_EQ(HealthRowProblems(Dashboard()), Problems{});
  json missing = Dashboard();
  missing["panels"].erase(missing["panels"].begin() + 5);  // the workers tile
  EXPECT_FALSE(HealthRowProblems(missing).empty());
  json swapped = Dashboard();
  std::swap(swapped["panels"][1], swapped["panels"][2]);
  EXPECT_EQ(HealthRowProblems(swapped).size(), 2u);
  json graph = Dashboard();
  graph["panels"][4]["type"] = "timeseries";
  EXPECT_EQ(HealthRowProblems(graph).size(), 1u);
}

TEST(DashboardJson, UsesOnlyDocumentedMetrics) {
  ASSERT_GT(DocumentedMetrics().size(), 20u) << "docs/metrics.md tables not parsed";
  EXPECT_EQ(UndocumentedMetrics(Dashboard()), Problems{});
  json broken = Dashboard();
  broken["panels"][1]["targets"][0]["expr"] =
      "fila_queue_size{namespace=~\"$namespace\"} + fila_task_run_seconds{namespace=~\"$namespace\"}";
  EXPECT_EQ(UndocumentedMetrics(broken).size(), 2u) << "a renamed metric, a histogram without _bucket";
}

}  // namespace
}  // namespace fila
