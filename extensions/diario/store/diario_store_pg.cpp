#include "fila/diario/diario_store_pg.h"

#include <algorithm>
#include <vector>

#include "fila/core/errors.h"
#include "pg_pool.h"
#include "pg_support.h"

namespace fila {
namespace {

using diario::Decision;
using diario::GazetteRecord;

// The tenant of the task, or 'default' for a task id that is not one (tests).
constexpr const char* kTenantOf = "coalesce((SELECT tenant FROM tasks WHERE id::text = $1), 'default')";

std::string BoolArray(const std::vector<bool>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ",": "") + std::string(v[i] ? "t" : "f");
  return out + "}";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

std::string InvalidNumbersJson(const GazetteRecord& g) {
  std::string out = "[";
  for (size_t i = 0; i < g.invalid_numbers.size(); ++i) {
    const auto& n = g.invalid_numbers[i];
    if (i > 0) out += ',';
    out += "{\"number\":" + JsonString(n.number) + ",\"page\":" + std::to_string(n.page) +
           ",\"occurrences\":" + std::to_string(n.occurrences) + "}";
  }
  return out + "]";
}

class PostgresDiarioStore final : public diario::DiarioStore {
 public:
  PostgresDiarioStore(std::string url, size_t max_connections)
      : pool_(std::move(url), std::max<size_t>(1, max_connections)) {}

  int64_t SaveGazette(const GazetteRecord& g, const std::vector<Decision>& decisions) override {
    return WithConnection([&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      int decided = 0;
      for (const auto& d : decisions) decided += d.HasDecision() ? 1 : 0;
      const int64_t id = Upsert(tx, g, "processed", static_cast<int>(decisions.size()), decided);
      tx.exec_params("DELETE FROM diario_decisions WHERE gazette_id = $1", id);
      InsertDecisions(tx, id, decisions);
      tx.commit();
      return id;
    });
  }

  void SaveNoGazette(const GazetteRecord& g) override {
    WithConnection([&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      const int64_t id = Upsert(tx, g, "no_gazette", 0, 0);
      tx.exec_params("DELETE FROM diario_decisions WHERE gazette_id = $1", id);
      tx.commit();
      return id;
    });
  }

 private:
  static int64_t Upsert(pqxx::work& tx, const GazetteRecord& g, const char* status, int entries, int decided) {
    const std::string source = !g.source.empty() ? g.source : g.date.empty() ? g.url : g.date;
    auto row = tx.exec_params1(
        std::string("INSERT INTO diario_gazettes (tenant, tribunal, source, gazette_date, url, status, sha256, "
                    "size_bytes, pages, archive_uri, numbers_found, invalid_numbers, entries, decisions, "
                    "llm_used, task_id) SELECT ") +
            kTenantOf +
            ", $2, $3, NULLIF($4, '')::date, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, "
            "(SELECT id FROM tasks WHERE id::text = $1) "
            "ON CONFLICT (tenant, tribunal, source) DO UPDATE SET url = EXCLUDED.url, status = EXCLUDED.status, "
            "sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, pages = EXCLUDED.pages, "
            "archive_uri = EXCLUDED.archive_uri, numbers_found = EXCLUDED.numbers_found, "
            "invalid_numbers = EXCLUDED.invalid_numbers, entries = EXCLUDED.entries, "
            "decisions = EXCLUDED.decisions, llm_used = EXCLUDED.llm_used, task_id = EXCLUDED.task_id, "
            "updated_at = now() RETURNING id",
        g.task_id, g.tribunal, pg::ValidUtf8(source), g.date, pg::ValidUtf8(g.url), status, g.sha256,
        g.size_bytes, g.pages, pg::ValidUtf8(g.archive_uri), g.numbers_found, InvalidNumbersJson(g), entries,
        decided, g.llm_used);
    return row[0].as<int64_t>();
  }

