#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fila::document {

struct DocumentRecord {
  std::string task_id;   // the ingesting task: its tenant owns the document
  uint32_t attempt = 0;  // fencing token: a stale attempt writes nothing
  std::string owner;
  std::string document_id;
  std::string title;
  std::string source;      // URL (credentials removed), path or "inline"
  std::string media_type;  // detected
  std::string embedder;    // Embedder::Descriptor()
  size_t dimension = 0;
  size_t bytes = 0;        // size of the source
  size_t chars = 0;        // code points of the extracted text
  int pages = 0;
  std::string content;     // the extracted text the chunk offsets point into
};

struct StoredChunk {
  std::string text;
  size_t start = 0;  // code points into DocumentRecord::content
  size_t end = 0;
  int page = 0;
  std::string heading_path;
  std::vector<float> embedding;  // unit length
};

struct SearchFilter {
  std::string tenant;  // "" = every tenant
  std::string owner;   // "" = every owner
  std::string document_id;
};

struct SearchHit {
  double score = 0;  // cosine similarity
  std::string tenant;
  std::string owner;
  std::string document_id;
  std::string title;
  std::string source;
  int ordinal = 0;
  size_t start = 0;
  size_t end = 0;
  int page = 0;
  std::string heading_path;
  std::string text;
};

// Where ingested documents live. Implementations are thread-safe. Throw
// TransientError when the database is unreachable (worth retrying).
class DocumentStore {
 public:
  virtual ~DocumentStore() = default;
  // Writes the document and replaces all of its chunks in one transaction,
  // so a retried ingest never duplicates chunks; (tenant, owner,
  // document_id) identifies the document. Writes nothing and throws
  // TransientError when `record.task_id` no longer runs `record.attempt`.
  // Returns the document's uuid.
  virtual std::string Replace(const DocumentRecord& record, const std::vector<StoredChunk>& chunks) = 0;
  // Distinct embedder descriptors of the documents `filter` selects.
  virtual std::vector<std::string> Embedders(const SearchFilter& filter) = 0;
  // The `top` chunks most similar to `query` among those embedded by
  // `embedder`, best first.
  virtual std::vector<SearchHit> Search(const SearchFilter& filter, const std::string& embedder,
                                        const std::vector<float>& query, size_t top) = 0;
};

// One owner's (or a tenant's default) text search language.
struct LanguageSetting {
  std::string tenant;
  std::string owner;     // "" = the tenant's default
  std::string language;  // "portuguese", "english", "simple", ...
};

// The full-text side of the store: every chunk is indexed with the text
// search language of its document's owner (the owner's setting, else the
// tenant's default, else "simple"), stemmed and with accents folded.
// Implementations are thread-safe; TransientError when the database is
// unreachable.
class TextIndex {
 public:
  virtual ~TextIndex() = default;
  // The `top` chunks `filter` selects that contain any word of `query`
  // (after stemming, accent folding and stop-word removal, each in its
  // document's language; "quoted words" must match as a phrase, and a
  // query with -word keeps every word required and excludes that one),
  // best first by cover density (ts_rank_cd). A query of stop words only
  // matches nothing.
  virtual std::vector<SearchHit> TextSearch(const SearchFilter& filter, const std::string& query, size_t top) = 0;
  // Sets the language of `owner`'s documents in `tenant` ("" owner: the
  // tenant's default) and re-indexes the stored chunks it now governs, in
  // one transaction. Returns how many chunks changed language.
  // PermanentError for an unknown language (the message lists them).
  virtual size_t SetLanguage(const std::string& tenant, const std::string& owner, const std::string& language) = 0;
  // The settings of `tenant` ("" = every tenant), by tenant and owner.
  virtual std::vector<LanguageSetting> Languages(const std::string& tenant) = 0;
  // The languages SetLanguage accepts.
  virtual std::vector<std::string> AvailableLanguages() = 0;
  // Whether the configurations fold accents (false when the migration
  // could not create the unaccent extension).
  virtual bool FoldsAccents() = 0;
};

}  // namespace fila::document
