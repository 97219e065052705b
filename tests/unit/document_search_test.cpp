// fila search without a database: reciprocal rank fusion, the modes and
// what each asks of the stores; and the chunking settings ingest and
// `fila document chunk` share.
#include <gtest/gtest.h>

#include "fila/core/errors.h"
#include "fila/document/chunker.h"
#include "fila/document/search.h"

namespace fila::document {
namespace {

SearchHit Hit(const std::string& document, int ordinal, double score = 0, const std::string& tenant = "t") {
  SearchHit h;
  h.tenant = tenant;
  h.owner = "o";
  h.document_id = document;
  h.ordinal = ordinal;
  h.score = score;
  h.text = document + "#" + std::to_string(ordinal);
  return h;
}

std::vector<std::string> Texts(const std::vector<RankedHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.hit.text);
  return out;
}

TEST(DocumentFusion, SumsReciprocalRanksOfBothRankings) {
  // a: vector 1, text 3; b: vector 2 only; c: text 1 only; d: text 2, vector 3.
  const auto fused = FuseReciprocalRank({Hit("a", 0), Hit("b", 0), Hit("d", 0)},
                                        {Hit("c", 0), Hit("d", 0), Hit("a", 0)}, 10, 60);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(Texts(fused), (std::vector<std::string>{"a#0", "d#0", "c#0", "b#0"}));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_EQ(fused[0].vector_rank, 1u);
  EXPECT_EQ(fused[0].text_rank, 3u);
  EXPECT_DOUBLE_EQ(fused[1].score, 1.0 / 63 + 1.0 / 62);
  // c (text 1) and b (vector 2) are alone in one ranking each.
  EXPECT_DOUBLE_EQ(fused[2].score, 1.0 / 61);
  EXPECT_EQ(fused[2].vector_rank, 0u);
  EXPECT_EQ(fused[2].text_rank, 1u);
  EXPECT_DOUBLE_EQ(fused[3].score, 1.0 / 62);
}

TEST(DocumentFusion, KAndWeightsChangeTheOrder) {
  // x: vector 1 only; y: vector 4 and text 4. With k = 60 agreement wins,
  // with k = 1 a first place does.
  const std::vector<SearchHit> vector{Hit("x", 0), Hit("p", 0), Hit("q", 0), Hit("y", 0)};
  const std::vector<SearchHit> text{Hit("r", 0), Hit("s", 0), Hit("u", 0), Hit("y", 0)};
  EXPECT_EQ(FuseReciprocalRank(vector, text, 1, 60)[0].hit.text, "y#0");
  EXPECT_EQ(FuseReciprocalRank(vector, text, 1, 1)[0].hit.text, "x#0");
  // Weighting text 3x puts the text ranking's first (r) above x.
  EXPECT_EQ(FuseReciprocalRank(vector, text, 1, 1, 1, 3)[0].hit.text, "r#0");
}

TEST(DocumentFusion, SameChunkMeansSameTenantOwnerDocumentAndOrdinal) {
  // Same document id and ordinal in two tenants: two chunks, never merged.
  const auto fused = FuseReciprocalRank({Hit("a", 0, 0, "acme")}, {Hit("a", 0, 0, "globex")}, 10, 5);
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_EQ(fused[0].hit.tenant, "acme");  // a tie goes to the vector ranking's
  EXPECT_EQ(fused[0].text_rank, 0u);
  EXPECT_EQ(fused[1].hit.tenant, "globex");
  EXPECT_EQ(fused[1].vector_rank, 0u);
  // Other ordinals of one document are other chunks.
  EXPECT_EQ(FuseReciprocalRank({Hit("a", 0), Hit("a", 1)}, {Hit("a", 1)}, 10, 5)[0].hit.ordinal, 1);
}

TEST(DocumentFusion, KeepsTopAndCountsADuplicateOnce) {
  const auto fused = FuseReciprocalRank({Hit("a", 0), Hit("a", 0), Hit("b", 0)}, {}, 1, 5);
  ASSERT_EQ(fused.size(), 1u);
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 6);
  EXPECT_TRUE(FuseReciprocalRank({}, {}, 5, 5).empty());
}

// Stores that record what they were asked and answer from scripts.
class ScriptedStore final : public DocumentStore {
 public:
  std::string Replace(const DocumentRecord&, const std::vector<StoredChunk>&) override { return ""; }
  std::vector<std::string> Embedders(const SearchFilter& filter) override {
    filters.push_back(filter);
    return {"{\"kind\":\"offline\",\"version\":1,\"dimension\":16}"};
  }
  std::vector<SearchHit> Search(const SearchFilter& filter, const std::string&, const std::vector<float>& query,
                                size_t top) override {
    filters.push_back(filter);
    asked_top = top;
    query_dimension = query.size();
    std::vector<SearchHit> out = hits;
    if (out.size() > top) out.resize(top);
    return out;
  }
  std::vector<SearchHit> hits;
  std::vector<SearchFilter> filters;
  size_t asked_top = 0;
  size_t query_dimension = 0;
};

class ScriptedText final : public TextIndex {
 public:
  std::vector<SearchHit> TextSearch(const SearchFilter& filter, const std::string& query, size_t top) override {
    filters.push_back(filter);
    queries.push_back(query);
    asked_top = top;
    std::vector<SearchHit> out = hits;
    if (out.size() > top) out.resize(top);
    return out;
  }
  size_t SetLanguage(const std::string&, const std::string&, const std::string&) override { return 0; }
  std::vector<LanguageSetting> Languages(const std::string&) override { return {}; }
  std::vector<std::string> AvailableLanguages() override { return {}; }
  bool FoldsAccents() override { return true; }
  std::vector<SearchHit> hits;
  std::vector<SearchFilter> filters;
  std::vector<std::string> queries;
  size_t asked_top = 0;
};

