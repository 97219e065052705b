// Both embedders of document.ingest: the offline one, and the HTTP one
// against a local fake OpenAI-compatible server (429 with Retry-After, 500,
// a timeout, a rejected key).
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/document/chunker.h"
#include "fila/document/embedder.h"
#include "fila/document/extract.h"
#include "fila/http/http_client.h"
#include "fila/test_support/fake_embeddings.h"

namespace fila::document {
namespace {

using namespace std::chrono_literals;

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

EmbedContext Context(std::chrono::milliseconds budget = 20s) {
  EmbedContext c;
  c.deadline = DeadlineIn(budget);
  c.sleep = [](std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    return true;
  };
  return c;
}

TEST(OfflineEmbedder, UnitLengthDeterministicAndConfigurable) {
  auto e = MakeOfflineEmbedder(64);
  const auto a = e->Embed({"The quick brown fox", "ação judicial", ""}, Context());
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].size(), 64u);
  EXPECT_NEAR(Dot(a[0], a[0]), 1.0, 1e-5);
  EXPECT_NEAR(Dot(a[1], a[1]), 1.0, 1e-5);
  EXPECT_EQ(Dot(a[2], a[2]), 0.0);  // no words, no features
  EXPECT_EQ(MakeOfflineEmbedder(64)->Embed({"The quick brown fox"}, Context())[0], a[0]);
  EXPECT_EQ(MakeOfflineEmbedder(512)->Embed({"x"}, Context())[0].size(), 512u);
  EXPECT_THROW(MakeOfflineEmbedder(4), PermanentError);
  EXPECT_NE(e->Descriptor(), MakeOfflineEmbedder(512)->Descriptor());
}

TEST(OfflineEmbedder, SimilarTextsScoreHigher) {
  auto e = MakeOfflineEmbedder(384);
  const auto v = e->Embed({"Bakers express hydration as the weight of water divided by the weight of flour.",
                           "the hydration of a dough: water weight over flour weight",
                           "The court dismissed the appeal and ordered the defendant to pay costs."},
                          Context());
  EXPECT_GT(Dot(v[0], v[1]), Dot(v[0], v[2]) + 0.1);
  // Case and accents of Latin-1 letters fold: "AÇÃO" is "ação".
  const auto w = e->Embed({"AÇÃO JUDICIAL", "ação judicial"}, Context());
  EXPECT_NEAR(Dot(w[0], w[1]), 1.0, 1e-5);
}

// The fake server of tests/support/fake_embeddings_server.py, on a port of its choosing.
class FakeEmbeddings : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<test::FakeEmbeddingsServer>();
    base_ = server_->base();
    // No allow rule: the embedder's calls are the operator's
    // (FILA_EMBEDDINGS_URL), so they reach the fake on loopback anyway.
    http_ = MakeHttpClient(EgressPolicy());
    limiter_ = MakeLocalKeyLimiter();
  }

  std::unique_ptr<Embedder> Make(const std::string& model, std::string key = "sk-test") {
    OpenAiOptions o;
    o.url = base_ + "/v1";
    o.model = model;
    o.api_key = std::move(key);
    o.batch_size = 2;
    o.request_timeout = 800ms;
    o.max_attempts = 3;
    o.backoff_base = 50ms;
    return MakeOpenAiEmbedder(o, *http_, *limiter_);
  }

  nlohmann::json Stats(const std::string& model) {
    HttpRequest r;
    r.url = base_ + "/stats?model=" + model;
    r.source = UrlSource::kOperator;  // the test's own call to the fake, which runs on loopback
    return nlohmann::json::parse(http_->Send(r).body);
  }

  std::unique_ptr<test::FakeEmbeddingsServer> server_;
  std::string base_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<KeyLimiter> limiter_;
};

TEST_F(FakeEmbeddings, BatchesAndKeepsInputOrder) {
  auto e = Make("ok");
  const std::vector<std::string> texts{"a", "bb", "ccc", "dddd", "eeeee"};
  const auto v = e->Embed(texts, Context());
  ASSERT_EQ(v.size(), 5u);
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_NEAR(Dot(v[i], v[i]), 1.0, 1e-5);
    // The fake's first component is the text length (before normalising).
    const double norm = std::sqrt(std::pow(i + 1.0, 2) + 1 + std::pow(double(('a' + i) * (i + 1) % 97), 2) + 0.25);
    EXPECT_NEAR(v[i][0], (i + 1) / norm, 1e-5) << i;
  }
  const auto s = Stats("ok");
  EXPECT_EQ(s["requests"], 3);
  EXPECT_EQ(s["batches"], nlohmann::json::array({2, 2, 1}));
}

TEST_F(FakeEmbeddings, HonoursRetryAfterOn429) {
  auto e = Make("429-once");
  const auto v = e->Embed({"a"}, Context());
  ASSERT_EQ(v.size(), 1u);
  const auto s = Stats("429-once");
  ASSERT_EQ(s["requests"], 2);
  EXPECT_GE(s["times"][1].get<double>() - s["times"][0].get<double>(), 0.95);
}

