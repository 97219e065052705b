// Full-text and hybrid search of document chunks on the real PostgreSQL:
// languages (stemming, accents), re-indexing, tenant isolation, and the
// fila search / fila document language commands.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/document/document_store_pg.h"
#include "fila/document/search.h"
#include "fila/http/http_client.h"
#include "support/harness.h"

namespace fila {
namespace {

using document::SearchFilter;
using document::SearchHit;
using document::SearchMode;
using Json = nlohmann::json;

class DocumentSearchPg : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>();
    store_ = MakePostgresDocumentStore(db_->url(), 1);
    text_ = MakePostgresTextIndex(db_->url(), 1);
    embedder_ = document::MakeOfflineEmbedder(384);
  }

  // Stores a document of `tenant` (through a running task of that tenant,
  // as the handler does) with one chunk per text.
  void Put(const std::string& tenant, const std::string& owner, const std::string& id,
           const std::vector<std::string>& texts) {
    const std::string task = db_->Scalar(
        "INSERT INTO tasks (type, queue, priority, state, attempt, max_attempts, timeout_ms, tenant) "
        "VALUES ('document.ingest', 'document', 0, 'running', 1, 5, 60000, '" + tenant + "') RETURNING id");
    const auto vectors = embedder_->Embed(texts, {});
    std::vector<document::StoredChunk> chunks;
    size_t at = 0;
    std::string content;
    for (size_t i = 0; i < texts.size(); ++i) {
      chunks.push_back({texts[i], at, at + texts[i].size(), 0, "", vectors[i]});
      at += texts[i].size();
      content += texts[i];
    }
    store_->Replace({.task_id = task, .attempt = 1, .owner = owner, .document_id = id, .source = "inline",
                     .media_type = "text/plain", .embedder = embedder_->Descriptor(), .dimension = 384,
                     .content = content},
                    chunks);
  }

  std::vector<std::string> TextHits(const SearchFilter& filter, const std::string& query) {
    std::vector<std::string> out;
    for (const auto& h : text_->TextSearch(filter, query, 10)) out.push_back(h.tenant + ":" + h.text);
    return out;
  }

  std::vector<document::RankedHit> Hybrid(const SearchFilter& filter, const std::string& query) {
    auto http = MakeHttpClient();
    auto limiter = MakeLocalKeyLimiter();
    return document::SearchChunks(
        *store_, *text_, filter, query, {.mode = SearchMode::kHybrid, .top = 10},
        [&](const std::string& d) { return document::EmbedderFromDescriptor(d, {}, *http, *limiter); }, {});
  }

  std::unique_ptr<test::TestDatabase> db_;
  std::unique_ptr<document::DocumentStore> store_;
  std::unique_ptr<document::TextIndex> text_;
  std::unique_ptr<document::Embedder> embedder_;
};

TEST_F(DocumentSearchPg, TextSearchStemsAndFoldsAccentsInTheOwnersLanguage) {
  Put("acme", "pt", "gazette", {"As decisões judiciais foram publicadas no Diário da Justiça.",
                                "Pauta de julgamento da sessão ordinária."});
  const SearchFilter acme{.tenant = "acme"};
  // No setting: 'simple' with accents folded, no stemming.
  EXPECT_EQ(TextHits(acme, "diario justica"),
            std::vector<std::string>{"acme:As decisões judiciais foram publicadas no Diário da Justiça."});
  EXPECT_TRUE(TextHits(acme, "publicada").empty());
  // Portuguese: the stored chunks are re-indexed at once, and stemmed.
  EXPECT_EQ(text_->SetLanguage("acme", "pt", "portuguese"), 2u);
  EXPECT_EQ(TextHits(acme, "publicada"),
            std::vector<std::string>{"acme:As decisões judiciais foram publicadas no Diário da Justiça."});
  EXPECT_EQ(TextHits(acme, "julgamentos ordinarios").size(), 1u);
  // Chunks stored later take the owner's language too.
  Put("acme", "pt", "second", {"Os julgamentos foram adiados."});
  EXPECT_EQ(TextHits(acme, "julgamento").size(), 2u);
  EXPECT_EQ(db_->Scalar("SELECT DISTINCT text_config::text FROM document_chunks"), "fila_portuguese");
  // Any word suffices; more of them rank higher.
  const auto ranked = TextHits(acme, "sessão julgamento adiados");
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_TRUE(text_->FoldsAccents());
}

