// The search evaluation of bench/search-eval in CI: the labelled set over
// the demo documents, ingested into the real PostgreSQL; hybrid search must
// not fall below the better of vector and text on the whole set.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "eval.h"
#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"
#include "support/harness.h"

namespace fila {
namespace {

using document::SearchMode;

TEST(DocumentSearchEval, HybridRecallAt5IsAtLeastTheBetterOfVectorAndText) {
  test::TestDatabase db;
  auto store = MakePostgresDocumentStore(db.url(), 1);
  auto text = MakePostgresTextIndex(db.url(), 1);
  const auto set = search_eval::LoadEvalSet(test::SourceDir() + "/bench/search-eval/queries.json");
  ASSERT_GE(set.queries.size(), 30u);
  std::set<std::string> splits;
  for (const auto& q : set.queries) splits.insert(q.split);
  EXPECT_EQ(splits, (std::set<std::string>{"dev", "test"}));
  search_eval::Ingest(set, test::SourceDir(), *store, *text);
  EXPECT_EQ(db.Count("SELECT count(*) FROM documents"), static_cast<int64_t>(set.documents.size()));
  EXPECT_EQ(db.Count("SELECT count(*) FROM document_text_configs"), static_cast<int64_t>(set.languages.size()));

  const auto results = search_eval::Evaluate(set, *store, *text, {.top = 5});
  ASSERT_EQ(results.size(), set.queries.size());
  const auto summary = search_eval::Summarize(results);
  ASSERT_EQ(summary.back().split, "all");
  const auto& all = summary.back().recall;
  for (const auto& s : summary) {
    std::printf("%s (%zu queries): vector %.3f, text %.3f, hybrid %.3f\n", s.split.c_str(), s.queries,
                s.recall.at(SearchMode::kVector), s.recall.at(SearchMode::kText), s.recall.at(SearchMode::kHybrid));
  }
  EXPECT_GE(all.at(SearchMode::kHybrid), std::max(all.at(SearchMode::kVector), all.at(SearchMode::kText)));
  // Each mode finds something: a broken one would make the rule above hollow.
  EXPECT_GT(all.at(SearchMode::kVector), 0.3);
  EXPECT_GT(all.at(SearchMode::kText), 0.3);
}

TEST(DocumentSearchEval, ALabelThatMatchesNoChunkStopsTheEvaluation) {
  test::TestDatabase db;
  auto store = MakePostgresDocumentStore(db.url(), 1);
  auto text = MakePostgresTextIndex(db.url(), 1);
  auto set = search_eval::LoadEvalSet(test::SourceDir() + "/bench/search-eval/queries.json");
  set.queries.front().relevant.front().contains = "a phrase no demo document holds";
  EXPECT_THROW(search_eval::Ingest(set, test::SourceDir(), *store, *text), PermanentError);
}

}  // namespace
}  // namespace fila
