// TJRO's yearly index (list.php) as untrusted input: the real slice in
// tests/fixtures/diarios/tjro-index, bad entries set aside, and an index
// that tries to send the worker to another host.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fila/core/errors.h"
#include "fila/diario/tjro_index.h"
#include "fila/diario/tjro_site.h"

namespace fila::diario {
namespace {

const std::string kOrigin = "https://www.tjro.jus.br";

std::string Slurp(const std::string& name) {
  std::ifstream in(std::string(FILA_SOURCE_DIR) + "/tests/fixtures/diarios/tjro-index/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TjroIndex, ParsesTheRealIndexOf2024WithItsSupplement) {
  const IndexParse p = ParseTjroIndex(Slurp("list-2024.json"), 2024, kOrigin);
  EXPECT_TRUE(p.rejected.empty()) << p.rejected.front();
  ASSERT_EQ(p.editions.size(), 244u);
  int supplements = 0;
  for (const auto& e : p.editions) {
    if (e.suffix == "SUP") {
      ++supplements;
      EXPECT_EQ(e.Key(), "2024:162:SUP");
      EXPECT_EQ(e.date.Iso(), "2024-08-29");
      EXPECT_EQ(e.path, "/novodiario/2024/20240829914-NR162-SUP.pdf");
    }
  }
  EXPECT_EQ(supplements, 1);
  EXPECT_EQ(p.editions.front().Key(), "2024:243");
  EXPECT_EQ(p.editions.front().path, "/novodiario/2024/202412301004-NR243.pdf");
}

TEST(TjroIndex, TheThreeYearsOfTheFixtureHold730EditionsAnd5Supplements) {
  size_t editions = 0;
  int supplements = 0;
  for (int year : {2022, 2023, 2024}) {
    const IndexParse p = ParseTjroIndex(Slurp("list-" + std::to_string(year) + ".json"), year, kOrigin);
    EXPECT_TRUE(p.rejected.empty()) << year;
    editions += p.editions.size();
    for (const auto& e : p.editions) supplements += e.suffix == "SUP";
  }
  EXPECT_EQ(editions, 730u);
  EXPECT_EQ(supplements, 5);
}

TEST(TjroIndex, BadEntriesAreSetAsideNotTheWholeYear) {
  const std::string body = R"([
    {"relativePath":"a.pdf","year":"2024","month":"01","day":"02","number":"1","url":"/novodiario/2024/a.pdf"},
    {"relativePath":"b.pdf","year":2024,"month":"01","day":"03","number":"2","url":"/novodiario/2024/b.pdf"},
    {"year":"2024","month":"02","day":"30","number":"3","url":"/novodiario/2024/c.pdf"},
    {"year":"2024","month":"01","day":"04","number":"x4","url":"/novodiario/2024/d.pdf"},
    {"year":"2024","month":"01","day":"05","number":["5"],"url":"/novodiario/2024/e.pdf"},
    {"year":"2023","month":"01","day":"05","number":"6","url":"/novodiario/2023/f.pdf"},
    {"year":"2024","month":"01","day":"05","number":"7","url":7},
    {"year":"2024","month":"01","day":"05","number":"8","url":"/novodiario/../../etc/passwd"},
    {"year":"2024","month":"01","day":"05","number":"9","sufix":"S U P","url":"/novodiario/2024/g.pdf"},
    {"relativePath":"a.pdf","year":"2024","month":"01","day":"02","number":"1","url":"/novodiario/2024/a.pdf"},
    "not an object", null
  ])";
  const IndexParse p = ParseTjroIndex(body, 2024, kOrigin);
  ASSERT_EQ(p.editions.size(), 2u);
  EXPECT_EQ(p.editions[0].Key(), "2024:1");
  EXPECT_EQ(p.editions[1].Key(), "2024:2");  // a JSON number for the year is read too
  EXPECT_EQ(p.rejected.size(), 10u);
  for (const auto& r : p.rejected) EXPECT_EQ(r.find("passwd"), std::string::npos) << r;
}

// The attack: an index (the site compromised, or a man in the middle of a
// mirror) lists editions whose url names another host, an internal
// address, or a scheme-relative //host. None of them becomes an edition,
// so no worker is ever sent there.
TEST(TjroIndex, AnIndexCannotSendTheWorkerToAnotherHost) {
  const std::string body = R"([
    {"year":"2024","month":"01","day":"02","number":"1","url":"http://169.254.169.254/latest/meta-data/x.pdf"},
    {"year":"2024","month":"01","day":"03","number":"2","url":"//evil.example/novodiario/2024/b.pdf"},
    {"year":"2024","month":"01","day":"04","number":"3","url":"https://www.tjro.jus.br.evil.example/c.pdf"},
    {"year":"2024","month":"01","day":"05","number":"4","url":"https://user@www.tjro.jus.br/d.pdf"},
    {"year":"2024","month":"01","day":"08","number":"5","url":"novodiario/2024/e.pdf"},
    {"year":"2024","month":"01","day":"09","number":"6","url":"/\\evil.example/f.pdf"},
    {"year":"2024","month":"01","day":"10","number":"7","url":"https://WWW.TJRO.JUS.BR/novodiario/2024/g.pdf"}
  ])";
  const IndexParse p = ParseTjroIndex(body, 2024, kOrigin);
  ASSERT_EQ(p.editions.size(), 1u);  // only the tribunal's own host, whatever its case
  EXPECT_EQ(p.editions[0].path, "/novodiario/2024/g.pdf");
  EXPECT_EQ(p.rejected.size(), 6u);
  EXPECT_THROW(ResolveOnTribunalHost(kOrigin, "http://127.0.0.1:5432/x.pdf", "path"), PermanentError);
  EXPECT_THROW(ResolveOnTribunalHost(kOrigin, "http://www.tjro.jus.br/x.pdf", "path"), PermanentError);  // scheme
  EXPECT_EQ(ResolveOnTribunalHost(kOrigin, "/novodiario/2025/x.pdf", "path"),
            "https://www.tjro.jus.br/novodiario/2025/x.pdf");
}

