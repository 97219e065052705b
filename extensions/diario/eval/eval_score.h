#pragma once

// Scores the extractor against hand-annotated documents
// (tests/fixtures/diarios/eval): precision and recall per field. Pure but
// for reading the files; thread-compatible.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fila::diario::eval {

struct Tally {
  int correct = 0;
  int extracted = 0;  // what the extractor gave (denominator of precision)
  int annotated = 0;  // what the annotation holds (denominator of recall)
  double Precision() const { return extracted == 0 ? 1.0 : static_cast<double>(correct) / extracted; }
  double Recall() const { return annotated == 0 ? 1.0 : static_cast<double>(correct) / annotated; }
  void Add(const Tally& o) {
    correct += o.correct;
    extracted += o.extracted;
    annotated += o.annotated;
  }
};

// Fields in the order they are printed: numbers, entries, class, parties,
// lawyers (name + OAB), rapporteur, outcome.
using Scores = std::map<std::string, Tally>;
const std::vector<std::string>& FieldNames();

// Scores one annotated document `json_path` (its "input" text next to it).
// Throws fila::PermanentError for a file that cannot be read or parsed.
Scores ScoreDocument(const std::filesystem::path& json_path);

// Every *.json under `dir`, summed.
Scores ScoreFolder(const std::filesystem::path& dir);

}  // namespace fila::diario::eval
