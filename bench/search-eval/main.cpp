// fila-search-eval: recall@k of fila search's three modes on a labelled
// query set (bench/search-eval/README.md). Needs a migrated database
// (bench/search-eval/run.sh makes a fresh one); prints a Markdown table.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "eval.h"
#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"

namespace {

using fila::document::SearchMode;
constexpr SearchMode kModes[] = {SearchMode::kVector, SearchMode::kText, SearchMode::kHybrid};

std::string Percent(double x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * x);
  return buf;
}

std::string Rank(size_t r) { return r == 0 ? "-" : std::to_string(r); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Recall@k of fila search (vector, text, hybrid) on a labelled query set"};
  std::string queries = std::string(FILA_SOURCE_DIR) + "/bench/search-eval/queries.json";
  std::string root = FILA_SOURCE_DIR;
  const char* env_url = std::getenv("FILA_DATABASE_URL");
  std::string url = env_url == nullptr ? "" : env_url;
  size_t k = 5;
  bool details = false;
  bool json = false;
  bool skip_ingest = false;
  std::string split;
  fila::document::SearchOptions options;
  app.add_option("--queries", queries, "The labelled set (JSON)");
  app.add_option("--root", root, "Folder the set's document paths are relative to");
  app.add_option("--database-url", url, "A migrated database (default FILA_DATABASE_URL); its documents are replaced");
  app.add_option("-k", k, "Recall at this many results")->check(CLI::Range(1, 100));
  app.add_flag("--details", details, "Also the rank of the first relevant chunk, per query and mode");
  app.add_flag("--json", json, "Print JSON");
  app.add_option("--split", split, "Only the queries of this split")->check(CLI::IsMember({"dev", "test"}));
  app.add_option("--rrf-k", options.rrf_k, "Hybrid: the fusion's constant (default 60)");
  app.add_option("--depth", options.depth, "Hybrid: chunks read from each ranking");
  app.add_option("--vector-weight", options.vector_weight, "Hybrid: weight of a vector rank");
  app.add_option("--text-weight", options.text_weight, "Hybrid: weight of a text rank");
  app.add_flag("--skip-ingest", skip_ingest, "The documents are already stored (a previous run)");
  CLI11_PARSE(app, argc, argv);
  if (url.empty()) {
    std::cerr << "fila-search-eval: no database: --database-url or FILA_DATABASE_URL\n";
    return 2;
  }
  try {
    const auto set = fila::search_eval::LoadEvalSet(queries);
    auto store = fila::MakePostgresDocumentStore(url, 1);
    auto text = fila::MakePostgresTextIndex(url, 1);
    if (!skip_ingest) fila::search_eval::Ingest(set, root, *store, *text);
    options.top = k;
    const auto results = fila::search_eval::Evaluate(set, *store, *text, options, split);
    const auto summary = fila::search_eval::Summarize(results);
    if (json) {
      nlohmann::json out{{"k", k}, {"summary", nlohmann::json::array()}, {"queries", nlohmann::json::array()}};
      for (const auto& s : summary) {
        nlohmann::json row{{"split", s.split}, {"queries", s.queries}};
        for (SearchMode m : kModes) row[fila::document::SearchModeName(m)] = s.recall.at(m);
        out["summary"].push_back(row);
      }
      for (const auto& r : results) {
        nlohmann::json row{{"id", r.id}, {"split", r.split}};
        for (SearchMode m : kModes) {
          row[fila::document::SearchModeName(m)] = {{"recall", r.recall.at(m)}, {"first", r.first.at(m)}};
        }
        out["queries"].push_back(row);
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << "| split | queries | vector recall@" << k << " | text recall@" << k << " | hybrid recall@" << k
              << " |\n|---|--:|--:|--:|--:|\n";
    for (const auto& s : summary) {
      std::cout << "| " << s.split << " | " << s.queries;
      for (SearchMode m : kModes) std::cout << " | " << Percent(s.recall.at(m));
      std::cout << " |\n";
    }
    if (details) {
      std::cout << "\n| query | split | first relevant: vector | text | hybrid |\n|---|---|--:|--:|--:|\n";
      for (const auto& r : results) {
        std::cout << "| " << r.id << " | " << r.split;
        for (SearchMode m : kModes) std::cout << " | " << Rank(r.first.at(m));
        std::cout << " |\n";
      }
    }
    return 0;
  } catch (const fila::PermanentError& e) {
    std::cerr << "fila-search-eval: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fila-search-eval: " << e.what() << "\n";
    return 1;
  }
}
