// document.ingest's PostgreSQL store alone: fencing, tenants, replacement
// and cosine ranking.
#include <gtest/gtest.h>

#include <cmath>

#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"
#include "support/harness.h"

namespace fila {
namespace {

using document::DocumentRecord;
using document::StoredChunk;

class DocumentStorePg : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>();
    store_ = MakePostgresDocumentStore(db_->url(), 2);
    task_ = db_->Scalar(
        "INSERT INTO tasks (type, queue, priority, state, attempt, max_attempts, timeout_ms, tenant) "
        "VALUES ('document.ingest', 'document', 0, 'running', 2, 5, 60000, 'acme') RETURNING id");
  }

  DocumentRecord Record(uint32_t attempt, const std::string& document_id = "doc") {
    DocumentRecord r;
    r.task_id = task_;
    r.attempt = attempt;
    r.owner = "alice";
    r.document_id = document_id;
    r.source = "inline";
    r.media_type = "text/plain";
    r.embedder = "{\"kind\":\"test\"}";
    r.dimension = 2;
    r.content = "alpha beta gamma";
    return r;
  }

  static StoredChunk Chunk(std::string text, float x, float y) {
    const float n = std::sqrt(x * x + y * y);
    return {std::move(text), 0, 5, 0, "", {x / n, y / n}};
  }

  std::unique_ptr<test::TestDatabase> db_;
  std::unique_ptr<document::DocumentStore> store_;
  std::string task_;
};

TEST_F(DocumentStorePg, AStaleAttemptWritesNothing) {
  EXPECT_THROW(store_->Replace(Record(1), {Chunk("alpha", 1, 0)}), TransientError);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 0);
  store_->Replace(Record(2), {Chunk("alpha", 1, 0)});
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks"), 1);
  db_->Exec("UPDATE tasks SET state = 'succeeded'");
  EXPECT_THROW(store_->Replace(Record(2), {Chunk("x", 1, 0), Chunk("y", 0, 1)}), TransientError);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks"), 1);  // rolled back
}

TEST_F(DocumentStorePg, ReplacesChunksUnderTheTasksTenant) {
  const std::string id = store_->Replace(Record(2), {Chunk("a", 1, 0), Chunk("b", 0, 1), Chunk("c", 1, 1)});
  EXPECT_EQ(db_->Scalar("SELECT tenant FROM documents"), "acme");
  EXPECT_EQ(store_->Replace(Record(2), {Chunk("d", 1, 0)}), id);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 1);
  EXPECT_EQ(db_->Scalar("SELECT string_agg(text, ',') FROM document_chunks"), "d");
}

TEST_F(DocumentStorePg, RanksByCosineWithinOneEmbedderAndFilter) {
  store_->Replace(Record(2, "one"), {Chunk("east", 1, 0), Chunk("north", 0, 1), Chunk("north-east", 1, 1)});
  store_->Replace(Record(2, "two"), {Chunk("mostly east", 3, 1)});
  auto hits = store_->Search({}, "{\"kind\":\"test\"}", {1, 0}, 3);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].text, "east");
  EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
  EXPECT_EQ(hits[1].text, "mostly east");
  EXPECT_EQ(hits[2].text, "north-east");
  EXPECT_NEAR(hits[2].score, std::sqrt(0.5), 1e-5);
  EXPECT_EQ(store_->Search({.document_id = "two"}, "{\"kind\":\"test\"}", {1, 0}, 3).size(), 1u);
  EXPECT_TRUE(store_->Search({.tenant = "globex"}, "{\"kind\":\"test\"}", {1, 0}, 3).empty());
  EXPECT_TRUE(store_->Search({}, "{\"kind\":\"other\"}", {1, 0}, 3).empty());
  EXPECT_EQ(store_->Embedders({.owner = "alice"}), std::vector<std::string>{"{\"kind\":\"test\"}"});
}

}  // namespace
}  // namespace fila
