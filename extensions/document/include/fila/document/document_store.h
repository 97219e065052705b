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

}  // namespace fila::document