TEST(TjroIndex, AnswersThatAreNotAnIndexAreClearErrors) {
  EXPECT_THROW(ParseTjroIndex("<html><title>Acesso bloqueado</title></html>", 2024, kOrigin), TransientError);
  EXPECT_THROW(ParseTjroIndex(R"([{"year":"2024","month":"01")", 2024, kOrigin), TransientError);
  EXPECT_THROW(ParseTjroIndex(R"({"year":"2024"})", 2024, kOrigin), TransientError);
  EXPECT_THROW(ParseTjroIndex(std::string(100000, '[') + std::string(100000, ']'), 2024, kOrigin), TransientError);
  EXPECT_THROW(ParseTjroIndex(std::string(kMaxIndexBytes + 1, ' '), 2024, kOrigin), PermanentError);
  std::string many = "[";
  for (size_t i = 0; i <= kMaxIndexEntries; ++i) many += (i ? ",{}" : "{}");
  EXPECT_THROW(ParseTjroIndex(many + "]", 2024, kOrigin), PermanentError);
  EXPECT_TRUE(ParseTjroIndex("[]", 2024, kOrigin).editions.empty());
}

TEST(TjroIndex, TheLatestIssuesFileNameNamesItsEdition) {
  const Edition e = EditionFromPath("/novodiario/2025/20250626614-NR115.pdf");
  EXPECT_EQ(e.Key(), "2025:115");
  EXPECT_EQ(e.date.Iso(), "2025-06-26");
  EXPECT_EQ(EditionFromPath("/novodiario/2024/20240829914-NR162-SUP.pdf").Key(), "2024:162:SUP");
  EXPECT_THROW(EditionFromPath("/novodiario/2025/latest.pdf"), PermanentError);
  EXPECT_THROW(EditionFromPath("/novodiario/2025/20251399614-NR1.pdf"), PermanentError);
  EXPECT_EQ(IndexUrlOfYear("https://www.tjro.jus.br/diario_oficial/list.php", 2004),
            "https://www.tjro.jus.br/diario_oficial/list.php?ano=2004");
  EXPECT_EQ(UrlOrigin("HTTPS://Www.Tjro.Jus.Br/diario_oficial/list.php", "u"), "https://www.tjro.jus.br");
}

// A "slow down" answer pauses the host in the shared limiter (here the
// in-process one); a network error or a good answer does not.
TEST(TjroSite, TroubleFromTheHostPausesItForEveryone) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.max_concurrent = 3, .rate = 1, .period = std::chrono::milliseconds(1)};
  auto classify = PausingHostOnTrouble(ClassifyIndexAnswer, *limiter, "diario-host:h", std::chrono::milliseconds(400));
  HttpResponse ok{.status = 200, .headers = {}, .body = "[]"};
  EXPECT_EQ(classify({.attempt = 1, .response = &ok}).kind, RetryVerdict::Kind::kDone);
  auto t0 = SteadyClock::now();
  { Permit p = limiter->Acquire("diario-host:h", limit, DeadlineIn(std::chrono::seconds(5)), nullptr); }
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::milliseconds(200));
  HttpResponse block{.status = 200, .headers = {{"content-type", "text/html"}}, .body = "<html>bloqueado</html>"};
  const RetryVerdict v = classify({.attempt = 1, .response = &block});
  EXPECT_EQ(v.kind, RetryVerdict::Kind::kTransient);
  EXPECT_NE(v.message.find("block page"), std::string::npos) << v.message;
  EXPECT_EQ(v.message.find("bloqueado"), std::string::npos) << "the answer's bytes are never quoted";
  t0 = SteadyClock::now();
  { Permit p = limiter->Acquire("diario-host:h", limit, DeadlineIn(std::chrono::seconds(5)), nullptr); }
  EXPECT_GE(SteadyClock::now() - t0, std::chrono::milliseconds(350));
  HttpResponse busy{.status = 429, .headers = {}, .body = ""};
  EXPECT_EQ(classify({.attempt = 1, .response = &busy}).kind, RetryVerdict::Kind::kTransient);
  HttpResponse gone{.status = 404, .headers = {}, .body = ""};
  EXPECT_EQ(classify({.attempt = 1, .response = &gone}).kind, RetryVerdict::Kind::kPermanent);
}

}  // namespace
}  // namespace fila::diario