  // Three statements whatever the number of decisions: arrays, unnested.
  static void InsertDecisions(pqxx::work& tx, int64_t gazette, const std::vector<Decision>& decisions) {
    if (decisions.empty()) return;
    std::vector<int> seq, page;
    std::vector<std::string> number, cls, origin, origin_number, rapporteur, judgment_rapporteur, text, outcome;
    std::vector<bool> valid, partial;
    std::vector<int> p_dec, p_seq, l_dec, l_seq, l_party;
    std::vector<std::string> p_role, p_name, l_name, l_kind, l_state, l_number;
    for (const auto& d : decisions) {
      seq.push_back(d.seq);
      page.push_back(d.page);
      number.push_back(d.process_number);
      valid.push_back(d.number_valid);
      cls.push_back(pg::ValidUtf8(d.process_class));
      origin.push_back(pg::ValidUtf8(d.origin));
      origin_number.push_back(d.origin_number);
      rapporteur.push_back(pg::ValidUtf8(d.rapporteur));
      judgment_rapporteur.push_back(pg::ValidUtf8(d.judgment_rapporteur));
      text.push_back(pg::ValidUtf8(d.decision_text));
      partial.push_back(d.partial);
      outcome.emplace_back(diario::OutcomeCode(d.outcome));
      for (size_t i = 0; i < d.parties.size(); ++i) {
        p_dec.push_back(d.seq);
        p_seq.push_back(static_cast<int>(i));
        p_role.push_back(pg::ValidUtf8(d.parties[i].role));
        p_name.push_back(pg::ValidUtf8(d.parties[i].name));
      }
      for (size_t i = 0; i < d.lawyers.size(); ++i) {
        const auto& l = d.lawyers[i];
        l_dec.push_back(d.seq);
        l_seq.push_back(static_cast<int>(i));
        l_name.push_back(pg::ValidUtf8(l.name));
        l_kind.push_back(l.kind);
        l_state.push_back(l.oab ? l.oab->state : "");
        l_number.push_back(l.oab ? l.oab->number + l.oab->suffix : "");
        l_party.push_back(l.party);
      }
    }
    tx.exec_params(
        "INSERT INTO diario_decisions (gazette_id, seq, page, process_number, number_valid, process_class, "
        "origin, origin_number, rapporteur, decision_text, partial, outcome, judgment_rapporteur) "
        "SELECT $1, u.s, u.p, u.n, u.v, u.c, u.o, u.onum, u.r, u.t, u.pa, u.oc, NULLIF(u.jr, '') "
        "FROM unnest($2::int[], $3::int[], $4::text[], $5::boolean[], $6::text[], $7::text[], "
        "$8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[]) "
        "AS u(s, p, n, v, c, o, onum, r, t, pa, oc, jr)",
        gazette, pg::IntArrayLiteral<int>(seq), pg::IntArrayLiteral<int>(page), pg::ArrayLiteral(number),
        BoolArray(valid), pg::ArrayLiteral(cls), pg::ArrayLiteral(origin), pg::ArrayLiteral(origin_number),
        pg::ArrayLiteral(rapporteur), pg::ArrayLiteral(text), BoolArray(partial), pg::ArrayLiteral(outcome),
        pg::ArrayLiteral(judgment_rapporteur));
    if (!p_dec.empty()) {
      tx.exec_params(
          "INSERT INTO diario_parties (decision_id, seq, role, name) "
          "SELECT d.id, u.s, u.r, u.n FROM unnest($2::int[], $3::int[], $4::text[], $5::text[]) AS u(ds, s, r, n) "
          "JOIN diario_decisions d ON d.gazette_id = $1 AND d.seq = u.ds",
          gazette, pg::IntArrayLiteral<int>(p_dec), pg::IntArrayLiteral<int>(p_seq), pg::ArrayLiteral(p_role),
          pg::ArrayLiteral(p_name));
    }
    if (!l_dec.empty()) {
      tx.exec_params(
          "INSERT INTO diario_lawyers (decision_id, seq, name, kind, oab_state, oab_number, party_seq) "
          "SELECT d.id, u.s, u.n, u.k, u.st, u.nu, NULLIF(u.p, -1) "
          "FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[]) "
          "AS u(ds, s, n, k, st, nu, p) JOIN diario_decisions d ON d.gazette_id = $1 AND d.seq = u.ds",
          gazette, pg::IntArrayLiteral<int>(l_dec), pg::IntArrayLiteral<int>(l_seq), pg::ArrayLiteral(l_name),
          pg::ArrayLiteral(l_kind), pg::ArrayLiteral(l_state), pg::ArrayLiteral(l_number),
          pg::IntArrayLiteral<int>(l_party));
    }
  }

