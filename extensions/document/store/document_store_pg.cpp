#include "fila/document/document_store_pg.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <vector>

#include "fila/core/errors.h"
#include "pg_pool.h"
#include "pg_support.h"
#include "search_rows.h"

namespace fila {
namespace {

using document::DocumentRecord;
using document::SearchFilter;
using document::SearchHit;
using document::StoredChunk;

// Rows per INSERT: bounds one statement's parameters to a few MB.
constexpr size_t kInsertBatch = 256;

std::string VectorLiteral(const std::vector<float>& v) {
  std::string out = "{";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  return out + "}";
}

class PostgresDocumentStore final : public document::DocumentStore {
 public:
  PostgresDocumentStore(std::string url, size_t pool_size)
      : pool_(std::move(url), std::max<size_t>(1, pool_size)) {}

  std::string Replace(const DocumentRecord& r, const std::vector<StoredChunk>& chunks) override {
    return With([&](pqxx::connection& c) {
      pqxx::work tx(c);
      std::string tenant = "default";
      if (!r.task_id.empty()) {
        auto row = Fence(tx, r);
        tenant = row[0][0].as<std::string>();
      }
      const std::string id =
          tx.exec_params1(
                "INSERT INTO documents (tenant, owner, document_id, title, source, media_type, embedder,"
                " dimension, bytes, characters, pages, content, task_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULLIF($13, '')::uuid)"
                " ON CONFLICT (tenant, owner, document_id) DO UPDATE SET title = EXCLUDED.title,"
                " source = EXCLUDED.source, media_type = EXCLUDED.media_type, embedder = EXCLUDED.embedder,"
                " dimension = EXCLUDED.dimension, bytes = EXCLUDED.bytes, characters = EXCLUDED.characters,"
                " pages = EXCLUDED.pages, content = EXCLUDED.content, task_id = EXCLUDED.task_id,"
                " updated_at = now()"
                " RETURNING id",
                tenant, r.owner, r.document_id, r.title, r.source, r.media_type, r.embedder,
                static_cast<int64_t>(std::max<size_t>(r.dimension, 1)), static_cast<int64_t>(r.bytes),
                static_cast<int64_t>(r.chars), r.pages, r.content, r.task_id)[0]
              .as<std::string>();
      tx.exec_params("DELETE FROM document_chunks WHERE document = $1", id);
      // The owner's text search language, else the tenant's default (TextIndex).
      const std::string text_config =
          tx.exec_params1("SELECT coalesce((SELECT config FROM document_text_configs WHERE tenant = $1"
                          " AND owner IN ($2, '') ORDER BY owner DESC LIMIT 1), 'fila_simple'::regconfig)::text",
                          tenant, r.owner)[0]
              .as<std::string>();
      const std::string vector_set = HasVectorColumn(tx) ? ", u.v::real[]::vector" : "";
      const std::string vector_col = vector_set.empty() ? "" : ", embedding_vector";
      for (size_t from = 0; from < chunks.size(); from += kInsertBatch) {
        const size_t to = std::min(chunks.size(), from + kInsertBatch);
        std::vector<int64_t> ordinals, starts, ends, pages;
        std::vector<std::string> texts, headings, vectors;
        for (size_t i = from; i < to; ++i) {
          ordinals.push_back(static_cast<int64_t>(i));
          starts.push_back(static_cast<int64_t>(chunks[i].start));
          ends.push_back(static_cast<int64_t>(chunks[i].end));
          pages.push_back(chunks[i].page);
          texts.push_back(chunks[i].text);
          headings.push_back(chunks[i].heading_path);
          vectors.push_back(VectorLiteral(chunks[i].embedding));
        }
        tx.exec_params(
            "INSERT INTO document_chunks (document, ordinal, text, start_offset, end_offset, page,"
            " heading_path, embedding, text_config" + vector_col + ")"
            " SELECT $1, u.o, u.t, u.s, u.e, u.p, u.h, u.v::real[], $9::regconfig" + vector_set +
            " FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::text[], $8::text[])"
            " AS u(o, t, s, e, p, h, v)",
            id, pg::IntArrayLiteral<int64_t>(ordinals), pg::ArrayLiteral(texts),
            pg::IntArrayLiteral<int64_t>(starts), pg::IntArrayLiteral<int64_t>(ends),
            pg::IntArrayLiteral<int64_t>(pages), pg::ArrayLiteral(headings), pg::ArrayLiteral(vectors),
            text_config);
      }
      // Checked again last, without a row lock (a lock would stall the
      // worker's progress and heartbeat writes for the whole store): a
      // stale attempt (reaped, then finishing late) must not replace what
      // the current attempt writes.
      if (!r.task_id.empty()) Fence(tx, r);
      tx.commit();
      return id;
    });
  }