TEST_F(FakeEmbeddings, RetriesA500) {
  auto e = Make("500-once");
  EXPECT_EQ(e->Embed({"a", "b"}, Context()).size(), 2u);
  EXPECT_EQ(Stats("500-once")["requests"], 2);
}

TEST_F(FakeEmbeddings, RetriesATimeout) {
  auto e = Make("slow-once");
  const auto start = SteadyClock::now();
  EXPECT_EQ(e->Embed({"a"}, Context()).size(), 1u);
  EXPECT_LT(SteadyClock::now() - start, 2500ms);  // did not wait the fake's 3 s out
  EXPECT_EQ(Stats("slow-once")["requests"], 2);
}

TEST_F(FakeEmbeddings, GivesUpWithATransientError) {
  auto e = Make("always-500");
  EXPECT_THROW(e->Embed({"a"}, Context()), TransientError);
  EXPECT_EQ(Stats("always-500")["requests"], 3);
  // A Retry-After longer than the embedder waits in a slot: the task retries later.
  auto slow = Make("always-429");
  const auto start = SteadyClock::now();
  EXPECT_THROW(slow->Embed({"a"}, Context()), TransientError);
  EXPECT_LT(SteadyClock::now() - start, 2s);
  // The deadline bounds everything.
  auto late = Make("slow-once");
  EXPECT_THROW(late->Embed({"a"}, Context(300ms)), TransientError);
}

TEST_F(FakeEmbeddings, RejectedKeyIsPermanentAndNeverShown) {
  auto e = Make("ok", "sk-wrong-secret");
  try {
    e->Embed({"a"}, Context());
    FAIL() << "no error";
  } catch (const PermanentError& err) {
    EXPECT_NE(std::string(err.what()).find("401"), std::string::npos);
    EXPECT_EQ(std::string(err.what()).find("sk-wrong-secret"), std::string::npos) << err.what();
  }
  auto bad = Make("bad-request");
  try {
    bad->Embed({"a"}, Context());
    FAIL() << "no error";
  } catch (const PermanentError& err) {
    EXPECT_NE(std::string(err.what()).find("400"), std::string::npos);
    EXPECT_EQ(std::string(err.what()).find("sk-test"), std::string::npos) << err.what();
  }
  EXPECT_EQ(Stats("bad-request")["requests"], 1);  // no retry of a 4xx
}

TEST_F(FakeEmbeddings, DescriptorRebuildsTheSameEmbedder) {
  auto e = Make("ok");
  OpenAiOptions keys;
  keys.api_key = "sk-test";
  auto again = EmbedderFromDescriptor(e->Descriptor(), keys, *http_, *limiter_);
  EXPECT_EQ(again->Descriptor(), e->Descriptor());
  EXPECT_EQ(again->Embed({"abc"}, Context()), e->Embed({"abc"}, Context()));
  EXPECT_EQ(e->Descriptor().find("sk-test"), std::string::npos);
  EXPECT_THROW(EmbedderFromDescriptor("{\"kind\":\"nope\"}", keys, *http_, *limiter_), PermanentError);
}

}  // namespace
}  // namespace fila::document

namespace fila::document {
namespace {

// Not a test: the figures of docs/document-ingest.md. Run with
//   fila_document_unit_tests --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
TEST(DocumentThroughput, DISABLED_OfflineOnTheGazette) {
  std::ifstream in(std::string(FILA_SOURCE_DIR) + "/tests/fixtures/documents/tjro_dj_20250624_pages48-72.pdf",
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string pdf = ss.str();
  ASSERT_FALSE(pdf.empty());
  constexpr int kRounds = 20;
  auto embedder = MakeOfflineEmbedder(384);
  size_t chunks = 0;
  double extract_s = 0, chunk_s = 0, embed_s = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto t0 = SteadyClock::now();
    const ExtractedText doc = Extract(pdf, DetectType(pdf, "", ""));
    auto t1 = SteadyClock::now();
    const auto pieces = ChunkText(doc, {.size = 1000, .overlap = 200});
    auto t2 = SteadyClock::now();
    std::vector<std::string> texts;
    for (const auto& c : pieces) texts.push_back(c.text);
    const auto vectors = embedder->Embed(texts, Context());
    auto t3 = SteadyClock::now();
    ASSERT_EQ(vectors.size(), pieces.size());
    chunks += pieces.size();
    extract_s += std::chrono::duration<double>(t1 - t0).count();
    chunk_s += std::chrono::duration<double>(t2 - t1).count();
    embed_s += std::chrono::duration<double>(t3 - t2).count();
  }
  std::printf("gazette (25 pages, %zu chunks of <= 1000 code points, overlap 200), %d rounds:\n", chunks / kRounds,
              kRounds);
  std::printf("  extract %.1f ms/document, chunk %.0f chunks/s, offline embed (384 dims) %.0f embeddings/s\n",
              1000 * extract_s / kRounds, chunks / chunk_s, chunks / embed_s);
}

}  // namespace
}  // namespace fila::document
