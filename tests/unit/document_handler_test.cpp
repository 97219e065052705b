// The document.ingest handler with an in-memory store and a scripted task
// context: stages, progress per batch, result, URL sources and errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/document/ingest_handler.h"
#include "fila/http/http_client.h"
#include "fila/test_support/fake_embeddings.h"
#include "fila/test_support/fake_task_context.h"
#include "fila/v1/document.pb.h"

namespace fila::document {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

class MemoryStore final : public DocumentStore {
 public:
  std::string Replace(const DocumentRecord& record, const std::vector<StoredChunk>& chunks) override {
    std::lock_guard lock(mutex_);
    const std::string key = record.owner + "/" + record.document_id;
    records_[key] = record;
    chunks_[key] = chunks;
    return "id-" + key;
  }
  std::vector<std::string> Embedders(const SearchFilter&) override { return {}; }
  std::vector<SearchHit> Search(const SearchFilter&, const std::string&, const std::vector<float>&,
                                size_t) override {
    return {};
  }
  std::map<std::string, DocumentRecord> records_;
  std::map<std::string, std::vector<StoredChunk>> chunks_;
  std::mutex mutex_;
};

// The shared fake (tests/support), as document.ingest sees it.
struct ScriptedContext : test::FakeTaskContext {
  explicit ScriptedContext(const v1::DocumentIngestPayload& p) : test::FakeTaskContext(p.SerializeAsString()) {
    task_id = "task-1";
    type = "document.ingest";
  }
};

class IngestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake serves the documents of URL sources too: allowed by port,
    // as an operator would allow an internal document server.
    http_ = MakeHttpClient(EgressPolicy::Parse(server_.base().substr(std::string("http://").size())));
    limiter_ = MakeLocalKeyLimiter();
    // Tenant "default" (the context's) reads from its document_root binding.
    options_.root = std::string(FILA_SOURCE_DIR) + "/tests/fixtures";
    options_.tenants = [](const std::string& name) {
      TenantSettings t;
      t.name = name;
      if (name == "default") t.bindings["document_root"] = {"documents"};
      return t;
    };
    options_.openai.url = server_.base() + "/v1";
    options_.openai.model = "ok";
    options_.openai.api_key = "sk-test";
    options_.openai.backoff_base = 50ms;
  }

  Json Run(const v1::DocumentIngestPayload& p, ScriptedContext* ctx = nullptr) {
    ScriptedContext local(p);
    ScriptedContext& c = ctx != nullptr ? *ctx : local;
    Handler h = MakeIngestHandler(store_, *limiter_, *http_, options_);
    return Json::parse(h(c));
  }

  std::string ErrorOf(const v1::DocumentIngestPayload& p) {
    try {
      Run(p);
    } catch (const PermanentError& e) {
      return std::string("permanent: ") + e.what();
    } catch (const TransientError& e) {
      return std::string("transient: ") + e.what();
    }
    return "no error";
  }

  test::FakeEmbeddingsServer server_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<KeyLimiter> limiter_;
  MemoryStore store_;
  IngestOptions options_;
};

v1::DocumentIngestPayload Payload(const std::string& path) {
  v1::DocumentIngestPayload p;
  p.set_path(path);
  p.set_owner("alice");
  p.set_document_id(path);
  return p;
}

TEST_F(IngestHandlerTest, ReportsEveryStageAndEachBatch) {
  auto p = Payload("devils_dictionary_A-B_excerpt.txt");
  p.mutable_embedder()->set_kind(v1::EmbedderSettings::OPENAI);
  p.mutable_embedder()->set_batch_size(16);
  ScriptedContext ctx(p);
  const Json r = Run(p, &ctx);
  const int chunks = r["chunks"];
  ASSERT_GT(chunks, 32);
  const int batches = (chunks + 15) / 16;
  std::vector<std::string> messages;
  for (const auto& [pct, m] : ctx.progress()) messages.push_back(m);
  EXPECT_EQ(messages.front(), "fetching");
  EXPECT_TRUE(messages[1].starts_with("extracted ")) << messages[1];
  EXPECT_EQ(messages[2], std::to_string(chunks) + " chunks");
  for (int b = 1; b <= batches; ++b) {
    const std::string prefix = "embedded batch " + std::to_string(b) + "/" + std::to_string(batches);
    EXPECT_EQ(std::count_if(messages.begin(), messages.end(), [&](const std::string& m) { return m.starts_with(prefix); }), 1)
        << prefix;
  }
  EXPECT_EQ(messages.back(), "storing " + std::to_string(chunks) + " chunks");
  for (size_t i = 1; i < ctx.progress().size(); ++i) EXPECT_GE(ctx.progress()[i].first, ctx.progress()[i - 1].first);
  EXPECT_EQ(r["embeddings"], chunks);
  EXPECT_EQ(r["embedder"]["kind"], "openai");
  EXPECT_EQ(r["dimension"], 4);
  for (const char* stage : {"fetch", "extract", "chunk", "embed", "store"}) EXPECT_TRUE(r["stages"].contains(stage));
  const auto& stored = store_.chunks_["alice/devils_dictionary_A-B_excerpt.txt"];
  ASSERT_EQ(static_cast<int>(stored.size()), chunks);
  EXPECT_EQ(store_.records_["alice/devils_dictionary_A-B_excerpt.txt"].task_id, "task-1");
  EXPECT_EQ(store_.records_["alice/devils_dictionary_A-B_excerpt.txt"].embedder.find("sk-test"), std::string::npos);
}

