// fila-diario-eval: precision and recall of the extractor per field on the
// hand-annotated set, each half apart (bench/diario-eval runs it). With
// --floor, exits 1 when a recall falls below its floor: CI holds the
// development half to the figures it reached, never the test half.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "eval_score.h"
#include "fila/core/errors.h"

int main(int argc, char** argv) {
  namespace ev = fila::diario::eval;
  CLI::App app{"Scores diário extraction against hand-annotated documents, per half and field"};
  std::string dir = "tests/fixtures/diarios/eval";
  std::vector<std::string> halves = {"dev", "test"};
  std::vector<std::string> floor_args;
  std::map<std::string, double> floors;
  app.add_option("--dir", dir, "Folder with one subfolder per half")->capture_default_str();
  app.add_option("--half", halves, "Halves to score (subfolders of --dir)")->delimiter(',')->capture_default_str();
  app.add_option("--floor", floor_args,
                 "FIELD=RECALL: exit 1 when a scored half's recall of FIELD is below it (e.g. entries=0.9)")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  for (const auto& arg : floor_args) {
    const size_t eq = arg.find('=');
    char* end = nullptr;
    const double v = eq == std::string::npos ? -1 : std::strtod(arg.c_str() + eq + 1, &end);
    if (eq == std::string::npos || end == nullptr || *end != '\0' || v < 0 || v > 1) {
      std::fprintf(stderr, "fila-diario-eval: --floor wants FIELD=RECALL (0..1), not '%s'\n", arg.c_str());
      return 2;
    }
    floors[arg.substr(0, eq)] = v;
  }
  try {
    bool below = false;
    std::printf("%-6s %-12s %9s %9s %8s %10s %10s\n", "half", "field", "precision", "recall", "correct",
                "extracted", "annotated");
    for (const auto& half : halves) {
      const ev::Scores s = ev::ScoreFolder(dir + "/" + half);
      for (const auto& field : ev::FieldNames()) {
        const ev::Tally& t = s.at(field);
        std::printf("%-6s %-12s %8.1f%% %8.1f%% %8d %10d %10d\n", half.c_str(), field.c_str(), 100 * t.Precision(),
                    100 * t.Recall(), t.correct, t.extracted, t.annotated);
        if (auto it = floors.find(field); it != floors.end() && t.Recall() < it->second) {
          std::fprintf(stderr, "fila-diario-eval: %s %s recall %.3f is below its floor %.3f\n", half.c_str(),
                       field.c_str(), t.Recall(), it->second);
          below = true;
        }
      }
    }
    for (const auto& [field, value] : floors) {
      const auto& names = ev::FieldNames();
      if (std::find(names.begin(), names.end(), field) == names.end()) {
        std::fprintf(stderr, "fila-diario-eval: unknown field '%s' in --floor\n", field.c_str());
        return 2;
      }
    }
    std::printf("(outcome recall is the outcome accuracy over annotated judgments)\n");
    return below ? 1 : 0;
  } catch (const fila::Error& e) {
    std::fprintf(stderr, "fila-diario-eval: %s\n", e.what());
    return 2;
  }
}
