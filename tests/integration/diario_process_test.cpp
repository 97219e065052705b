// diario.process through the real queue (fila enqueue, fila-scheduler,
// fila-worker, PostgreSQL, RabbitMQ) against the fake tribunal of
// tests/fake_tribunal: the real TJRO gazette, its HTML block page, 404s,
// a slow server, politeness per host, the LLM step, archives, backfill and
// stats.
#include <csignal>
#include <fstream>
#include <thread>

#include "diario_fixture.h"

namespace fila::diario_test {
namespace {

TEST_F(DiarioProcess, GazetteOfADayToDecisionsThenARetryLeavesOneCopy) {
  Start();
  const std::string id = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-24"}});
  WaitDone({id});
  ASSERT_EQ(State(id), "succeeded") << LastError(id) << worker_->Stderr();
  const Json r = Result(id);
  EXPECT_EQ(r["status"], "processed");
  EXPECT_EQ(r["pages"], 25);
  EXPECT_EQ(r["decisions"], 52);  // the 52 "Decisão:" paragraphs of the PDF
  EXPECT_EQ(r["entries"], 88);
  EXPECT_EQ(r["numbers"], 123);
  EXPECT_EQ(r["invalid_numbers"], 0);
  EXPECT_EQ(r["sha256"], "f9074a2a61672c16ad4ce473c690a3c4ce8207a3b164b15158b6bc1f58b5efdd");

  EXPECT_EQ(db_->Scalar("SELECT status || ' ' || pages || ' ' || size_bytes || ' ' || gazette_date "
                        "FROM diario_gazettes"),
            "processed 25 243526 2025-06-24");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions"), 88);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions WHERE decision_text <> ''"), 52);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions WHERE NOT number_valid"), 0);
  // Facts read in the PDF (pdftotext -layout), gazette pages 64-72.
  EXPECT_EQ(Outcome("0010381-61.2012.8.22.0001"), "provido");
  EXPECT_EQ(Outcome("0820526-29.2024.8.22.0000"), "nao_provido");
  EXPECT_EQ(Outcome("7003286-23.2024.8.22.0005"), "parcialmente_provido");
  EXPECT_EQ(Outcome("7069183-44.2023.8.22.0001"), "nao_conhecido");
  EXPECT_EQ(Outcome("7030339-25.2023.8.22.0001"), "provido");
  EXPECT_EQ(db_->Scalar("SELECT l.oab_state || ' ' || l.oab_number FROM diario_lawyers l "
                        "JOIN diario_decisions d ON d.id = l.decision_id "
                        "WHERE d.process_number = '7030339-25.2023.8.22.0001' AND l.name = 'Daniel Barbosa Santos'"),
            "DF 13147");
  // Page 50: "Advogado(a): Elaine Leite de Moura (OAB/RO 6.387)", for the Agravante.
  EXPECT_EQ(db_->Scalar("SELECT l.oab_state || ' ' || l.oab_number || ' ' || p.role FROM diario_lawyers l "
                        "JOIN diario_decisions d ON d.id = l.decision_id "
                        "JOIN diario_parties p ON p.decision_id = d.id AND p.seq = l.party_seq "
                        "WHERE d.process_number = '0801072-29.2025.8.22.0000' AND d.seq < 10 "
                        "AND l.name = 'Elaine Leite de Moura'"),
            "RO 6387 Agravante");
  EXPECT_EQ(db_->Scalar("SELECT rapporteur FROM diario_decisions WHERE process_number = "
                        "'0010381-61.2012.8.22.0001'"),
            "DES. DANIEL RIBEIRO LAGOS");
  // Page 72 (pdftotext -layout): "Relator: JUIZ ADOLFO THEODORO NAUJORKS NETO",
  // "Relator p/ acórdão: Des. Glodner Luiz Pauletto"; the only such line.
  EXPECT_EQ(db_->Scalar("SELECT rapporteur || ' | ' || judgment_rapporteur FROM diario_decisions "
                        "WHERE process_number = '7030339-25.2023.8.22.0001' AND judgment_rapporteur IS NOT NULL"),
            "JUIZ ADOLFO THEODORO NAUJORKS NETO | Des. Glodner Luiz Pauletto");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions WHERE judgment_rapporteur IS NOT NULL"), 1);
  // Every one of the 52 judgments has a known outcome.
  EXPECT_EQ(r["unknown_outcomes"], 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions WHERE decision_text <> '' AND outcome = 'desconhecido'"),
            0);
  // The archive holds the PDF, byte for byte in size.
  const auto copy = archive_ / "default/tjro/2025/20250624.pdf";
  ASSERT_TRUE(std::filesystem::exists(copy));
  EXPECT_EQ(std::filesystem::file_size(copy), 243526u);

  // The same gazette again (another task): one gazette, the same decisions.
  const std::string again = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-24"}});
  WaitDone({again});
  ASSERT_EQ(State(again), "succeeded") << LastError(again);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_decisions"), 88);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_lawyers"),
            db_->Count("SELECT count(DISTINCT (decision_id, seq)) FROM diario_lawyers"));
}