TEST_F(IngestHandlerTest, FetchesUrlsAndClassifiesTheirErrors) {
  v1::DocumentIngestPayload p;
  p.set_owner("alice");
  p.set_document_id("web");
  p.set_url(server_.base() + "/text/5000");
  EXPECT_EQ(Run(p)["bytes"], 5000);
  EXPECT_EQ(store_.records_["alice/web"].source, server_.base() + "/text/5000");
  p.set_url(server_.base() + "/text/100?signature=s3cr3t");
  Run(p);
  EXPECT_EQ(store_.records_["alice/web"].source, server_.base() + "/text/100?…");
  p.set_url(server_.base() + "/status/404");
  EXPECT_TRUE(ErrorOf(p).starts_with("permanent: fetching")) << ErrorOf(p);
  p.set_url(server_.base() + "/status/503");
  EXPECT_TRUE(ErrorOf(p).starts_with("transient: fetching")) << ErrorOf(p);
  p.set_url(server_.base() + "/status/429");
  EXPECT_TRUE(ErrorOf(p).starts_with("transient:")) << ErrorOf(p);
  p.set_url(server_.base() + "/text/5000");
  p.set_max_bytes(4000);
  EXPECT_NE(ErrorOf(p).find("document too large"), std::string::npos) << ErrorOf(p);
  p.set_max_bytes(0);
  p.set_url("ftp://example.org/doc.txt");
  EXPECT_NE(ErrorOf(p).find("http:// or https://"), std::string::npos) << ErrorOf(p);
  // Loopback on another port is not allowed: refused for good, unfetched.
  p.set_url("http://127.0.0.1:1/secret");
  EXPECT_TRUE(ErrorOf(p).starts_with("permanent: GET http://127.0.0.1:1/secret: blocked by the egress policy"))
      << ErrorOf(p);
  p.set_url(server_.base() + "/" + std::string(9000, 'a'));
  EXPECT_NE(ErrorOf(p).find("at most 8192"), std::string::npos) << ErrorOf(p).substr(0, 300);
}

TEST_F(IngestHandlerTest, EmbeddingFailuresAreTransientOrPermanent) {
  auto p = Payload("nfelib_README.md");
  p.mutable_embedder()->set_kind(v1::EmbedderSettings::OPENAI);
  p.mutable_embedder()->set_model("always-500");
  options_.openai.max_attempts = 2;
  EXPECT_TRUE(ErrorOf(p).starts_with("transient: embeddings")) << ErrorOf(p);
  options_.openai.api_key = "sk-wrong";
  p.mutable_embedder()->set_model("ok");
  const std::string refused = ErrorOf(p);
  EXPECT_TRUE(refused.starts_with("permanent: embeddings endpoint refused the API key")) << refused;
  EXPECT_EQ(refused.find("sk-wrong"), std::string::npos);
  options_.openai.url.clear();
  EXPECT_NE(ErrorOf(p).find("no FILA_EMBEDDINGS_URL"), std::string::npos) << ErrorOf(p);
  EXPECT_TRUE(store_.records_.empty());
}

TEST_F(IngestHandlerTest, FileSourcesStayUnderTheTenantsFolder) {
  EXPECT_NE(ErrorOf(Payload("/etc/passwd")).find("relative"), std::string::npos);
  EXPECT_NE(ErrorOf(Payload("../../README.md")).find("'..'"), std::string::npos);
  // A file that exists outside the folder (through a symlink inside it) and
  // one that exists nowhere get the same answer: no oracle of what is on
  // the worker's disk.
  const std::string tmp = ::testing::TempDir() + "/doc_root_" + std::to_string(::getpid());
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp + "/default");
  std::filesystem::create_symlink(std::string(FILA_SOURCE_DIR) + "/README.md", tmp + "/default/link.md");
  options_.root = tmp;
  options_.tenants = nullptr;
  const std::string outside = ErrorOf(Payload("link.md"));
  const std::string nowhere = ErrorOf(Payload("none.md"));
  EXPECT_EQ(outside.substr(0, outside.find('\'')), nowhere.substr(0, nowhere.find('\'')));
  EXPECT_NE(outside.find("no readable file"), std::string::npos) << outside;
  std::filesystem::remove_all(tmp);
  options_.root = std::string(FILA_SOURCE_DIR) + "/tests/fixtures";
  // Another tenant's folder is its own (its name, without a binding).
  options_.tenants = nullptr;
  EXPECT_NE(ErrorOf(Payload("nfelib_README.md")).find("no readable file"), std::string::npos);
  options_.root.clear();
  const std::string disabled = ErrorOf(Payload("nfelib_README.md"));
  EXPECT_NE(disabled.find("disabled"), std::string::npos) << disabled;
  EXPECT_EQ(disabled.find("FILA_"), std::string::npos) << disabled;
}

}  // namespace
}  // namespace fila::document
