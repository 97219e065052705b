// Migration 0015 where the unaccent extension cannot be created (a role
// without CREATE on its database): the migration still succeeds, text
// search stems without folding accents, and fila document language says so.
#include <gtest/gtest.h>

#include "fila/document/document_store_pg.h"
#include "support/harness.h"

namespace fila {
namespace {

// `url` with `user` in place of its user ("" when it names none).
std::string AsUser(const std::string& url, const std::string& user) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return "";
  return url.substr(0, scheme + 3) + user + url.substr(at);
}

TEST(DocumentTextSearch, WithoutUnaccentTheMigrationSucceedsAndSaysAccentsAreNotFolded) {
  test::TestDatabase admin(/*migrate=*/false);
  const std::string role = test::RandomName("fila_weak_");
  admin.Exec("CREATE ROLE " + role + " LOGIN");
  // Dropped once `db` (which the role owns) is gone, whatever the test did.
  struct DropRole {
    const test::TestDatabase& admin;
    std::string role;
    ~DropRole() {
      try {
        admin.Exec("DROP ROLE IF EXISTS " + role);
      } catch (const std::exception&) {
      }
    }
  } drop{admin, role};
  {
    test::TestDatabase db(/*migrate=*/false);
    const std::string name = db.url().substr(db.url().rfind('/') + 1);
    const std::string url = AsUser(db.url(), role);
    if (url.empty() || name.find('?') != std::string::npos) GTEST_SKIP() << "the stack's URL names no user";
    // The role owns the database and its schema but may not CREATE in the
    // database itself, which creating even a trusted extension needs.
    db.Exec("ALTER DATABASE " + name + " OWNER TO " + role);
    db.Exec("REVOKE CREATE ON DATABASE " + name + " FROM " + role + ", PUBLIC");
    db.Exec("ALTER SCHEMA public OWNER TO " + role);
    auto migrated = test::RunFila("fila", {"migrate", "up"}, {{"FILA_DATABASE_URL", url}});
    ASSERT_EQ(migrated.ExitCode(), 0) << migrated.err;
    EXPECT_EQ(db.Count("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'"), 0);

    auto text = MakePostgresTextIndex(url, 1);
    EXPECT_FALSE(text->FoldsAccents());
    auto listed = test::RunFila("fila", {"document", "language"}, {{"FILA_DATABASE_URL", url}});
    ASSERT_EQ(listed.ExitCode(), 0) << listed.err;
    EXPECT_NE(listed.out.find("accents NOT folded: the unaccent extension is missing"), std::string::npos)
        << listed.out;
    // Stemming still works; accents must be typed.
    EXPECT_EQ(text->SetLanguage("default", "pt", "portuguese"), 0u);
    auto store = MakePostgresDocumentStore(url, 1);
    store->Replace({.owner = "pt", .document_id = "d", .source = "inline", .media_type = "text/plain",
                    .embedder = "{\"kind\":\"test\"}", .dimension = 1, .content = "Ações publicadas"},
                   {{"Ações publicadas", 0, 16, 0, "", {1.0f}}});
    EXPECT_EQ(text->TextSearch({}, "publicada", 5).size(), 1u);
    EXPECT_EQ(text->TextSearch({}, "ações", 5).size(), 1u);
    EXPECT_TRUE(text->TextSearch({}, "acoes", 5).empty());
  }
}

}  // namespace
}  // namespace fila
