// document.ingest through the real queue: fila enqueue, fila-scheduler,
// fila-worker, PostgreSQL and RabbitMQ; then fila search finds the text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "fila/test_support/fake_embeddings.h"
#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::RunFila;
using test::TestDatabase;
using Json = nlohmann::json;

class DocumentIngest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<test::FakeEmbeddingsServer>();
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("doc");
    down_port_ = test::FreePort();
    env_ = {{"FILA_DATABASE_URL", db_->url()},
            {"FILA_AMQP_URL", test::Stack().amqp_url},
            {"FILA_LOG_LEVEL", "warn"},
            {"FILA_DOCUMENT_ROOT", test::SourceDir() + "/tests/fixtures"},
            {"FILA_EMBEDDINGS_URL", fake_->base() + "/v1"},
            {"FILA_EMBEDDINGS_MODEL", "slow"},
            {"FILA_EMBEDDINGS_API_KEY", "sk-test"},
            // A port nothing listens on, allowed as if it were an external
            // host that is down: its failure is transient.
            {"FILA_EGRESS_ALLOW", "127.0.0.1:" + std::to_string(down_port_)}};
    // Tenant "default" reads its files from fixtures/documents.
    auto bind = RunFila("fila", {"tenants", "bind", "default", "document_root", "documents"}, env_);
    ASSERT_EQ(bind.ExitCode(), 0) << bind.err;
    scheduler_ = std::make_unique<Process>("fila-scheduler", std::vector<std::string>{}, env_);
    worker_ = std::make_unique<Process>(
        "fila-worker", std::vector<std::string>{"--queues", queue_, "--concurrency", "2"}, env_);
  }

  std::string Enqueue(const Json& payload, int max_attempts = 1) {
    auto r = RunFila("fila",
                     {"enqueue", "document.ingest", "--queue", queue_, "--payload-json", payload.dump(),
                      "--max-attempts", std::to_string(max_attempts), "--retry-base-ms", "50",
                      "--retry-cap-ms", "100"},
                     env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    std::string id = r.out.substr(0, r.out.find('\n'));
    return id;
  }

  std::string State(const std::string& id) {
    return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
  }

  // Waits until every task is terminal.
  void WaitDone(const std::vector<std::string>& ids, std::chrono::milliseconds timeout = 90s) {
    ASSERT_TRUE(test::WaitTerminal(*db_, ids, timeout)) << worker_->Stderr();
  }

  Json Result(const std::string& id) {
    return Json::parse(db_->Scalar("SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '" + id + "'"));
  }

  std::string LastError(const std::string& id) {
    return db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'");
  }

  Json Search(const std::string& query, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"search", query, "--top", "3", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = RunFila("fila", args, env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    return Json::parse(r.out);
  }

  std::unique_ptr<test::FakeEmbeddingsServer> fake_;
  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  int down_port_ = 0;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> scheduler_;
  std::unique_ptr<Process> worker_;
};

std::string ReadFixture(const std::string& name) {
  FILE* f = std::fopen((test::SourceDir() + "/tests/fixtures/documents/" + name).c_str(), "rb");
  std::string out;
  char buf[4096];
  for (size_t n; f != nullptr && (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  if (f != nullptr) std::fclose(f);
  return out;
}

TEST_F(DocumentIngest, IngestsMarkdownCrlfTextPdfAndHtmlThenSearchFindsThem) {
  const std::string md = Enqueue({{"path", "nfelib_README.md"}, {"owner", "alice"}, {"document_id", "nfelib"}});
  const std::string txt = Enqueue(
      {{"path", "devils_dictionary_A-B_excerpt.txt"}, {"owner", "alice"}, {"document_id", "devil"}});
  const std::string pdf = Enqueue({{"path", "tjro_dj_20250624_pages48-72.pdf"},
                                   {"owner", "alice"},
                                   {"document_id", "gazette"},
                                   {"media_type", "text/plain"}});  // the content decides
  const std::string html = Enqueue({{"text", ReadFixture("page.html")},
                                    {"owner", "bob"},
                                    {"document_id", "sourdough"},
                                    {"chunking", {{"size", 200}, {"overlap", 40}}},
                                    {"title", "Field notes"}});
  WaitDone({md, txt, pdf, html});
  for (const auto& id : {md, txt, pdf, html}) {
    ASSERT_EQ(State(id), "succeeded") << id << ": " << LastError(id);
  }

  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 4);
  const Json pdf_result = Result(pdf);
  EXPECT_EQ(pdf_result["media_type"], "application/pdf");
  EXPECT_EQ(pdf_result["pages"], 25);
  EXPECT_EQ(Result(html)["media_type"], "text/html");
  EXPECT_EQ(Result(md)["media_type"], "text/markdown");
  for (const auto& id : {md, txt, pdf, html}) {
    const Json r = Result(id);
    EXPECT_GT(r["chunks"].get<int>(), 0);
    EXPECT_EQ(r["chunks"], r["embeddings"]);
    EXPECT_EQ(r["chunks"].get<int64_t>(),
              db_->Count("SELECT count(*) FROM document_chunks c JOIN documents d ON d.id = c.document "
                         "WHERE d.document_id = '" + r["document_id"].get<std::string>() + "'"));
    for (const char* stage : {"fetch", "extract", "chunk", "embed", "store"}) {
      EXPECT_TRUE(r["stages"].contains(stage)) << r.dump();
    }
    EXPECT_EQ(db_->Scalar("SELECT progress FROM tasks WHERE id = '" + id + "'"), "100");
  }
  // Offsets are code points into the stored text and slice back to each chunk.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks c JOIN documents d ON d.id = c.document "
                       "WHERE substr(d.content, c.start_offset::int + 1, (c.end_offset - c.start_offset)::int) "
                       "<> c.text"),
            0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks c JOIN documents d ON d.id = c.document "
                       "WHERE d.document_id = 'gazette' AND (c.page < 1 OR c.page > 25)"),
            0);
  EXPECT_GT(db_->Count("SELECT count(DISTINCT page) FROM document_chunks c JOIN documents d ON d.id = c.document "
                       "WHERE d.document_id = 'gazette'"),
            20);
  EXPECT_GT(db_->Count("SELECT count(*) FROM document_chunks c JOIN documents d ON d.id = c.document "
                       "WHERE d.document_id = 'nfelib' AND heading_path LIKE 'nfelib - bindings Python % > Como usar'"),
            0);
  // Scripts of the HTML page are not text.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks c JOIN documents d ON d.id = c.document "
                       "WHERE d.document_id = 'sourdough' AND (c.text LIKE '%trackingPixel%' "
                       "OR c.text LIKE '%console.log%')"),
            0);

  struct Probe {
    std::string phrase;
    std::string document;
  };
  for (const Probe& p : {Probe{"Peculiarly exposed to the tooth of detraction", "devil"},
                         Probe{"Mouse Pad Ergonômico Office-Eco", "gazette"},
                         Probe{"As outras bibliotecas costumam ter dezenas de milhares de linhas", "nfelib"},
                         Probe{"Preheat a Dutch oven", "sourdough"}}) {
    const Json hits = Search(p.phrase);
    ASSERT_FALSE(hits.empty()) << p.phrase;
    EXPECT_EQ(hits[0]["document_id"], p.document) << p.phrase << "\n" << hits.dump(2);
    EXPECT_NE(hits[0]["text"].get<std::string>().find(p.phrase), std::string::npos) << hits[0].dump(2);
    EXPECT_GT(hits[0]["score"].get<double>(), hits.size() > 1 ? hits[1]["score"].get<double>() - 1e-9 : -1.0);
  }
  // Filters: bob owns only the sourdough notes.
  for (const auto& hit : Search("weight of water", {"--owner", "bob"})) EXPECT_EQ(hit["owner"], "bob");
  // The human-readable form names the document and the page.
  auto text = RunFila("fila", {"search", "Mouse Pad Ergonômico", "--top", "1"}, env_);
  EXPECT_EQ(text.ExitCode(), 0) << text.err;
  EXPECT_NE(text.out.find("alice/gazette"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("page "), std::string::npos) << text.out;
  // fila get shows the result.
  auto get = RunFila("fila", {"get", pdf}, env_);
  EXPECT_NE(get.out.find("\"chunks\""), std::string::npos) << get.out;
}

