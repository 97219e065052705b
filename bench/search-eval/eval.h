#pragma once

// The search evaluation of issue 22: a labelled query set over the demo
// documents, ingested into a real PostgreSQL, and recall@k of each search
// mode (vector, text, hybrid) per split. Used by fila-search-eval and by
// the integration test that keeps hybrid from falling behind.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "fila/document/document_store.h"
#include "fila/document/search.h"

namespace fila::search_eval {

struct Relevant {
  std::string document;  // the eval document's id
  std::string contains;  // a chunk of it whose text contains this is relevant
};

struct Query {
  std::string id;
  std::string split;  // "dev" or "test"
  std::string text;
  std::vector<Relevant> relevant;
};

struct EvalDocument {
  std::string id;
  std::string file;   // relative to the repository
  std::string owner;  // its owner, whose language `languages` sets
};

struct EvalSet {
  std::vector<EvalDocument> documents;
  std::map<std::string, std::string> languages;  // owner -> text search language
  std::vector<Query> queries;
};

// Reads queries.json. PermanentError naming what is wrong (not JSON, a
// missing field, a split other than dev/test, a duplicate id, a relevant
// document that is not in the set, a query without relevant chunks).
EvalSet LoadEvalSet(const std::string& path);

// The tenant the documents are stored under.
inline constexpr const char* kTenant = "default";

// Sets each owner's language, then ingests every document (read from
// `root`/file) as document.ingest does with the default settings: the
// same detection, extraction, chunking (1000/200 code points) and offline
// embedder (384 dimensions), stored by `store` under tenant "default".
// PermanentError when a label matches no chunk of its document (labels
// must keep meaning something when the chunker changes).
void Ingest(const EvalSet& set, const std::string& root, document::DocumentStore& store,
            document::TextIndex& text);

struct QueryResult {
  std::string id;
  std::string split;
  // mode -> recall@k: the share of the query's relevant labels that some
  // chunk of the best k contains.
  std::map<document::SearchMode, double> recall;
  // mode -> the 1-based rank of the first relevant chunk, 0 = none in k.
  std::map<document::SearchMode, size_t> first;
};

// Runs every query of `split` ("" = all) in each mode, `options.top`
// results (k), hybrid with `options`' fusion settings.
std::vector<QueryResult> Evaluate(const EvalSet& set, document::DocumentStore& store, document::TextIndex& text,
                                  const document::SearchOptions& options, const std::string& split = "");

struct Summary {
  std::string split;  // "dev", "test", "all"
  size_t queries = 0;
  std::map<document::SearchMode, double> recall;  // mean over the split's queries
};

std::vector<Summary> Summarize(const std::vector<QueryResult>& results);

}  // namespace fila::search_eval