  std::vector<std::string> Embedders(const SearchFilter& f) override {
    return With([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::vector<std::string> out;
      for (const auto& row : tx.exec_params(
               "SELECT DISTINCT embedder FROM documents WHERE ($1 = '' OR tenant = $1)"
               " AND ($2 = '' OR owner = $2) AND ($3 = '' OR document_id = $3) ORDER BY 1",
               f.tenant, f.owner, f.document_id)) {
        out.push_back(row[0].as<std::string>());
      }
      return out;
    });
  }

  std::vector<SearchHit> Search(const SearchFilter& f, const std::string& embedder,
                                const std::vector<float>& query, size_t top) override {
    return With([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      const std::string score = HasVectorColumn(tx)
                                    ? "1 - (c.embedding_vector <=> $1::real[]::vector)"
                                    : "(SELECT sum(a * b) FROM unnest(c.embedding, $1::real[]) AS t(a, b))";
      std::vector<SearchHit> out;
      for (const auto& row : tx.exec_params(
               "SELECT " + score + " AS score, d.tenant, d.owner, d.document_id, d.title, d.source,"
               " c.ordinal, c.start_offset, c.end_offset, c.page, c.heading_path, c.text"
               " FROM document_chunks c JOIN documents d ON d.id = c.document"
               " WHERE d.embedder = $2 AND ($3 = '' OR d.tenant = $3) AND ($4 = '' OR d.owner = $4)"
               " AND ($5 = '' OR d.document_id = $5)"
               " ORDER BY score DESC NULLS LAST, d.owner, d.document_id, c.ordinal LIMIT $6",
               VectorLiteral(query), embedder, f.tenant, f.owner, f.document_id, static_cast<int64_t>(top))) {
        out.push_back(document::SearchHitOf(row));
      }
      return out;
    });
  }

 private:
  static pqxx::result Fence(pqxx::transaction_base& tx, const DocumentRecord& r) {
    auto row = tx.exec_params("SELECT tenant FROM tasks WHERE id = $1 AND attempt = $2 AND state = 'running'",
                              r.task_id, static_cast<int64_t>(r.attempt));
    if (row.empty()) {
      throw TransientError("attempt " + std::to_string(r.attempt) + " of task " + r.task_id +
                           " no longer runs: its document is not stored");
    }
    return row;
  }

  bool HasVectorColumn(pqxx::transaction_base& tx) {
    std::lock_guard lock(mutex_);
    if (!has_vector_) {
      has_vector_ = !tx.exec("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                             " AND table_name = 'document_chunks' AND column_name = 'embedding_vector'")
                         .empty();
    }
    return *has_vector_;
  }

  template <typename F>
  auto With(F&& body) -> decltype(body(std::declval<pqxx::connection&>())) {
    return pool_.Run(std::forward<F>(body));
  }

  pg::ConnectionPool pool_;
  std::mutex mutex_;
  std::optional<bool> has_vector_;
};

}  // namespace

std::unique_ptr<document::DocumentStore> MakePostgresDocumentStore(const std::string& url, size_t pool_size) {
  return std::make_unique<PostgresDocumentStore>(url, pool_size);
}

}  // namespace fila