TEST_F(DocumentIngest, ProgressShowsEachEmbeddingBatchThroughAnHttpEmbedder) {
  const std::string id = Enqueue({{"path", "nfelib_README.md"},
                                  {"owner", "alice"},
                                  {"document_id", "watched"},
                                  {"embedder", {{"kind", "OPENAI"}, {"batch_size", 3}}}});
  // The fake answers each batch after 0.7 s: fila get shows the batches go by.
  std::set<std::string> seen;
  ASSERT_TRUE(test::WaitFor(
      [&] {
        auto r = RunFila("fila", {"get", id, "--json"}, env_);
        if (r.ExitCode() != 0) return false;
        const Json t = Json::parse(r.out);
        const std::string message = t["progress"].value("message", "");
        if (message.starts_with("embedded batch")) seen.insert(message.substr(0, message.find(" (")));
        return t.value("state", "") == "succeeded" || t.value("state", "") == "failed";
      },
      60s));
  ASSERT_EQ(State(id), "succeeded") << LastError(id);
  const Json r = Result(id);
  const int batches = (r["chunks"].get<int>() + 2) / 3;
  EXPECT_GE(batches, 3);
  EXPECT_GE(seen.size(), 2u) << "batches seen: " << seen.size();
  for (const auto& m : seen) EXPECT_TRUE(m.ends_with("/" + std::to_string(batches))) << m;
  EXPECT_EQ(r["embedder"]["kind"], "openai");
  EXPECT_EQ(r["embedder"]["model"], "slow");
  // fila search embeds the query through the same endpoint.
  const Json hits = Search("Porque escolher a nfelib");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["document_id"], "watched");
  // The key never reaches a log, the database or a result.
  EXPECT_EQ(worker_->Stderr().find("sk-test"), std::string::npos);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents WHERE embedder LIKE '%sk-test%'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE convert_from(result, 'UTF8') LIKE '%sk-test%'"), 0);
}

