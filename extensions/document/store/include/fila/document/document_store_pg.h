#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fila/document/document_store.h"

namespace fila {

// The DocumentStore of document.ingest on PostgreSQL (tables of migration
// 0006). Thread-safe: a pool of at most `pool_size` connections (callers
// wait for a free one); a broken connection is dropped and reopened.
// Uses pgvector's cosine operator when the embedding_vector column exists,
// else computes the dot product over real[] in SQL. Throws TransientError
// when the database is unreachable.
std::unique_ptr<document::DocumentStore> MakePostgresDocumentStore(const std::string& url,
                                                                    size_t pool_size = 4);

// The TextIndex of document.ingest's chunks on PostgreSQL (migration
// 0015: a generated tsvector per chunk under a GIN index, the fila_<language>
// text search configurations). Thread-safe, pooled like the store above;
// every query is parameterised. TransientError when the database is
// unreachable.
std::unique_ptr<document::TextIndex> MakePostgresTextIndex(const std::string& url, size_t pool_size = 4);

}  // namespace fila
