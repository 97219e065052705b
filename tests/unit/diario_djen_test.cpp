// DJEN answers (comunicaapi.pje.jus.br): the query a tribunal code and a
// date make, the JSON of an answer, a publication's text, and what each
// kind of answer means for the task.
#include <gtest/gtest.h>

#include "djen_fetch.h"
#include "fila/core/errors.h"
#include "fila/diario/djen.h"

namespace fila::diario {
namespace {

TEST(DiarioDjen, TheTribunalCodeIsLettersAndDigitsOnly) {
  EXPECT_EQ(DjenTribunalCode("tjsp"), "TJSP");
  EXPECT_EQ(DjenTribunalCode("TRF1"), "TRF1");
  for (const char* bad : {"", "T", "TJSP&pagina=9", "TJ SP", "../x", "TJSPTJSPTJSPX", "tj\xC3\xA9"}) {
    EXPECT_THROW(DjenTribunalCode(bad), PermanentError) << bad;
  }
}

TEST(DiarioDjen, TheQueryNamesTheTribunalTheDayAndThePage) {
  EXPECT_EQ(DjenQueryUrl("https://comunicaapi.pje.jus.br/api/v1/comunicacao", "TJSP", "2025-11-14", 2, 100),
            "https://comunicaapi.pje.jus.br/api/v1/comunicacao?siglaTribunal=TJSP"
            "&dataDisponibilizacaoInicio=2025-11-14&dataDisponibilizacaoFim=2025-11-14&pagina=2&itensPorPagina=100");
  EXPECT_EQ(DjenQueryUrl("http://mirror/q?k=1", "TRF1", "2025-11-13", 1, 5).substr(0, 35),
            "http://mirror/q?k=1&siglaTribunal=T");
}

TEST(DiarioDjen, AnAnswerGivesItsItemsWithPlainText) {
  const DjenPage page = ParseDjenAnswer(R"json({"status":"success","count":2,"items":[
    {"id":462597513,"numero_processo":"10001234520258260100","siglaTribunal":"TJSP",
     "data_disponibilizacao":"2025-11-14","texto":"Processo 1000123-45.2025.8.26.0100<br>Autor: A &amp; B<br/>Advogado: X (OAB 1/SP)"},
    {"id":7,"texto":"<p>linha um</p><p>linha&nbsp;dois &#231; &#xE9;</p>\n\rfim"}]})json");
  EXPECT_EQ(page.count, 2);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].id, 462597513);
  EXPECT_EQ(page.items[0].process_number, "10001234520258260100");
  EXPECT_EQ(page.items[0].tribunal, "TJSP");
  EXPECT_EQ(page.items[0].date, "2025-11-14");
  EXPECT_EQ(page.items[0].text, "Processo 1000123-45.2025.8.26.0100\nAutor: A & B\nAdvogado: X (OAB 1/SP)");
  EXPECT_EQ(page.items[1].text, "linha um\nlinha dois \xC3\xA7 \xC3\xA9\n\nfim");
  EXPECT_EQ(PublicationText("a < b & c"), "a < b & c");  // lone '<' and '&' are text
  // Hostile markup: 100,000 nested elements (past libxml2's depth limit)
  // give what the parser kept, without a crash or a deep stack.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<div>";
  EXPECT_NO_THROW(PublicationText(deep + "fundo"));
  EXPECT_EQ(PublicationPages(page.items).at(1).number, 2);
}

TEST(DiarioDjen, AnythingButItsJsonIsATransientErrorThatQuotesNothing) {
  for (const char* body : {"<html><body>Manutenção</body></html>", "{\"items\":[{\"id\":1,\"texto\":\"cut",
                           "[1,2]", "{\"status\":\"success\"}", "{\"items\":{}}", "{\"items\":[1]}", ""}) {
    try {
      ParseDjenAnswer(body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const TransientError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find("<html"), std::string::npos) << what;
      EXPECT_EQ(what.find("cut"), std::string::npos) << what;
    }
  }
  EXPECT_THROW(ParseDjenAnswer(std::string(10000, '[') + std::string(10000, ']')), TransientError);
}

TEST(DiarioDjen, BusyAnswersAreRetriedAndRefusalsArePermanent) {
  auto verdict = [](long status, std::map<std::string, std::string> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.headers = std::move(headers);
    return ClassifyDjenAnswer({.attempt = 1, .response = &r});
  };
  EXPECT_EQ(verdict(200).kind, RetryVerdict::Kind::kDone);
  EXPECT_EQ(verdict(503).kind, RetryVerdict::Kind::kRetry);
  const auto busy = verdict(429, {{"retry-after", "2"}});
  EXPECT_EQ(busy.kind, RetryVerdict::Kind::kRetry);
  EXPECT_EQ(busy.wait, std::chrono::milliseconds(2000));
  EXPECT_EQ(verdict(404).kind, RetryVerdict::Kind::kPermanent);
  EXPECT_EQ(verdict(422).kind, RetryVerdict::Kind::kPermanent);
  const TransientError down("connection refused");
  EXPECT_EQ(ClassifyDjenAnswer({.attempt = 1, .error = &down}).kind, RetryVerdict::Kind::kRetry);
}

}  // namespace
}  // namespace fila::diario