TEST_F(DocumentIngest, ReingestReplacesChunks) {
  const Json first{{"path", "nfelib_README.md"}, {"owner", "alice"}, {"document_id", "readme"},
                   {"chunking", {{"size", 300}}}};
  const std::string a = Enqueue(first);
  WaitDone({a});
  ASSERT_EQ(State(a), "succeeded") << LastError(a);
  const int64_t before = db_->Count("SELECT count(*) FROM document_chunks");
  EXPECT_EQ(before, Result(a)["chunks"].get<int64_t>());
  Json second = first;
  second["chunking"] = {{"size", 800}, {"overlap", 0}};
  const std::string b = Enqueue(second);
  WaitDone({b});
  ASSERT_EQ(State(b), "succeeded") << LastError(b);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks"), Result(b)["chunks"].get<int64_t>());
  EXPECT_LT(Result(b)["chunks"].get<int64_t>(), before);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM (SELECT document, ordinal FROM document_chunks "
                       "GROUP BY 1, 2 HAVING count(*) > 1) x"),
            0);
}

// fila document chunk prints what ingest stores: the same chunks, offsets,
// pages and heading paths, with no database (its URL points nowhere).
TEST_F(DocumentIngest, ChunkPreviewIsWhatIngestStores) {
  struct Case {
    std::string file;
    Json chunking;
    std::vector<std::string> flags;
  };
  const std::vector<Case> cases{
      {"tjro_dj_20250624_pages48-72.pdf", {{"size", 300}, {"overlap", 50}}, {"--size", "300", "--overlap", "50"}},
      {"nfelib_README.md", {{"size", 500}, {"overlap", 0}, {"unit", "BYTES"}},
       {"--size", "500", "--overlap", "0", "--unit", "bytes"}},
      {"devils_dictionary_A-B_excerpt.txt", Json::object(), {}}};
  std::vector<std::string> ids;
  for (const auto& c : cases) {
    Json payload{{"path", c.file}, {"owner", "alice"}, {"document_id", c.file}};
    if (!c.chunking.empty()) payload["chunking"] = c.chunking;
    ids.push_back(Enqueue(payload));
  }
  WaitDone(ids);
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(State(ids[i]), "succeeded") << LastError(ids[i]);
    std::vector<std::string> args{"document", "chunk", test::SourceDir() + "/tests/fixtures/documents/" + cases[i].file,
                                  "--json"};
    args.insert(args.end(), cases[i].flags.begin(), cases[i].flags.end());
    auto r = RunFila("fila", args, {{"FILA_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere"}});
    ASSERT_EQ(r.ExitCode(), 0) << r.err;
    const Json preview = Json::parse(r.out);
    const auto rows = db_->Rows(
        "SELECT c.ordinal, c.start_offset, c.end_offset, c.page, c.heading_path, c.text FROM document_chunks c "
        "JOIN documents d ON d.id = c.document WHERE d.document_id = '" + cases[i].file + "' ORDER BY c.ordinal");
    ASSERT_EQ(preview["chunks"].size(), rows.size()) << cases[i].file;
    ASSERT_GT(rows.size(), 3u);
    EXPECT_EQ(preview["media_type"], Result(ids[i])["media_type"]);
    for (size_t k = 0; k < rows.size(); ++k) {
      const Json& c = preview["chunks"][k];
      EXPECT_EQ(std::to_string(c["index"].get<size_t>()), rows[k][0]);
      EXPECT_EQ(std::to_string(c["start"].get<size_t>()), rows[k][1]) << cases[i].file << " #" << k;
      EXPECT_EQ(std::to_string(c["end"].get<size_t>()), rows[k][2]) << cases[i].file << " #" << k;
      EXPECT_EQ(std::to_string(c["page"].get<int>()), rows[k][3]);
      EXPECT_EQ(c["heading_path"], rows[k][4]);
      EXPECT_EQ(c["text"], rows[k][5]) << cases[i].file << " #" << k;
    }
  }
}

