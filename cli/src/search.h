#pragma once

#include <cstddef>
#include <string>

namespace fila::cli {

struct SearchArgs {
  std::string query;
  size_t top = 5;
  std::string tenant;       // "" = every tenant
  std::string owner;        // "" = every owner
  std::string document_id;  // "" = every document
  bool json = false;
};

// fila search: embeds `query` with each embedder that produced stored
// vectors (the same one, so the vectors compare) and prints the best
// chunks by cosine similarity, best first. Exit 0 (also with no match), 1
// when the database or the embeddings endpoint fails, 2 for bad input.
int Search(const std::string& database_url, const SearchArgs& args);

}  // namespace fila::cli
