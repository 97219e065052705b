#pragma once

// Searching ingested chunks (`fila search`): by vector, by text, or both
// fused by reciprocal rank (docs/document-ingest.md, "Search modes").

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fila/document/document_store.h"
#include "fila/document/embedder.h"

namespace fila::document {

enum class SearchMode { kHybrid, kVector, kText };

// "hybrid", "vector", "text"; PermanentError (naming --mode) otherwise.
SearchMode SearchModeNamed(std::string_view name);
const char* SearchModeName(SearchMode mode);

// Reciprocal rank fusion: a chunk at rank r of a ranking scores
// 1 / (kRrfK + r), summed over the rankings; each ranking is read to depth
// max(top, kFusionDepth). The method's paper (Cormack, Clarke and
// Büttcher, SIGIR 2009) uses k = 60 over long rankings; on the development
// half of bench/search-eval (the test half was not used) k = 60 with depth
// 50 gave a hybrid recall@5 of 86.4% against text's 95.5%: with the
// offline embedder, whose top 50 holds a quarter of the demo chunks,
// chunks ranked mid-way by both rankings outscored the text ranking's
// first. k = 1, 2, 3 and 5 with depths 10, 20 and 50 all gave 100%; 5 and
// 20 sit inside that region (bench/search-eval/README.md).
inline constexpr double kRrfK = 5;
inline constexpr size_t kFusionDepth = 20;

struct SearchOptions {
  SearchMode mode = SearchMode::kHybrid;
  size_t top = 5;
  // Hybrid only: the fusion's constant, how deep each ranking is read, and
  // what a rank of each ranking weighs (a chunk scores the sum of
  // weight / (rrf_k + rank)).
  double rrf_k = kRrfK;
  size_t depth = kFusionDepth;
  double vector_weight = 1;
  double text_weight = 1;
};

struct RankedHit {
  SearchHit hit;
  // vector: cosine similarity; text: ts_rank_cd; hybrid: the fused score.
  double score = 0;
  size_t vector_rank = 0;  // 1-based rank in the vector ranking, 0 = not in it
  size_t text_rank = 0;    // 1-based rank in the text ranking, 0 = not in it
};

// Builds the embedder a stored descriptor names (EmbedderFromDescriptor
// with the caller's HTTP client and limits).
using EmbedderFor = std::function<std::unique_ptr<Embedder>(const std::string& descriptor)>;

// The `top` chunks most similar to `query` by vector: the query is embedded
// once per embedder among the documents `filter` selects, and each group
// is ranked by cosine (vectors compare only within one embedder). Scores
// of different embedders are merged as they are.
std::vector<SearchHit> VectorRanking(DocumentStore& store, const SearchFilter& filter, const std::string& query,
                                     size_t top, const EmbedderFor& embedder_for, const EmbedContext& context);

// Reciprocal rank fusion of two rankings (best first): every chunk scores
// the sum over the rankings it is in of weight / (k + rank), rank 1-based; a
// chunk is the same in both when tenant, owner, document and ordinal are.
// Best `top` first; ties go to the better single rank, then to the vector
// ranking's order, then to the text ranking's. Pure.
std::vector<RankedHit> FuseReciprocalRank(const std::vector<SearchHit>& vector, const std::vector<SearchHit>& text,
                                          size_t top, double k = kRrfK, double vector_weight = 1,
                                          double text_weight = 1);

// `fila search`: the best `options.top` chunks for `query` among those
// `filter` selects, in `options.mode`. PermanentError for an empty query;
// the stores' and embedders' errors otherwise. Never reaches documents
// outside the filter (a tenant's search sees only its tenant's chunks).
std::vector<RankedHit> SearchChunks(DocumentStore& store, TextIndex& text, const SearchFilter& filter,
                                    const std::string& query, const SearchOptions& options,
                                    const EmbedderFor& embedder_for, const EmbedContext& context);

}  // namespace fila::document