TEST_F(DiarioProcess, A404IsNoGazetteAndStatsCountIt) {
  Start();
  const std::string none = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-25"}});
  const std::string some = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-24"}});
  WaitDone({none, some});
  ASSERT_EQ(State(none), "succeeded") << LastError(none);
  EXPECT_EQ(Result(none)["status"], "no_gazette");
  EXPECT_EQ(db_->Scalar("SELECT status FROM diario_gazettes WHERE gazette_date = '2025-06-25'"), "no_gazette");
  // One more, blocked for good, so that stats has a failure to show.
  const std::string bad = Enqueue({{"tribunal", "tjro"}, {"url", tribunal_.Url("/blocked/x.pdf")}},
                                  {"--max-attempts", "1"});
  WaitDone({bad});
  auto r = RunFila("fila", {"stats", "--type", "diario.process", "--json"}, env_);
  ASSERT_EQ(r.ExitCode(), 0) << r.err;
  const Json s = Json::parse(r.out);
  EXPECT_EQ(s["done"], 1);
  EXPECT_EQ(s["no_gazette"], 1);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["pending"], 0);
  EXPECT_EQ(s["decisions"], 52);
  EXPECT_EQ(s["unknown_outcomes"], 0);
  EXPECT_EQ(s["unknown_share"], 0.0);
  ASSERT_EQ(s["latest_gazettes"].size(), 1u);  // the no_gazette day is no processed gazette
  EXPECT_EQ(s["latest_gazettes"][0]["date"], "2025-06-24");
  EXPECT_EQ(s["latest_gazettes"][0]["decisions"], 52);
  EXPECT_EQ(s["latest_gazettes"][0]["unknown_outcomes"], 0);
  auto text = RunFila("fila", {"stats", "--type", "diario.process"}, env_);
  EXPECT_NE(text.out.find("no gazette  1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("decisions found 52"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("outcome unknown (desconhecido) 0 of 52 decisions (0.0 %)"), std::string::npos)
      << text.out;
  auto listed = RunFila("fila", {"diario", "stats", "--gazettes", "0"}, env_);
  EXPECT_EQ(listed.ExitCode(), 0) << listed.err;
  EXPECT_EQ(listed.out.find("latest"), std::string::npos) << listed.out;
  EXPECT_EQ(RunFila("fila", {"diario", "stats", "--gazettes", "-1"}, env_).ExitCode(), 2);
  // Plain `fila stats` still prints its table.
  auto plain = RunFila("fila", {"stats"}, env_);
  EXPECT_EQ(plain.ExitCode(), 0) << plain.err;
  EXPECT_NE(plain.out.find(queue_), std::string::npos) << plain.out;
}

TEST_F(DiarioProcess, TheBlockPageIsRetriedThenFailsWithAClearError) {
  Start();
  const std::string blocked = Enqueue({{"tribunal", "tjro"}, {"url", tribunal_.Url("/blocked/20240720.pdf")}},
                                      {"--max-attempts", "3"});
  const std::string unblocked = Enqueue(
      {{"tribunal", "tjro"}, {"url", tribunal_.Url(std::string("/blocked-then-pdf/1/") + kGazette)}},
      {"--max-attempts", "3"});
  WaitDone({blocked, unblocked});
  EXPECT_EQ(State(blocked), "dead");
  EXPECT_NE(LastError(blocked).find("not a PDF"), std::string::npos) << LastError(blocked);
  EXPECT_NE(LastError(blocked).find("text/html"), std::string::npos) << LastError(blocked);
  EXPECT_EQ(LastError(blocked).find("<"), std::string::npos) << "quotes the page: " << LastError(blocked);
  EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + blocked + "'"), 3);
  EXPECT_EQ(tribunal_.Stats()["requests"]["/blocked/20240720.pdf"], 3);
  ASSERT_EQ(State(unblocked), "succeeded") << LastError(unblocked);
  EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + unblocked + "'"), 2);
  EXPECT_EQ(Result(unblocked)["decisions"], 52);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes"), 1);  // nothing stored for the blocked one
}

TEST_F(DiarioProcess, ASlowServerTimesOutThenTheRetrySucceeds) {
  Start();
  const std::string id = Enqueue(
      {{"tribunal", "tjro"}, {"url", tribunal_.Url(std::string("/slow-once/6/") + kGazette)}},
      {"--max-attempts", "3", "--timeout-ms", "2000"});
  WaitDone({id});
  ASSERT_EQ(State(id), "succeeded") << LastError(id);
  EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + id + "'"), 2);
  EXPECT_NE(db_->Scalar("SELECT outcome FROM task_attempts WHERE task_id = '" + id + "' AND attempt = 1"),
            "succeeded");
}