TEST_F(DocumentSearchPg, TenantDefaultGovernsOwnersWithoutTheirOwnSetting) {
  Put("acme", "a", "one", {"running dogs"});
  Put("acme", "b", "two", {"running cats"});
  Put("globex", "a", "three", {"running mice"});
  EXPECT_EQ(text_->SetLanguage("acme", "b", "portuguese"), 1u);
  EXPECT_EQ(text_->SetLanguage("acme", "", "english"), 1u);  // only owner a of acme
  EXPECT_EQ(db_->Scalar("SELECT string_agg(d.owner || '@' || d.tenant || '=' || c.text_config::text, ',' "
                        "ORDER BY d.tenant, d.owner) FROM document_chunks c JOIN documents d ON d.id = c.document"),
            "a@acme=fila_english,b@acme=fila_portuguese,a@globex=fila_simple");
  EXPECT_EQ(TextHits({.tenant = "acme"}, "run").size(), 1u);  // english stems running -> run
  const auto settings = text_->Languages("acme");
  ASSERT_EQ(settings.size(), 2u);
  EXPECT_EQ(settings[0].owner, "");
  EXPECT_EQ(settings[0].language, "english");
  EXPECT_EQ(settings[1].language, "portuguese");
  EXPECT_TRUE(text_->Languages("globex").empty());
}

