// diario.process with source "djen" through the real queue against the
// fake tribunal's DJEN API (tests/fake_tribunal): real TJRJ publications
// over two pages after a 429, two publications written for the tests (one
// judgment whose wording the vocabulary does not know), a day without
// publications, answers that are not DJEN's JSON; and the worker's
// fila_diario_* metrics.
#include "diario_fixture.h"

namespace fila::diario_test {
namespace {

// The value of one series ("name{labels}") in a Prometheus text page; -1
// when absent.
double Sample(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

class DiarioDjen : public DiarioProcess {
 protected:
  // A worker whose DJEN is the fake's API in `mode` (ok, busy-once, html, ...).
  void StartDjen(const std::string& mode) {
    Start(2, {{"FILA_DIARIO_DJEN_URL", tribunal_.Url("/djen/" + mode + "/api/v1/comunicacao")},
              {"FILA_DIARIO_DJEN_PAGE_SIZE", "2"}});
  }
  std::string EnqueueDjen(const std::string& tribunal, const std::string& date, std::vector<std::string> extra = {}) {
    return Enqueue({{"tribunal", tribunal}, {"date", date}, {"source", "djen"}}, std::move(extra));
  }
};

TEST_F(DiarioDjen, PublicationsOfADayArePagedStoredCountedAndMeasured) {
  StartDjen("busy-once");
  const std::string tjrj = EnqueueDjen("tjrj", "2025-06-23");
  const std::string tjxx = EnqueueDjen("TJXX", "2025-06-24");
  const std::string none = EnqueueDjen("TJRJ", "2025-06-25");
  WaitDone({tjrj, tjxx, none});
  ASSERT_EQ(State(tjrj), "succeeded") << LastError(tjrj) << worker_->Stderr();
  ASSERT_EQ(State(tjxx), "succeeded") << LastError(tjxx);
  ASSERT_EQ(State(none), "succeeded") << LastError(none);

  // TJRJ: three publications (pages of 2: two queries), each one entry, the
  // process and lawyers annotated by hand in eval/dev.
  const Json r = Result(tjrj);
  EXPECT_EQ(r["status"], "processed");
  EXPECT_EQ(r["source"], "djen");
  EXPECT_EQ(r["pages"], 3);
  EXPECT_EQ(r["entries"], 3);
  EXPECT_EQ(r["decisions"], 0);  // an agenda and two distribution notices: no judgment
  EXPECT_EQ(db_->Scalar("SELECT tribunal || ' ' || source || ' ' || pages FROM diario_gazettes WHERE task_id = '" +
                        tjrj + "'"),
            "tjrj djen:2025-06-23 3");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions d JOIN diario_gazettes g ON g.id = d.gazette_id "
                       "WHERE g.tribunal = 'tjrj' AND d.process_number = '0919992-11.2023.8.19.0001'"),
            3);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_lawyers l JOIN diario_decisions d ON d.id = l.decision_id "
                       "JOIN diario_gazettes g ON g.id = d.gazette_id WHERE g.tribunal = 'tjrj' "
                       "AND l.name = 'LUIZ PEIXOTO DE SIQUEIRA FILHO' AND l.oab_state = 'RJ' AND l.oab_number = '94719'"),
            3);
  // Each page was refused once (429, Retry-After 1) and asked again in the
  // same attempt: two pages, four requests, one attempt.
  EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + tjrj + "'"), 1);
  const Json requests = tribunal_.Stats()["requests"];
  int page1 = 0, page2 = 0;
  for (const auto& [path, n] : requests.items()) {
    if (path.find("siglaTribunal=TJRJ&dataDisponibilizacaoInicio=2025-06-23") == std::string::npos) continue;
    if (path.find("pagina=1&") != std::string::npos) page1 += n.get<int>();
    if (path.find("pagina=2&") != std::string::npos) page2 += n.get<int>();
  }
  EXPECT_EQ(page1, 2) << requests.dump();
  EXPECT_EQ(page2, 2) << requests.dump();

  // TJXX: one judgment "RECURSO PROVIDO", one "CONVERTIDO O JULGAMENTO EM
  // DILIGÊNCIA" (no outcome code), whose judgment rapporteur differs.
  EXPECT_EQ(Result(tjxx)["decisions"], 2);
  EXPECT_EQ(Result(tjxx)["unknown_outcomes"], 1);
  EXPECT_EQ(Outcome("0010381-61.2012.8.22.0001"), "provido");
  EXPECT_EQ(Outcome("0820526-29.2024.8.22.0000"), "desconhecido");
  EXPECT_EQ(db_->Scalar("SELECT coalesce(judgment_rapporteur, 'NULL') FROM diario_decisions "
                        "WHERE process_number = '0820526-29.2024.8.22.0000'"),
            "Desembargador Segundo Exemplo");
  EXPECT_EQ(db_->Scalar("SELECT coalesce(judgment_rapporteur, 'NULL') FROM diario_decisions "
                        "WHERE process_number = '0010381-61.2012.8.22.0001'"),
            "NULL");
  // No publication that day.
  EXPECT_EQ(Result(none)["status"], "no_gazette");

  // fila diario stats: per gazette, newest first, and the total.
  auto stats = RunFila("fila", {"diario", "stats", "--json"}, env_);
  ASSERT_EQ(stats.ExitCode(), 0) << stats.err;
  const Json s = Json::parse(stats.out);
  EXPECT_EQ(s["decisions"], 2);
  EXPECT_EQ(s["unknown_outcomes"], 1);
  EXPECT_EQ(s["unknown_share"], 0.5);
  ASSERT_EQ(s["latest_gazettes"].size(), 2u);
  EXPECT_EQ(s["latest_gazettes"][0]["tribunal"], "tjxx");
  EXPECT_EQ(s["latest_gazettes"][0]["unknown_share"], 0.5);
  EXPECT_EQ(s["latest_gazettes"][1]["tribunal"], "tjrj");
  EXPECT_TRUE(s["latest_gazettes"][1]["unknown_share"].is_null());  // no decisions: no share
  auto text = RunFila("fila", {"stats", "--type", "diario.process"}, env_);
  EXPECT_NE(text.out.find("outcome unknown (desconhecido) 1 of 2 decisions (50.0 %)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("djen:2025-06-24"), std::string::npos) << text.out;

  // The worker's /metrics: decisions by outcome; the share observed once
  // (the TJRJ day has no decisions, the empty day no gazette).
  const std::string address = test::MetricsAddress(*worker_);
  ASSERT_FALSE(address.empty()) << worker_->Stderr();
  const std::string page = test::Http("GET", "http://" + address + "/metrics").body;
  EXPECT_EQ(Sample(page, "fila_diario_decisions_total{outcome=\"provido\"}"), 1) << page;
  EXPECT_EQ(Sample(page, "fila_diario_decisions_total{outcome=\"desconhecido\"}"), 1);
  EXPECT_EQ(Sample(page, "fila_diario_decisions_total{outcome=\"nao_provido\"}"), 0);  // there at zero
  EXPECT_EQ(Sample(page, "fila_diario_gazette_unknown_outcome_ratio_count"), 1);
  EXPECT_EQ(Sample(page, "fila_diario_gazette_unknown_outcome_ratio_sum"), 0.5);
  EXPECT_EQ(Sample(page, "fila_diario_gazette_unknown_outcome_ratio_bucket{le=\"0.3\"}"), 0);
  EXPECT_EQ(Sample(page, "fila_diario_gazette_unknown_outcome_ratio_bucket{le=\"0.5\"}"), 1);
}

TEST_F(DiarioDjen, AnswersThatAreNotItsJsonEndAsClearErrors) {
  struct Case {
    std::string mode;
    std::vector<std::string> expected;  // in the task's last error
  };
  const std::vector<Case> cases{{"html", {"not JSON", "text/html"}},
                                {"malformed", {"not JSON", "application/json"}},
                                {"busy", {"DJEN query failed after 3 attempts", "429"}}};
  for (const auto& c : cases) {
    StartDjen(c.mode);
    const std::string id = EnqueueDjen("TJRJ", "2025-06-23", {"--max-attempts", "2"});
    WaitDone({id});
    EXPECT_EQ(State(id), "dead") << c.mode;
    EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + id + "'"), 2) << c.mode;  // retried
    const std::string error = LastError(id);
    for (const auto& e : c.expected) EXPECT_NE(error.find(e), std::string::npos) << c.mode << ": " << error;
    EXPECT_EQ(error.find("<"), std::string::npos) << "quotes the answer: " << error;
    EXPECT_EQ(error.find("Processo 09"), std::string::npos) << "quotes the answer: " << error;
    worker_.reset();
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes"), 0);
}