TEST_F(DiarioProcess, AtMostThreeDownloadsPerHostAndAGapBetweenStartsAcrossWorkers) {
  Start(4, {{"FILA_DIARIO_MIN_INTERVAL_MS", "200"}});
  // A second worker: the limit is the host's, shared through PostgreSQL.
  auto env = env_;
  env["FILA_DIARIO_MIN_INTERVAL_MS"] = "200";
  Process second("fila-worker", std::vector<std::string>{"--queues", queue_, "--concurrency", "4"}, env);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(Enqueue({{"tribunal", "tjro"},
                           {"url", tribunal_.Url("/slow/1/" + std::string(kGazette) + "?n=" + std::to_string(i))}}));
  }
  WaitDone(ids);
  for (const auto& id : ids) EXPECT_EQ(State(id), "succeeded") << LastError(id);
  // Both workers took part.
  EXPECT_EQ(db_->Count("SELECT count(DISTINCT worker) FROM tasks"), 2);
  const Json s = tribunal_.Stats();
  EXPECT_LE(s["max_in_flight"].get<int>(), 3);
  EXPECT_GE(s["max_in_flight"].get<int>(), 2);  // the limit, not a lack of work, is what held them
  // The gap counts from each request having left and the fake stamps
  // arrivals with the kernel's receive time: the whole gap, to its rounding.
  EXPECT_GE(s["min_gap_ms"].get<double>(), 199.0);
}

TEST_F(DiarioProcess, TheLlmStepIsToleratedAndItsKeyNeverLogged) {
  const std::string key = "sk-test-diario-secret-4242";
  Start(2, {{"FILA_DIARIO_LLM_URL", tribunal_.Url("/v1")},
            {"FILA_DIARIO_LLM_API_KEY", key},
            {"FILA_LOG_LEVEL", "debug"},
            {"FILA_DIARIO_ARCHIVE", tribunal_.Url("/archive")}});
  const std::string id = Enqueue({{"tribunal", "tjro"}, {"date", "2025-06-24"}, {"use_llm", true}});
  WaitDone({id});
  ASSERT_EQ(State(id), "succeeded") << LastError(id);
  const Json r = Result(id);
  EXPECT_EQ(r["llm"], true);
  EXPECT_EQ(r["decisions"], 52);  // the rules' result stands
  EXPECT_EQ(tribunal_.Stats()["archived"]["default/tjro/2025/20250624.pdf"], 243526);
  worker_->Signal(SIGTERM);
  worker_->Wait(20s);
  EXPECT_EQ(worker_->Stderr().find(key), std::string::npos);
  EXPECT_EQ(worker_->Stdout().find(key), std::string::npos);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE position('" + key + "' IN coalesce(last_error, '') || "
                       "convert_from(coalesce(result, ''), 'UTF8')) > 0"),
            0);
}

// The backfill itself (index, plan, resume) is diario_backfill_test.cpp's.
TEST_F(DiarioProcess, BackfillRefusesBadArgumentsBeforeAnyRequest) {
  auto bad = RunFila("fila", {"diario", "backfill", "--tribunal", "tjro", "--from", "2024-02-30", "--to",
                              "2024-03-01"},
                     env_);
  EXPECT_EQ(bad.ExitCode(), 2);
  EXPECT_NE(bad.err.find("not a date"), std::string::npos) << bad.err;
  auto unknown = RunFila("fila", {"diario", "backfill", "--tribunal", "tjxx", "--from", "2024-01-01", "--to",
                                  "2024-01-02"},
                         env_);
  EXPECT_EQ(unknown.ExitCode(), 2);
  auto reversed = RunFila("fila", {"diario", "backfill", "--tribunal", "tjro", "--from", "2024-02-01", "--to",
                                   "2024-01-01"},
                          env_);
  EXPECT_EQ(reversed.ExitCode(), 2);
  auto range = RunFila("fila", {"diario", "backfill", "--tribunal", "tjro", "--from", "1980-01-01", "--to",
                                "2024-01-01"},
                       env_);
  EXPECT_EQ(range.ExitCode(), 2);
  EXPECT_NE(range.err.find("at most 40 years"), std::string::npos) << range.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
}

TEST_F(DiarioProcess, BadPayloadsFailWithoutRetry) {
  Start();
  const std::string no_source = Enqueue({{"tribunal", "tjro"}}, {"--max-attempts", "3"});
  const std::string bad_date = Enqueue({{"tribunal", "tjro"}, {"date", "2024-02-30"}}, {"--max-attempts", "3"});
  const std::string bad_tribunal = Enqueue({{"tribunal", "tjxx"}, {"date", "2024-02-01"}}, {"--max-attempts", "3"});
  WaitDone({no_source, bad_date, bad_tribunal});
  for (const auto& id : {no_source, bad_date, bad_tribunal}) {
    EXPECT_EQ(State(id), "failed") << id;
    EXPECT_EQ(db_->Count("SELECT attempt FROM tasks WHERE id = '" + id + "'"), 1);
  }
  EXPECT_NE(LastError(bad_date).find("not a date"), std::string::npos) << LastError(bad_date);
  EXPECT_NE(LastError(bad_tribunal).find("unknown tribunal"), std::string::npos) << LastError(bad_tribunal);
}

}  // namespace
}  // namespace fila::diario_test
