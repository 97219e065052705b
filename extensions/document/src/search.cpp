#include "fila/document/search.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>

#include "fila/core/errors.h"

namespace fila::document {
namespace {

using ChunkKey = std::tuple<std::string, std::string, std::string, int>;

ChunkKey KeyOf(const SearchHit& h) { return {h.tenant, h.owner, h.document_id, h.ordinal}; }

std::vector<RankedHit> Ranked(std::vector<SearchHit> hits, bool vector) {
  std::vector<RankedHit> out;
  for (size_t i = 0; i < hits.size(); ++i) {
    RankedHit r{.score = hits[i].score};
    (vector ? r.vector_rank : r.text_rank) = i + 1;
    r.hit = std::move(hits[i]);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

SearchMode SearchModeNamed(std::string_view name) {
  if (name == "hybrid") return SearchMode::kHybrid;
  if (name == "vector") return SearchMode::kVector;
  if (name == "text") return SearchMode::kText;
  throw PermanentError("--mode is hybrid, vector or text", "--mode");
}

const char* SearchModeName(SearchMode mode) {
  switch (mode) {
    case SearchMode::kHybrid: return "hybrid";
    case SearchMode::kVector: return "vector";
    case SearchMode::kText: return "text";
  }
  return "hybrid";
}

std::vector<SearchHit> VectorRanking(DocumentStore& store, const SearchFilter& filter, const std::string& query,
                                     size_t top, const EmbedderFor& embedder_for, const EmbedContext& context) {
  std::vector<SearchHit> hits;
  for (const std::string& descriptor : store.Embedders(filter)) {
    const auto vectors = embedder_for(descriptor)->Embed({query}, context);
    if (vectors.size() != 1) throw TransientError("embedder returned a wrong number of vectors");
    for (auto& h : store.Search(filter, descriptor, vectors[0], top)) hits.push_back(std::move(h));
  }
  // Scores of different embedders are each a cosine: comparable enough to merge.
  std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  if (hits.size() > top) hits.resize(top);
  return hits;
}

std::vector<RankedHit> FuseReciprocalRank(const std::vector<SearchHit>& vector, const std::vector<SearchHit>& text,
                                          size_t top, double k, double vector_weight, double text_weight) {
  struct Entry {
    RankedHit ranked;
    size_t order = 0;  // first seen: vector ranking, then text ranking
  };
  std::map<ChunkKey, Entry> fused;
  size_t order = 0;
  auto add = [&](const std::vector<SearchHit>& ranking, bool is_vector) {
    for (size_t i = 0; i < ranking.size(); ++i) {
      auto [it, inserted] = fused.try_emplace(KeyOf(ranking[i]));
      Entry& e = it->second;
      if (inserted) {
        e.ranked.hit = ranking[i];
        e.order = order++;
      }
      size_t& rank = is_vector ? e.ranked.vector_rank : e.ranked.text_rank;
      if (rank != 0) continue;  // a chunk twice in one ranking counts once
      rank = i + 1;
      e.ranked.score += (is_vector ? vector_weight : text_weight) / (k + static_cast<double>(rank));
    }
  };
  add(vector, true);
  add(text, false);
  std::vector<Entry> all;
  all.reserve(fused.size());
  for (auto& [key, e] : fused) all.push_back(std::move(e));
  auto best_rank = [](const RankedHit& r) {
    const size_t v = r.vector_rank == 0 ? SIZE_MAX : r.vector_rank;
    const size_t t = r.text_rank == 0 ? SIZE_MAX : r.text_rank;
    return std::min(v, t);
  };
  std::sort(all.begin(), all.end(), [&](const Entry& a, const Entry& b) {
    if (a.ranked.score != b.ranked.score) return a.ranked.score > b.ranked.score;
    if (best_rank(a.ranked) != best_rank(b.ranked)) return best_rank(a.ranked) < best_rank(b.ranked);
    return a.order < b.order;
  });
  std::vector<RankedHit> out;
  for (size_t i = 0; i < all.size() && i < top; ++i) out.push_back(std::move(all[i].ranked));
  return out;
}

std::vector<RankedHit> SearchChunks(DocumentStore& store, TextIndex& text, const SearchFilter& filter,
                                    const std::string& query, const SearchOptions& options,
                                    const EmbedderFor& embedder_for, const EmbedContext& context) {
  if (query.empty()) throw PermanentError("search needs a non-empty query", "query");
  switch (options.mode) {
    case SearchMode::kVector:
      return Ranked(VectorRanking(store, filter, query, options.top, embedder_for, context), true);
    case SearchMode::kText:
      return Ranked(text.TextSearch(filter, query, options.top), false);
    case SearchMode::kHybrid: {
      const size_t depth = std::max(options.top, options.depth);
      return FuseReciprocalRank(VectorRanking(store, filter, query, depth, embedder_for, context),
                                text.TextSearch(filter, query, depth), options.top, options.rrf_k,
                                options.vector_weight, options.text_weight);
    }
  }
  return {};
}

}  // namespace fila::document
