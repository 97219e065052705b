// The Omie client's fault classification on the real fault bodies, its
// retries and waits against a scripted server, and both listing styles.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fila/test_support/scripted_http_client.h"
#include "omie_client.h"
#include "stages.h"

namespace fila::nfe {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using test::Reply;
using test::HttpAnswer;
using test::MakeResponse;
using test::NoAnswer;
using test::ScriptedHttpClient;

json FaultBodies() {
  std::ifstream in(std::string(FILA_NFE_FIXTURES) + "/omie_fault_bodies_observed.json");
  EXPECT_TRUE(in);
  return json::parse(in);
}

std::string Fault(const std::string& code, const std::string& text) {
  return json{{"faultstring", text}, {"faultcode", code}}.dump();
}

TEST(NfeOmieClassify, EveryObservedFaultBody) {
  const json bodies = FaultBodies()["bodies"];
  ASSERT_GE(bodies.size(), 9u);
  const std::map<std::string, FaultKind> expected = {
      {"end_of_pagination / empty result", FaultKind::kEndOfData},
      {"request already being processed (duplicate/in-flight)", FaultKind::kWaitThenRetry},
      {"redundant consumption (same call repeated too soon)", FaultKind::kWaitThenRetry},
      {"invalid credentials", FaultKind::kCredentials},
      {"record not found", FaultKind::kRequest},
      {"record not found (integration code)", FaultKind::kRequest},
      {"business-rule validation error returned as HTTP 500", FaultKind::kRequest},
  };
  int checked = 0;
  for (const json& b : bodies) {
    const std::string kind = b["kind"];
    if (!b.contains("body")) continue;
    const long status = b["http_status"].is_number() ? b["http_status"].get<long>() : 500;
    auto it = expected.find(kind);
    ASSERT_NE(it, expected.end()) << kind;
    const Classified c = ClassifyResponse(MakeResponse(status, b["body"]), std::chrono::system_clock::now());
    EXPECT_EQ(c.kind, it->second) << kind;
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(NfeOmieClassify, RedundantWaitsTheSecondsItNames) {
  const json bodies = FaultBodies()["bodies"];
  for (const json& b : bodies) {
    if (b["kind"] == "redundant consumption (same call repeated too soon)") {
      EXPECT_EQ(ClassifyResponse(MakeResponse(500, b["body"]), {}).wait, 60s);
    }
    if (b["kind"] == "redundant consumption (message variants quoted in tests)") {
      const std::vector<std::chrono::milliseconds> waits = {15s, 5s};
      for (size_t i = 0; i < b["body_variants"].size(); ++i) {
        Classified c = ClassifyResponse(MakeResponse(500, Fault("SOAP-ENV:Client-6", b["body_variants"][i])), {});
        EXPECT_EQ(c.kind, FaultKind::kWaitThenRetry);
        EXPECT_EQ(c.wait, waits[i]);
      }
    }
    if (b["kind"] == "API blocked for misuse") {
      Classified c = ClassifyResponse(MakeResponse(500, Fault("MISUSE_API_PROCESS", b["body_variants"][0])), {});
      EXPECT_EQ(c.kind, FaultKind::kBackOff);
      EXPECT_EQ(c.wait, 1678s);
    }
  }
}

TEST(NfeOmieClassify, InFlightDuplicateWaitsUntilTheBrasiliaTime) {
  // 2026-10-05 22:04:00 UTC is 19:04:00 in Brasília; the fault names 19:04:08.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1791237840));
  const json bodies = FaultBodies()["bodies"];
  for (const json& b : bodies) {
    if (b["kind"] == "request already being processed (duplicate/in-flight)") {
      Classified c = ClassifyResponse(MakeResponse(500, b["body"]), now);
      EXPECT_EQ(c.kind, FaultKind::kWaitThenRetry);
      EXPECT_EQ(c.wait, 8s);
    }
  }
}

TEST(NfeOmieClassify, StatusesWithoutFaultBodies) {
  EXPECT_EQ(ClassifyResponse(MakeResponse(502, "<html>Bad Gateway</html>"), {}).kind, FaultKind::kTransient);
  EXPECT_EQ(ClassifyResponse(MakeResponse(200, "<html>proxy</html>"), {}).kind, FaultKind::kTransient);
  Classified limited = ClassifyResponse(MakeResponse(429, "Too many requests", {{"retry-after", "7"}}), {});
  EXPECT_EQ(limited.kind, FaultKind::kBackOff);
  EXPECT_EQ(limited.wait, 7s);
  EXPECT_EQ(ClassifyResponse(MakeResponse(425, ""), {}).kind, FaultKind::kBackOff);
  EXPECT_EQ(ClassifyResponse(MakeResponse(403, "Forbidden"), {}).kind, FaultKind::kCredentials);
  EXPECT_EQ(ClassifyResponse(MakeResponse(404, "nope"), {}).kind, FaultKind::kRequest);
  // A fault inside a 200 is still a fault.
  EXPECT_EQ(
      ClassifyResponse(MakeResponse(200, Fault("SOAP-ENV:Client-5113", "ERROR: Não existem registros")), {}).kind,
      FaultKind::kEndOfData);
  EXPECT_EQ(ClassifyResponse(MakeResponse(500, Fault("SOAP-ENV:Server", "ERROR: erro interno")), {}).kind,
            FaultKind::kTransient);
  Classified ok = ClassifyResponse(MakeResponse(200, R"({"pagina":1})"), {});
  EXPECT_EQ(ok.kind, FaultKind::kNone);
  EXPECT_EQ(ok.body["pagina"], 1);
}

OmieOptions FastOptions() {
  OmieOptions o;
  o.base_url = "http://omie.test/api/v1";
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  o.max_attempts = 4;
  return o;
}

// Each fixture has its own account: a block the server announces pauses
// the account for the whole process.
std::string NextAccount() {
  static std::atomic<int> n{0};
  return "acme" + std::to_string(n.fetch_add(1));
}

// A scripted Omie (answers in order) and a client of a fresh account.
struct ClientFixture {
  ScriptedHttpClient http;
  std::unique_ptr<KeyLimiter> limiter = MakeLocalKeyLimiter();
  OmieClient client{http, *limiter, NextAccount(), {"k3y", "s3cret"}, FastOptions(), DeadlineIn(30s), nullptr};

  // The JSON body and the URL of the i-th request sent.
  json Body(size_t i) const { return json::parse(http.requests().at(i).body); }
  std::string Url(size_t i) const { return http.requests().at(i).url; }
};

TEST(NfeOmieClient, EnvelopeCarriesCallKeyAndOneParam) {
  ClientFixture f;
  f.http.Push(Reply(200, R"({"ok":1})"));
  auto r = f.client.Call("produtos/dfedocs", "ObterNfe", {{"nIdNfe", 7}});
  ASSERT_TRUE(r);
  EXPECT_EQ(f.Url(0), "http://omie.test/api/v1/produtos/dfedocs/");
  EXPECT_EQ(f.Body(0)["call"], "ObterNfe");
  EXPECT_EQ(f.Body(0)["app_key"], "k3y");
  EXPECT_EQ(f.Body(0)["app_secret"], "s3cret");
  ASSERT_EQ(f.Body(0)["param"].size(), 1u);
  EXPECT_EQ(f.Body(0)["param"][0]["nIdNfe"], 7);
}

TEST(NfeOmieClient, RetriesTransientFailuresThenSucceeds) {
  ClientFixture f;
  f.http.Push(NoAnswer("timed out"));
  f.http.Push(Reply(503, "<html>down</html>"));
  f.http.Push(Reply(429, "Too many requests"));
  f.http.Push(Reply(200, R"({"ok":1})"));
  EXPECT_TRUE(f.client.Call("x", "M", json::object()));
  EXPECT_EQ(f.client.Counters().retries.load(), 3);
}

TEST(NfeOmieClient, GivesUpAfterMaxAttemptsWithTransientError) {
  ClientFixture f;
  for (int i = 0; i < 4; ++i) f.http.Push(Reply(500, "<html>oops</html>"));
  EXPECT_THROW(f.client.Call("x", "M", json::object()), TransientError);
  EXPECT_EQ(f.http.sent(), 4u);
}

TEST(NfeOmieClient, WaitsTheNamedSecondsBeforeRepeating) {
  ClientFixture f;
  f.http.Push(Reply(500, Fault("SOAP-ENV:Client-6", "ERROR: Consumo redundante detectado. Aguarde 1 segundos")));
  f.http.Push(Reply(200, R"({"ok":1})"));
  const auto start = SteadyClock::now();
  EXPECT_TRUE(f.client.Call("x", "M", json::object()));
  // 1 s named + 1 s margin.
  EXPECT_GE(SteadyClock::now() - start, 1900ms);
  EXPECT_EQ(f.client.Counters().waits.load(), 1);
  EXPECT_EQ(f.Body(0), f.Body(1));
}

TEST(NfeOmieClient, BadKeyIsPermanentAndNamesNoSecret) {
  ClientFixture f;
  f.http.Push(Reply(403, Fault("SOAP-ENV:Server", "A chave de acesso não está preenchida ou não é válida.")));
  try {
    f.client.Call("x", "M", json::object());
    FAIL() << "no throw";
  } catch (const OmieRequestError&) {
    FAIL() << "a bad key must fail the task, not one request";
  } catch (const PermanentError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(f.client.Account()), std::string::npos) << what;
    EXPECT_EQ(what.find("k3y"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

TEST(NfeOmieClient, ValidationFaultIsARequestError) {
  ClientFixture f;
  f.http.Push(Reply(500, Fault("SOAP-ENV:Client-105", "ERROR: Cliente não cadastrado")));
  try {
    f.client.Call("x", "M", json::object());
    ADD_FAILURE() << "no throw";
  } catch (const OmieRequestError& e) {
    // The error names the call and the fault code, never the answer's words.
    EXPECT_EQ(std::string(e.what()), "M: SOAP-ENV:Client-105 (HTTP 500)");
    EXPECT_EQ(e.FaultText(), "ERROR: Cliente não cadastrado");
  }
  EXPECT_EQ(f.http.sent(), 1u);
}

TEST(NfeOmieClient, ErrorsNeverQuoteTheAnswer) {
  const std::string marker = "internal-service-bytes";
  // A bad key, an unknown fault (retried until the attempts run out) and a
  // request fault whose code is not a code.
  const std::vector<HttpAnswer> answers{
      Reply(403, Fault("SOAP-ENV:Server", "chave de acesso " + marker)),
      Reply(500, Fault("SOAP-ENV:Server", "ERROR: " + marker)),
      Reply(500, Fault("SOAP-ENV:Client-9 <b>" + marker + "</b>", "ERROR: " + marker)),
  };
  for (const auto& answer : answers) {
    ClientFixture f;
    for (int i = 0; i < FastOptions().max_attempts; ++i) f.http.Push(answer);
    try {
      f.client.Call("x", "M", json::object());
      ADD_FAILURE() << "no throw";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find(marker), std::string::npos) << e.what();
    }
  }
}

TEST(NfeOmieClient, LongBlockEndsTheAttemptAndPausesTheAccount) {
  ClientFixture f;
  f.http.Push(Reply(500, Fault("MISUSE_API_PROCESS",
                                            "ERROR: API bloqueada por consumo indevido. Tente novamente em 1678 segundos.")));
  EXPECT_THROW(f.client.Call("x", "M", json::object()), TransientError);
  // Another client of the same account does not even send its request.
  OmieClient other{f.http, *f.limiter, f.client.Account(), {"k", "s"}, FastOptions(), DeadlineIn(30s), nullptr};
  f.http.Push(Reply(200, R"({"ok":1})"));
  EXPECT_THROW(other.Call("x", "M", json::object()), TransientError);
  EXPECT_EQ(f.http.sent(), 1u);
}

TEST(NfeListing, SnakeCasePagesUpToTheLastPage) {
  ClientFixture f;
  auto page = [](int n, int total, std::vector<int> ids) {
    json items = json::array();
    for (int id : ids) items.push_back({{"compl", {{"nIdNF", id}, {"cChaveNFe", "k" + std::to_string(id)}}}, {"ide", {{"dCan", ""}}}});
    return json{{"pagina", n}, {"total_de_paginas", total}, {"registros", ids.size()}, {"nfCadastro", items}}.dump();
  };
  // The server caps the page at 2 although 100 were asked; the total moves,
  // and a record seen twice is kept once.
  f.http.Push(Reply(200, page(1, 2, {1, 2})));
  f.http.Push(Reply(200, page(2, 3, {2, 3})));
  f.http.Push(Reply(200, page(3, 3, {4})));
  ListingRequest request{"ListarNF", ParsePeriod("2026-02"), 100};
  auto refs = ListInvoices(f.client, request, nullptr);
  ASSERT_EQ(refs.size(), 4u);
  EXPECT_EQ(refs[0].omie_id, "1");
  EXPECT_EQ(refs[3].key, "k4");
  EXPECT_EQ(f.Body(0)["call"], "ListarNF");
  EXPECT_EQ(f.Body(0)["param"][0]["dEmiInicial"], "01/02/2026");
  EXPECT_EQ(f.Body(0)["param"][0]["dEmiFinal"], "28/02/2026");
  EXPECT_EQ(f.Body(2)["param"][0]["pagina"], 3);
}

TEST(NfeListing, HungarianPagesEndAtTheEndOfDataFault) {
  ClientFixture f;
  auto page = [](int n, std::vector<int> ids) {
    json items = json::array();
    for (int id : ids) items.push_back({{"nIdNF", id}, {"nChave", "c"}, {"cXml", "<x/>"}, {"cStatus", id == 3 ? "10" : "00"}});
    // No nTotPaginas: the pages are counted from nTotRegistros.
    return json{{"nPagina", n}, {"nRegistros", ids.size()}, {"nTotRegistros", 9}, {"documentosEncontrados", items}}.dump();
  };
  f.http.Push(Reply(200, page(1, {1, 2, 3})));
  f.http.Push(Reply(200, page(2, {4, 5, 6})));
  f.http.Push(Reply(500, Fault("SOAP-ENV:Client-5113", "ERROR: Não existem registros para a página [3]!")));
  ListingRequest request{"ListarDocumentos", ParsePeriod("2024-02"), 3};
  auto refs = ListInvoices(f.client, request, nullptr);
  ASSERT_EQ(refs.size(), 6u);
  EXPECT_EQ(refs[2].status, "cancelled");
  ASSERT_TRUE(refs[0].xml);
  EXPECT_EQ(f.Url(0), "http://omie.test/api/v1/contador/xml/");
  EXPECT_EQ(f.Body(0)["param"][0]["nRegPorPagina"], 3);
  EXPECT_EQ(f.Body(0)["param"][0]["dEmiFinal"], "29/02/2024");
  EXPECT_EQ(f.http.sent(), 3u);
}

TEST(NfeListing, EmptyPeriodIsNoInvoices) {
  ClientFixture f;
  f.http.Push(Reply(500, Fault("SOAP-ENV:Client-5113", "ERROR: Não existem registros para a página [1]!")));
  EXPECT_TRUE(ListInvoices(f.client, {"ListarNF", ParsePeriod("2026-01"), 50}, nullptr).empty());
}

TEST(NfeListing, FetchTreatsStatusErrorsAsMissing) {
  ClientFixture f;
  f.http.Push(Reply(200, R"({"cCodStatus":"3","cDesStatus":"NF-e nao encontrada"})"));
  f.http.Push(Reply(500, Fault("SOAP-ENV:Client-105", "ERROR: não cadastrado")));
  f.http.Push(Reply(200, R"({"cCodStatus":"0","cXmlNfe":"\ufeff<NFe/>"})"));
  Fetched a = FetchXml(f.client, {"11", "", "", std::nullopt});
  EXPECT_FALSE(a.bytes);
  EXPECT_NE(a.missing_reason.find("nao encontrada"), std::string::npos);
  Fetched b = FetchXml(f.client, {"12", "", "", std::nullopt});
  EXPECT_FALSE(b.bytes);
  // The report keeps the ERP's reason (the task's result, not an error).
  EXPECT_EQ(b.missing_reason, "ObterNfe: SOAP-ENV:Client-105 (HTTP 500): ERROR: não cadastrado");
  Fetched c = FetchXml(f.client, {"13", "", "", std::nullopt});
  ASSERT_TRUE(c.bytes);
  EXPECT_EQ(*c.bytes, "<NFe/>");
}

TEST(NfeListing, FetchDecodesBase64ButKeepsXmlAsReceived) {
  ClientFixture f;
  // "<NFe/>" in base64, as some clients report cXml arriving.
  Fetched a = FetchXml(f.client, {"1", "", "", std::string("PE5GZS8+")});
  ASSERT_TRUE(a.bytes);
  EXPECT_EQ(*a.bytes, "<NFe/>");
  // XML text is kept byte for byte (only a byte order mark goes).
  const std::string xml = "  <NFe>\r\n<x a='1'/></NFe>";
  EXPECT_EQ(*FetchXml(f.client, {"2", "", "", "\xEF\xBB\xBF" + xml}).bytes, xml);
  // Neither XML nor base64: left as is, for the verifier to judge.
  EXPECT_EQ(*FetchXml(f.client, {"3", "", "", std::string("not xml!")}).bytes, "not xml!");
  EXPECT_EQ(f.http.sent(), 0u);
}

TEST(NfeCredentials, FromEnvironmentOrSecretFiles) {
  ::setenv("FILA_OMIE_ACME_X_APP_KEY", "key-from-env", 1);
  ::setenv("FILA_OMIE_ACME_X_APP_SECRET", "secret-from-env", 1);
  auto c = LoadCredentials("acme_x", "");
  EXPECT_EQ(c.app_key, "key-from-env");
  ::unsetenv("FILA_OMIE_ACME_X_APP_KEY");
  ::unsetenv("FILA_OMIE_ACME_X_APP_SECRET");
  const std::string dir = ::testing::TempDir() + "/nfe_secrets";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/FILA_OMIE_ACME_X_APP_KEY") << "key-from-file\n";
  std::ofstream(dir + "/FILA_OMIE_ACME_X_APP_SECRET") << "secret-from-file\n";
  c = LoadCredentials("acme_x", dir);
  EXPECT_EQ(c.app_key, "key-from-file");
  EXPECT_EQ(c.app_secret, "secret-from-file");
  try {
    LoadCredentials("nobody", dir);
    FAIL();
  } catch (const PermanentError& e) {
    // The producer reads this: where the worker keeps secrets stays out.
    EXPECT_NE(std::string(e.what()).find("has no credentials"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("FILA_"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LoadCredentials("../etc", dir), PermanentError);
  EXPECT_THROW(LoadCredentials("", dir), PermanentError);
}

TEST(NfePeriod, ParsesMonthsAndRefusesTheRest) {
  EXPECT_EQ(ParsePeriod("2024-02").LastDay(), "29/02/2024");
  EXPECT_EQ(ParsePeriod("2026-12").FirstDay(), "01/12/2026");
  for (const char* bad : {"2026-13", "2026-1", "26-01", "2026/01", "", "abcd-ef", "1999-01"}) {
    EXPECT_THROW(ParsePeriod(bad), PermanentError) << bad;
  }
}

}  // namespace
}  // namespace fila::nfe
