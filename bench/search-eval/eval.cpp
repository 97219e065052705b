#include "eval.h"

#include <fstream>
#include <iterator>
#include <set>
#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/document/chunker.h"
#include "fila/document/embedder.h"
#include "fila/document/extract.h"
#include "fila/document/ingest_handler.h"
#include "fila/document/utf8.h"
#include "fila/http/http_client.h"

namespace fila::search_eval {
namespace {

using document::SearchMode;
using Json = nlohmann::json;

constexpr SearchMode kModes[] = {SearchMode::kVector, SearchMode::kText, SearchMode::kHybrid};

std::string Text(const Json& object, const char* field, const std::string& where) {
  const auto it = object.find(field);
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw PermanentError(where + ": '" + field + "' must be a non-empty string");
  }
  return it->get<std::string>();
}

// Runs of whitespace as one space: labels are written on one line, the
// text has line breaks (CRLF too) wherever its source had them.
std::string Squeezed(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The array or object at `field`, an empty one when it is absent.
const Json& Member(const Json& object, const char* field, bool array) {
  static const Json kNoArray = Json::array();
  static const Json kNoObject = Json::object();
  const auto it = object.find(field);
  if (it == object.end()) return array ? kNoArray : kNoObject;
  if (array ? !it->is_array() : !it->is_object()) {
    throw PermanentError(std::string("'") + field + "' must be " + (array ? "an array" : "an object"));
  }
  return *it;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PermanentError("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool Contains(const std::string& text, const Relevant& r) {
  return Squeezed(text).find(Squeezed(r.contains)) != std::string::npos;
}

bool Matches(const document::SearchHit& hit, const Relevant& r) {
  return hit.document_id == r.document && Contains(hit.text, r);
}

}  // namespace

EvalSet LoadEvalSet(const std::string& path) {
  const Json doc = Json::parse(ReadAll(path), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw PermanentError(path + " is not a JSON object");
  EvalSet set;
  std::set<std::string> documents;
  for (const Json& d : Member(doc, "documents", true)) {
    EvalDocument e{Text(d, "id", "document"), Text(d, "file", "document"), Text(d, "owner", "document")};
    if (!documents.insert(e.id).second) throw PermanentError("document " + e.id + " twice");
    set.documents.push_back(std::move(e));
  }
  for (const auto& [owner, language] : Member(doc, "languages", false).items()) {
    if (!language.is_string()) throw PermanentError("languages." + owner + " must be a string");
    set.languages[owner] = language.get<std::string>();
  }
  std::set<std::string> ids;
  for (const Json& q : Member(doc, "queries", true)) {
    Query query{Text(q, "id", "query"), Text(q, "split", "query"), Text(q, "query", "query"), {}};
    const std::string where = "query " + query.id;
    if (!ids.insert(query.id).second) throw PermanentError(where + " twice");
    if (query.split != "dev" && query.split != "test") throw PermanentError(where + ": split is dev or test");
    for (const Json& r : Member(q, "relevant", true)) {
      Relevant relevant{Text(r, "document", where), Text(r, "contains", where)};
      if (!documents.contains(relevant.document)) {
        throw PermanentError(where + ": no document " + relevant.document + " in the set");
      }
      query.relevant.push_back(std::move(relevant));
    }
    if (query.relevant.empty()) throw PermanentError(where + " has no relevant chunk");
    set.queries.push_back(std::move(query));
  }
  if (set.queries.empty() || set.documents.empty()) throw PermanentError(path + " has no queries or no documents");
  return set;
}

void Ingest(const EvalSet& set, const std::string& root, document::DocumentStore& store, document::TextIndex& text) {
  for (const auto& [owner, language] : set.languages) text.SetLanguage(kTenant, owner, language);
  const document::IngestOptions defaults;
  auto embedder = document::MakeOfflineEmbedder(defaults.default_dimension);
  const document::ChunkOptions chunking =
      document::ChunkingFor(0, std::nullopt, document::LengthUnit::kCodePoints);
  std::map<std::string, std::vector<document::TextChunk>> chunks_of;
  for (const EvalDocument& d : set.documents) {
    const std::string bytes = ReadAll(root + "/" + d.file);
    const document::ExtractedText extracted =
        document::DetectAndExtract(bytes, "", d.file, {}, "", Deadline::max(), [] { return false; });
    std::vector<document::TextChunk> chunks = document::ChunkText(extracted, chunking);
    std::vector<std::string> texts;
    for (const auto& c : chunks) texts.push_back(c.text);
    const auto vectors = embedder->Embed(texts, {});
    std::vector<document::StoredChunk> stored;
    for (size_t i = 0; i < chunks.size(); ++i) {
      stored.push_back({chunks[i].text, chunks[i].start, chunks[i].end, chunks[i].page, chunks[i].heading_path,
                        vectors.at(i)});
    }
    document::DocumentRecord record{.owner = d.owner,
                                    .document_id = d.id,
                                    .title = d.id,
                                    .source = d.file,
                                    .media_type = document::MediaTypeName(extracted.type),
                                    .embedder = embedder->Descriptor(),
                                    .dimension = defaults.default_dimension,
                                    .bytes = bytes.size(),
                                    .chars = document::CodePoints(extracted.text),
                                    .pages = static_cast<int>(extracted.page_starts.size()),
                                    .content = extracted.text};
    store.Replace(record, stored);
    chunks_of[d.id] = std::move(chunks);
  }
  for (const Query& q : set.queries) {
    for (const Relevant& r : q.relevant) {
      bool found = false;
      for (const auto& c : chunks_of[r.document]) found = found || Contains(c.text, r);
      if (!found) {
        throw PermanentError("query " + q.id + ": no chunk of " + r.document + " contains '" + r.contains + "'");
      }
    }
  }
}

std::vector<QueryResult> Evaluate(const EvalSet& set, document::DocumentStore& store, document::TextIndex& text,
                                  const document::SearchOptions& options, const std::string& split) {
  auto http = MakeHttpClient();
  auto limiter = MakeLocalKeyLimiter();
  const document::OpenAiOptions no_endpoint;
  const document::EmbedderFor embedder_for = [&](const std::string& descriptor) {
    return document::EmbedderFromDescriptor(descriptor, no_endpoint, *http, *limiter);
  };
  std::vector<QueryResult> out;
  for (const Query& q : set.queries) {
    if (!split.empty() && q.split != split) continue;
    QueryResult result{q.id, q.split, {}, {}};
    for (SearchMode mode : kModes) {
      document::SearchOptions o = options;
      o.mode = mode;
      const auto hits = document::SearchChunks(store, text, {.tenant = kTenant}, q.text, o, embedder_for, {});
      size_t found = 0;
      for (const Relevant& r : q.relevant) {
        for (const auto& h : hits) {
          if (Matches(h.hit, r)) {
            ++found;
            break;
          }
        }
      }
      size_t first = 0;
      for (size_t i = 0; i < hits.size() && first == 0; ++i) {
        for (const Relevant& r : q.relevant) {
          if (Matches(hits[i].hit, r)) first = i + 1;
        }
      }
      result.recall[mode] = static_cast<double>(found) / static_cast<double>(q.relevant.size());
      result.first[mode] = first;
    }
    out.push_back(std::move(result));
  }
  return out;
}

std::vector<Summary> Summarize(const std::vector<QueryResult>& results) {
  std::vector<Summary> out;
  for (const char* split : {"dev", "test", "all"}) {
    Summary s{split, 0, {}};
    for (const auto& r : results) {
      if (s.split != "all" && r.split != s.split) continue;
      ++s.queries;
      for (SearchMode mode : kModes) s.recall[mode] += r.recall.at(mode);
    }
    if (s.queries == 0) continue;
    for (SearchMode mode : kModes) s.recall[mode] /= static_cast<double>(s.queries);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fila::search_eval
