// The daemons' /metrics pass `promtool check metrics` (the Prometheus
// project's linter: exposition syntax, _total on counters, base units,
// metadata), with every kind of series present.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "observability_fixture.h"

namespace fila::obs {
namespace {

using namespace std::chrono_literals;

class Promtool : public Observability {
 protected:
  void SetUp() override {
    if (promtool_.empty()) {
      GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/install-deps "
                      "installs it and CI runs this test)";
    }
    Observability::SetUp();
  }

  void TearDown() override {
    if (!promtool_.empty()) Observability::TearDown();
  }

  // Fails the test unless promtool accepts `exposition` without a remark.
  void ExpectClean(const std::string& what, const std::string& exposition) {
    ASSERT_NE(exposition.find("# TYPE fila_"), std::string::npos) << what << " exposed no fila metric";
    Tool promtool(promtool_, {"check", "metrics"}, dir_, exposition);
    const int status = promtool.Wait(60s);
    ASSERT_NE(status, -1) << "promtool did not finish";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << what << ": promtool exit status " << status << "\n" << promtool.Stdout() << promtool.Stderr();
    EXPECT_EQ(promtool.Stdout() + promtool.Stderr(), "") << what << "\n" << exposition;
  }

  std::string promtool_ = FindOnPath("promtool");
};

// The check above means something only if promtool speaks up about a
// lint problem: a counter without _total.
TEST(PromtoolItself, ComplainsAboutABadExposition) {
  const std::string promtool = FindOnPath("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed";
  const std::string dir = NewTempDir();
  {
    Tool tool(promtool, {"check", "metrics"}, dir,
              "# HELP fila_bad A counter\n# TYPE fila_bad counter\nfila_bad 1\n");
    ASSERT_NE(tool.Wait(60s), -1);
    EXPECT_NE(tool.Stdout() + tool.Stderr(), "");
  }
  std::filesystem::remove_all(dir);
}

// The alert rules suggested in dashboards/README.md load into Prometheus.
TEST(AlertRules, ReadmeRulesPassPromtool) {
  const std::string promtool = FindOnPath("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed";
  const std::string rules = ReadmeAlertRules();
  ASSERT_NE(rules.find("alert:"), std::string::npos) << "no yaml block of rules in dashboards/README.md";
  const std::string dir = NewTempDir();
  std::ofstream(dir + "/rules.yml") << rules;
  {
    Tool tool(promtool, {"check", "rules", dir + "/rules.yml"}, dir);
    const int status = tool.Wait(60s);
    EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << tool.Stdout() << tool.Stderr();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(Promtool, WorkerAndSchedulerMetricsPassPromtool) {
  RunEveryKindOfTask();
  if (HasFatalFailure()) return;
  ExpectClean("fila-worker", Scrape(*worker_));
  ExpectClean("fila-scheduler", Scrape(*scheduler_));
}

}  // namespace
}  // namespace fila::obs