TEST_F(DiarioDjen, BadDjenPayloadsFailWithoutRetry) {
  StartDjen("ok");
  const std::string with_url = Enqueue(
      {{"tribunal", "TJRJ"}, {"date", "2025-06-23"}, {"source", "djen"}, {"url", tribunal_.Url("/x")}},
      {"--max-attempts", "3"});
  const std::string bad_code = EnqueueDjen("TJRJ&pagina=9", "2025-06-23", {"--max-attempts", "3"});
  const std::string no_date = Enqueue({{"tribunal", "TJRJ"}, {"source", "djen"}}, {"--max-attempts", "3"});
  const std::string bad_source = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-24"}, {"source", "rss"}},
                                         {"--max-attempts", "3"});
  WaitDone({with_url, bad_code, no_date, bad_source});
  for (const auto& id : {with_url, bad_code, no_date, bad_source}) {
    EXPECT_EQ(State(id), "failed") << id;
    EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + id + "'"), 1);
  }
  EXPECT_NE(LastError(with_url).find("FILA_DIARIO_DJEN_URL"), std::string::npos) << LastError(with_url);
  EXPECT_NE(LastError(bad_code).find("not a DJEN tribunal code"), std::string::npos) << LastError(bad_code);
  EXPECT_NE(LastError(no_date).find("needs a date"), std::string::npos) << LastError(no_date);
  EXPECT_NE(LastError(bad_source).find("payload.source"), std::string::npos) << LastError(bad_source);
  EXPECT_EQ(tribunal_.Stats()["requests"].size(), 0u);  // nothing was asked of DJEN
}

}  // namespace
}  // namespace fila::diario_test