TEST_F(DocumentIngest, BadInputsFailWithClearErrors) {
  struct Case {
    Json payload;
    std::string state;
    std::string error;
  };
  const std::vector<Case> cases{
      {{{"path", "nfelib_README.md"}, {"owner", "a"}, {"document_id", "big"}, {"max_bytes", 1000}},
       "failed", "document too large: 7565 bytes, the limit is 1000"},
      {{{"path", "scanned_no_text.pdf"}, {"owner", "a"}, {"document_id", "scan"}}, "failed", "no text found"},
      {{{"path", "not_text.png"}, {"owner", "a"}, {"document_id", "png"}, {"media_type", "text/plain"}},
       "failed", "unsupported document type: PNG image"},
      {{{"path", "latin1.txt"}, {"owner", "a"}, {"document_id", "latin1"}, {"reject_invalid_utf8", true}},
       "failed", "invalid UTF-8 at byte 5"},
      {{{"path", "../README.md"}, {"owner", "a"}, {"document_id", "escape"}}, "failed", "without '..'"},
      {{{"path", "missing.txt"}, {"owner", "a"}, {"document_id", "missing"}}, "failed", "no readable file"},
      {{{"text", "hello"}, {"document_id", "x"}}, "failed", "owner is required"},
      {{{"text", "hello"}, {"owner", "a"}, {"document_id", "x"}, {"chunking", {{"size", 10}, {"overlap", 10}}}},
       "failed", "must be smaller than chunking.size"},
      {{{"text", "hello"}, {"owner", "a"}, {"document_id", "x"},
        {"embedder", {{"kind", "OPENAI"}, {"model", "bad-request"}}}},
       "failed", "embeddings endpoint rejected the request (HTTP 400"},
      // The embeddings server is the operator's, not a producer's to fetch.
      {{{"url", fake_->base() + "/text/100"}, {"owner", "a"}, {"document_id", "internal"}},
       "failed", "blocked by the egress policy (host 127.0.0.1)"},
  };
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(Enqueue(c.payload, 3));
  // Transient: nothing listens on the port; retried, then dead.
  const std::string unreachable =
      Enqueue({{"url", "http://127.0.0.1:" + std::to_string(down_port_) + "/doc.txt"},
               {"owner", "a"},
               {"document_id", "down"}},
              2);
  ids.push_back(unreachable);
  WaitDone(ids);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(State(ids[i]), cases[i].state) << cases[i].payload.dump();
    EXPECT_NE(LastError(ids[i]).find(cases[i].error), std::string::npos)
        << cases[i].payload.dump() << " -> " << LastError(ids[i]);
    // Permanent: one attempt, no retry.
    EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks WHERE id = '" + ids[i] + "'"), "1");
  }
  EXPECT_EQ(State(unreachable), "dead");
  EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks WHERE id = '" + unreachable + "'"), "2");
  EXPECT_NE(LastError(unreachable).find("fetching http://127.0.0.1"), std::string::npos) << LastError(unreachable);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 0);
  EXPECT_TRUE(worker_->Running()) << worker_->Stderr();
}

}  // namespace
}  // namespace fila