class DocumentSearchModes : public ::testing::Test {
 protected:
  std::vector<RankedHit> Run(SearchMode mode, size_t top, const std::string& query = "ergonomic chair") {
    return SearchChunks(store_, text_, filter_, query, {.mode = mode, .top = top},
                        [](const std::string&) { return MakeOfflineEmbedder(16); }, {});
  }
  ScriptedStore store_;
  ScriptedText text_;
  SearchFilter filter_{.tenant = "acme", .owner = "alice"};
};

TEST_F(DocumentSearchModes, VectorAsksOnlyTheVectorStore) {
  store_.hits = {Hit("v", 0, 0.9), Hit("v", 1, 0.5)};
  const auto hits = Run(SearchMode::kVector, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].hit.text, "v#0");
  EXPECT_DOUBLE_EQ(hits[0].score, 0.9);
  EXPECT_EQ(hits[0].vector_rank, 1u);
  EXPECT_EQ(store_.query_dimension, 16u);  // embedded by the stored embedder's kind
  EXPECT_TRUE(text_.queries.empty());
}

TEST_F(DocumentSearchModes, TextAsksOnlyTheTextIndex) {
  text_.hits = {Hit("t", 3, 2.5)};
  const auto hits = Run(SearchMode::kText, 4);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].text_rank, 1u);
  EXPECT_DOUBLE_EQ(hits[0].score, 2.5);
  EXPECT_EQ(text_.queries, std::vector<std::string>{"ergonomic chair"});
  EXPECT_EQ(text_.asked_top, 4u);
  EXPECT_TRUE(store_.filters.empty());
}

TEST_F(DocumentSearchModes, HybridReadsBothToTheFusionDepthAndFusesThem) {
  store_.hits = {Hit("both", 0), Hit("vector-only", 0)};
  text_.hits = {Hit("text-only", 0), Hit("both", 0)};
  const auto hits = Run(SearchMode::kHybrid, 2);
  EXPECT_EQ(store_.asked_top, kFusionDepth);
  EXPECT_EQ(text_.asked_top, kFusionDepth);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].hit.text, "both#0");
  EXPECT_EQ(hits[0].vector_rank, 1u);
  EXPECT_EQ(hits[0].text_rank, 2u);
  EXPECT_DOUBLE_EQ(hits[0].score, 1.0 / (kRrfK + 1) + 1.0 / (kRrfK + 2));
  // A top deeper than the fusion depth reads that deep.
  Run(SearchMode::kHybrid, kFusionDepth + 7);
  EXPECT_EQ(text_.asked_top, kFusionDepth + 7);
}

TEST_F(DocumentSearchModes, EveryStoreCallCarriesTheCallersFilter) {
  Run(SearchMode::kHybrid, 3);
  ASSERT_FALSE(store_.filters.empty());
  ASSERT_FALSE(text_.filters.empty());
  for (const auto& f : store_.filters) EXPECT_EQ(f.tenant, "acme");
  for (const auto& f : text_.filters) {
    EXPECT_EQ(f.tenant, "acme");
    EXPECT_EQ(f.owner, "alice");
  }
}

TEST_F(DocumentSearchModes, BadModesAndEmptyQueriesArePermanentErrors) {
  EXPECT_EQ(SearchModeNamed("hybrid"), SearchMode::kHybrid);
  EXPECT_EQ(SearchModeNamed("vector"), SearchMode::kVector);
  EXPECT_EQ(SearchModeNamed("text"), SearchMode::kText);
  EXPECT_STREQ(SearchModeName(SearchModeNamed("text")), "text");
  EXPECT_THROW(SearchModeNamed("Hybrid"), PermanentError);
  EXPECT_THROW(SearchModeNamed(""), PermanentError);
  EXPECT_THROW(Run(SearchMode::kHybrid, 5, ""), PermanentError);
}

TEST(DocumentChunkingSettings, DefaultsAndLimitsAreIngestsWithTheCallersNames) {
  const ChunkOptions d = ChunkingFor(0, std::nullopt, LengthUnit::kCodePoints);
  EXPECT_EQ(d.size, 1000u);
  EXPECT_EQ(d.overlap, 200u);
  EXPECT_EQ(ChunkingFor(300, std::nullopt, LengthUnit::kBytes).overlap, 60u);  // size / 5
  EXPECT_EQ(ChunkingFor(300, 0, LengthUnit::kBytes).overlap, 0u);
  EXPECT_EQ(ChunkingFor(300, 0, LengthUnit::kBytes).unit, LengthUnit::kBytes);
  try {
    ChunkingFor(10, 10, LengthUnit::kCodePoints, {.size = "--size", .overlap = "--overlap", .field_prefix = ""});
    FAIL() << "overlap = size accepted";
  } catch (const PermanentError& e) {
    EXPECT_STREQ(e.what(), "--overlap (10) must be smaller than --size (10)");
    EXPECT_EQ(e.field(), "--overlap");
  }
  try {
    ChunkingFor(100001, std::nullopt, LengthUnit::kCodePoints);
    FAIL() << "size over the maximum accepted";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "payload.chunking.size");
  }
}

}  // namespace
}  // namespace fila::document