TEST_F(DocumentSearchPg, UnknownLanguagesAndStopWordQueriesAreHandled) {
  try {
    text_->SetLanguage("acme", "x", "klingon'; DROP TABLE documents; --");
    FAIL() << "an unknown language was accepted";
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("portuguese"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_text_configs"), 0);
  const auto available = text_->AvailableLanguages();
  for (const char* l : {"english", "portuguese", "simple"}) {
    EXPECT_NE(std::find(available.begin(), available.end(), l), available.end()) << l;
  }
  text_->SetLanguage("acme", "en", "english");
  Put("acme", "en", "doc", {"The devil's dictionary"});
  EXPECT_TRUE(TextHits({.tenant = "acme"}, "the of and").empty());
  EXPECT_TRUE(TextHits({.tenant = "acme"}, "!!! &&& ||| ::: ()").empty());
}

TEST_F(DocumentSearchPg, NoQueryReachesAnotherTenantsChunks) {
  Put("acme", "alice", "notes", {"acme quarterly roadmap for the warehouse"});
  Put("globex", "alice", "notes", {"globex secret merger codename zebra"});
  const SearchFilter acme{.tenant = "acme"};
  // The queries do match globex's chunk when its tenant asks: the filter,
  // not the query, keeps it out.
  ASSERT_EQ(TextHits({.tenant = "globex"}, "zebra merger").size(), 1u);
  for (const std::string q :
       {"zebra merger", "globex secret merger codename zebra", "zebra or merger", "\"secret merger\"",
        "-acme zebra", "' OR 1=1 --", "zebra') | ('merger", "zebra:* | merger:*", "globex & !acme"}) {
    for (const auto& hit : TextHits(acme, q)) EXPECT_EQ(hit.rfind("acme:", 0), 0u) << q << " -> " << hit;
    for (const auto& r : Hybrid(acme, q)) EXPECT_EQ(r.hit.tenant, "acme") << q << " -> " << r.hit.text;
  }
  EXPECT_TRUE(TextHits(acme, "zebra merger").empty());
  // An owner filter narrows within the tenant as well.
  EXPECT_TRUE(TextHits({.tenant = "acme", .owner = "bob"}, "roadmap").empty());
  EXPECT_EQ(TextHits({.tenant = "acme", .owner = "alice"}, "roadmap").size(), 1u);
  // Through the CLI: --tenant acme never prints globex's chunk.
  auto r = test::RunFila("fila", {"search", "zebra merger codename", "--tenant", "acme", "--mode", "text", "--json"},
                         {{"FILA_DATABASE_URL", db_->url()}});
  ASSERT_EQ(r.ExitCode(), 0) << r.err;
  EXPECT_EQ(Json::parse(r.out).size(), 0u) << r.out;
}

TEST_F(DocumentSearchPg, SearchAndLanguageCommands) {
  const std::map<std::string, std::string> env{{"FILA_DATABASE_URL", db_->url()}};
  auto set = test::RunFila("fila", {"document", "language", "portuguese", "--tenant", "acme", "--owner", "pt"}, env);
  ASSERT_EQ(set.ExitCode(), 0) << set.err;
  EXPECT_NE(set.out.find("portuguese (0 chunks re-indexed)"), std::string::npos) << set.out;
  Put("acme", "pt", "gazette", {"Apoio ergonômico para os pés, em aço.", "Mouse pad de garrafa PET."});
  auto bad = test::RunFila("fila", {"document", "language", "klingon", "--tenant", "acme"}, env);
  EXPECT_EQ(bad.ExitCode(), 2);
  EXPECT_NE(bad.err.find("unknown text search language"), std::string::npos) << bad.err;
  auto list = test::RunFila("fila", {"document", "language", "--json"}, env);
  ASSERT_EQ(list.ExitCode(), 0) << list.err;
  const Json listed = Json::parse(list.out);
  EXPECT_EQ(listed["settings"].size(), 1u);
  EXPECT_EQ(listed["settings"][0]["language"], "portuguese");
  EXPECT_TRUE(listed["folds_accents"].get<bool>());

  for (const char* mode : {"text", "vector", "hybrid"}) {
    auto r = test::RunFila(
        "fila", {"search", "apoio ergonômico para os pés", "--mode", mode, "--top", "1", "--json"}, env);
    ASSERT_EQ(r.ExitCode(), 0) << mode << ": " << r.err;
    const Json hits = Json::parse(r.out);
    ASSERT_EQ(hits.size(), 1u) << mode << ": " << r.out;
    EXPECT_EQ(hits[0]["text"], "Apoio ergonômico para os pés, em aço.") << mode;
    EXPECT_EQ(hits[0]["mode"], mode);
  }
  auto hybrid = test::RunFila("fila", {"search", "apoio ergonômico para os pés", "--json"}, env);
  const Json fused = Json::parse(hybrid.out);
  ASSERT_FALSE(fused.empty()) << hybrid.out;
  EXPECT_EQ(fused[0]["mode"], "hybrid");  // the default
  EXPECT_EQ(fused[0]["vector_rank"], 1);
  EXPECT_EQ(fused[0]["text_rank"], 1);
  auto bad_mode = test::RunFila("fila", {"search", "x", "--mode", "semantic"}, env);
  EXPECT_EQ(bad_mode.ExitCode(), 2);
  EXPECT_NE(bad_mode.err.find("--mode is hybrid, vector or text"), std::string::npos) << bad_mode.err;
}

TEST(DocumentChunkCommand, PrintsChunksAndRefusesBadInputWithExit2) {
  const std::map<std::string, std::string> env{{"FILA_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere"}};
  const std::string docs = test::SourceDir() + "/tests/fixtures/documents/";
  auto ok = test::RunFila("fila", {"document", "chunk", docs + "page.html", "--size", "200", "--overlap", "20"}, env);
  ASSERT_EQ(ok.ExitCode(), 0) << ok.err;
  EXPECT_NE(ok.out.find("text/html"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("chunks of at most 200 code points, overlap at most 20"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("--- chunk 0  [0, "), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("§ Field notes on sourdough"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("trackingPixel"), std::string::npos) << "a script was shown as text";

  std::string binary = test::Shell("mktemp");
  binary.pop_back();  // the newline
  test::Shell("printf 'ELF\\000\\001\\002 binary' > " + binary);
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases{
      {{docs + "missing.txt"}, "no such file"},
      {{docs}, "not a regular file"},
      {{docs + "not_text.png"}, "unsupported document type: PNG image"},
      {{binary}, "unsupported document type: binary data"},
      {{docs + "scanned_no_text.pdf"}, "no text found"},
      {{docs + "page.html", "--size", "100", "--overlap", "100"}, "--overlap (100) must be smaller than --size (100)"},
      {{docs + "page.html", "--size", "50"}, ""},  // default overlap size/5: fine
      {{docs + "page.html", "--size", "0"}, "--size is 1 to 100000"},
      {{docs + "page.html", "--size", "100001"}, "--size is 1 to 100000"},
      {{docs + "page.html", "--overlap", "-5"}, "--overlap is 0 or more"},
      {{docs + "page.html", "--overlap", "1000"}, "--overlap (1000) must be smaller than --size (1000)"},
      {{docs + "page.html", "--unit", "words"}, "--unit is codepoints or bytes"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"document", "chunk"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = test::RunFila("fila", args, env);
    if (c.error.empty()) {
      EXPECT_EQ(r.ExitCode(), 0) << c.args.back() << ": " << r.err;
      continue;
    }
    EXPECT_EQ(r.ExitCode(), 2) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << c.error << " vs " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::remove(binary.c_str());
}

}  // namespace
}  // namespace fila
