// Full-text search of document chunks on PostgreSQL (migration 0015).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"
#include "pg_pool.h"
#include "pg_support.h"
#include "search_rows.h"

namespace fila {
namespace {

using document::LanguageSetting;
using document::SearchFilter;
using document::SearchHit;

// fila_<language> configurations are the migration's; the prefix keeps a
// caller from naming any other configuration of the database.
constexpr std::string_view kPrefix = "fila_";

// The query as a tsquery of `config`, every word optional: a chunk that
// has more of them (and closer together) ranks higher. websearch syntax
// stays: "a phrase" is one term; with a -word (a '!' in the tsquery) the
// words stay required, as websearch_to_tsquery means them. Lexemes never
// hold spaces, so ' & ' only ever joins terms.
constexpr const char* kQuerySql =
    "SELECT CASE WHEN position('!' IN q) > 0 THEN q ELSE replace(q, ' & ', ' | ') END"
    " FROM (SELECT websearch_to_tsquery($1::regconfig, $2)::text) AS t(q)";

// The configurations of the documents the filter selects: every chunk of
// a document has its document's, so one chunk per document tells.
constexpr const char* kConfigsSql =
    "SELECT DISTINCT x.config::text FROM documents d"
    " CROSS JOIN LATERAL (SELECT c.text_config FROM document_chunks c WHERE c.document = d.id"
    " ORDER BY c.ordinal LIMIT 1) AS x(config)"
    " WHERE ($1 = '' OR d.tenant = $1) AND ($2 = '' OR d.owner = $2) AND ($3 = '' OR d.document_id = $3)"
    " ORDER BY 1";

// Normalisation 1 of ts_rank_cd: divided by 1 + log(length), so a long
// chunk does not win by length alone.
constexpr const char* kSearchSql =
    "SELECT ts_rank_cd(c.text_vector, $1::tsquery, 1) AS score, d.tenant, d.owner, d.document_id, d.title,"
    " d.source, c.ordinal, c.start_offset, c.end_offset, c.page, c.heading_path, c.text"
    " FROM document_chunks c JOIN documents d ON d.id = c.document"
    " WHERE c.text_vector @@ $1::tsquery AND c.text_config = $2::regconfig"
    " AND ($3 = '' OR d.tenant = $3) AND ($4 = '' OR d.owner = $4) AND ($5 = '' OR d.document_id = $5)"
    " ORDER BY score DESC, d.owner, d.document_id, c.ordinal LIMIT $6";

std::string LanguageOf(const std::string& config) {
  return config.starts_with(kPrefix) ? config.substr(kPrefix.size()) : config;
}

class PostgresTextIndex final : public document::TextIndex {
 public:
  PostgresTextIndex(std::string url, size_t pool_size) : pool_(std::move(url), std::max<size_t>(1, pool_size)) {}

  std::vector<SearchHit> TextSearch(const SearchFilter& f, const std::string& query, size_t top) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::vector<SearchHit> hits;
      for (const auto& config_row : tx.exec_params(kConfigsSql, f.tenant, f.owner, f.document_id)) {
        const std::string config = config_row[0].as<std::string>();
        const std::string tsquery = tx.exec_params1(kQuerySql, config, pg::ValidUtf8(query))[0].as<std::string>();
        if (tsquery.empty()) continue;  // only stop words in this language
        for (const auto& row : tx.exec_params(kSearchSql, tsquery, config, f.tenant, f.owner, f.document_id,
                                              static_cast<int64_t>(top))) {
          hits.push_back(document::SearchHitOf(row));
        }
      }
      // Ranks of different languages are each a cover density: comparable enough to merge.
      std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
      if (hits.size() > top) hits.resize(top);
      return hits;
    });
  }

  size_t SetLanguage(const std::string& tenant, const std::string& owner, const std::string& language) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      const auto found = tx.exec_params(
          "SELECT oid::regconfig::text FROM pg_ts_config WHERE cfgname = $1 AND pg_ts_config_is_visible(oid)",
          std::string(kPrefix) + language);
      if (found.empty()) {
        std::string known;
        for (const auto& l : Available(tx)) known += (known.empty() ? "" : ", ") + l;
        throw PermanentError("unknown text search language '" + language + "' (known: " + known + ")", "language");
      }
      const std::string config = found[0][0].as<std::string>();
      tx.exec_params(
          "INSERT INTO document_text_configs (tenant, owner, config) VALUES ($1, $2, $3::regconfig)"
          " ON CONFLICT (tenant, owner) DO UPDATE SET config = EXCLUDED.config, updated_at = now()",
          tenant, owner, config);
      // The chunks this setting governs: the owner's, or (for the tenant's
      // default) those of owners without a setting of their own.
      const auto changed = tx.exec_params(
          "UPDATE document_chunks c SET text_config = $3::regconfig FROM documents d"
          " WHERE d.id = c.document AND d.tenant = $1 AND c.text_config <> $3::regconfig"
          " AND (d.owner = $2 OR ($2 = '' AND NOT EXISTS (SELECT 1 FROM document_text_configs s"
          " WHERE s.tenant = d.tenant AND s.owner = d.owner)))",
          tenant, owner, config);
      tx.commit();
      return static_cast<size_t>(changed.affected_rows());
    });
  }

  std::vector<LanguageSetting> Languages(const std::string& tenant) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::vector<LanguageSetting> out;
      for (const auto& row : tx.exec_params("SELECT tenant, owner, config::text FROM document_text_configs"
                                            " WHERE $1 = '' OR tenant = $1 ORDER BY tenant, owner",
                                            tenant)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), LanguageOf(row[2].as<std::string>())});
      }
      return out;
    });
  }

  std::vector<std::string> AvailableLanguages() override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return Available(tx);
    });
  }

  bool FoldsAccents() override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return tx.exec("SELECT EXISTS (SELECT 1 FROM pg_ts_config_map m JOIN pg_ts_dict d ON d.oid = m.mapdict"
                     " WHERE m.mapcfg = 'fila_simple'::regconfig AND d.dictname = 'unaccent')")[0][0]
          .as<bool>();
    });
  }

 private:
  static std::vector<std::string> Available(pqxx::transaction_base& tx) {
    std::vector<std::string> out;
    for (const auto& row : tx.exec("SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE 'fila\\_%'"
                                   " AND pg_ts_config_is_visible(oid) ORDER BY 1")) {
      out.push_back(LanguageOf(row[0].as<std::string>()));
    }
    return out;
  }

  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<document::TextIndex> MakePostgresTextIndex(const std::string& url, size_t pool_size) {
  return std::make_unique<PostgresTextIndex>(url, pool_size);
}

}  // namespace fila