  template <typename Fn>
  int64_t WithConnection(Fn&& fn) {
    return pool_.Run(std::forward<Fn>(fn));
  }

  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<diario::DiarioStore> MakePostgresDiarioStore(std::string url, size_t max_connections) {
  return std::make_unique<PostgresDiarioStore>(std::move(url), max_connections);
}

DiarioStats LoadDiarioStats(const std::string& url, const std::string& task_type, int latest_gazettes) {
  if (latest_gazettes < 0 || latest_gazettes > 1000) {
    throw PermanentError("the number of gazettes listed is 0 to 1000", "gazettes");
  }
  auto conn = pg::Open(url);
  bool broken = false;
  try {
    pqxx::read_transaction tx(*conn);
    DiarioStats s;
    auto t = tx.exec_params1(
        "SELECT "
        "count(*) FILTER (WHERE state = 'succeeded' AND position('\"no_gazette\"' IN "
        "  convert_from(coalesce(result, ''), 'UTF8')) = 0), "
        "count(*) FILTER (WHERE state = 'succeeded' AND position('\"no_gazette\"' IN "
        "  convert_from(coalesce(result, ''), 'UTF8')) > 0), "
        "count(*) FILTER (WHERE state IN ('failed', 'dead')), "
        "count(*) FILTER (WHERE state IN ('blocked', 'queued', 'scheduled', 'running')), "
        "count(*) FILTER (WHERE state = 'cancelled') "
        "FROM tasks WHERE type = $1",
        task_type);
    s.done = t[0].as<int64_t>();
    s.no_gazette = t[1].as<int64_t>();
    s.failed = t[2].as<int64_t>();
    s.pending = t[3].as<int64_t>();
    s.cancelled = t[4].as<int64_t>();
    auto g = tx.exec1(
        "SELECT count(*), coalesce(sum(pages), 0), coalesce(sum(entries), 0), coalesce(sum(decisions), 0), "
        "coalesce(sum(jsonb_array_length(invalid_numbers)), 0) FROM diario_gazettes WHERE status = 'processed'");
    s.gazettes = g[0].as<int64_t>();
    s.pages = g[1].as<int64_t>();
    s.entries = g[2].as<int64_t>();
    s.decisions = g[3].as<int64_t>();
    s.invalid_numbers = g[4].as<int64_t>();
    // A decision is an entry with a judgment text; an agenda's entries have
    // no outcome to miss.
    s.unknown_outcomes =
        tx.exec1("SELECT count(*) FROM diario_decisions d JOIN diario_gazettes g ON g.id = d.gazette_id "
                 "WHERE g.status = 'processed' AND d.decision_text <> '' AND d.outcome = 'desconhecido'")[0]
            .as<int64_t>();
    for (const auto& r : tx.exec_params(
             "SELECT g.tenant, g.tribunal, g.source, coalesce(g.gazette_date::text, ''), g.decisions, "
             "(SELECT count(*) FROM diario_decisions d WHERE d.gazette_id = g.id AND d.decision_text <> '' "
             " AND d.outcome = 'desconhecido') "
             "FROM diario_gazettes g WHERE g.status = 'processed' "
             "ORDER BY g.gazette_date DESC NULLS LAST, g.updated_at DESC, g.id DESC LIMIT $1",
             latest_gazettes)) {
      s.latest.push_back({.tenant = r[0].as<std::string>(),
                          .tribunal = r[1].as<std::string>(),
                          .source = r[2].as<std::string>(),
                          .date = r[3].as<std::string>(),
                          .decisions = r[4].as<int64_t>(),
                          .unknown = r[5].as<int64_t>()});
    }
    return s;
  } catch (...) {
    pg::Translate(broken);
  }
}

}  // namespace fila
