// The connection string every fila component opens PostgreSQL with
// (store/postgres: ConnectionString): the operator's values kept, the
// client timeouts added, target_session_attrs for multi-host URLs, no
// password in what reaches a log, and any input survived.
#include "fila/store_postgres/connection_string.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>

#include "fila/core/config.h"

namespace fila::pg {
namespace {

const ConnectionDefaults kDefaults;
constexpr const char* kAdded =
    "connect_timeout=5&keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
    "&tcp_user_timeout=15000";

std::string Built(std::string_view url) { return ConnectionString(url, kDefaults); }

size_t Occurrences(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) ++n;
  return n;
}

// Sets an environment variable for one scope, restoring what was there.
class ScopedEnv final {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConnectionString, AddsTheClientTimeoutsToAUri) {
  EXPECT_EQ(Built("postgresql://fila@db:5432/fila"), std::string("postgresql://fila@db:5432/fila?") + kAdded);
  EXPECT_EQ(Built("postgres://db"), std::string("postgres://db?") + kAdded);
  EXPECT_EQ(Built("postgresql://db/fila?sslmode=disable"),
            std::string("postgresql://db/fila?sslmode=disable&") + kAdded);
  EXPECT_EQ(Built("postgresql://db/fila?"), std::string("postgresql://db/fila?") + kAdded);
  EXPECT_EQ(Built("postgresql://db/fila?sslmode=disable&"),
            std::string("postgresql://db/fila?sslmode=disable&") + kAdded);
}

TEST(ConnectionString, AddsTheClientTimeoutsToAKeywordString) {
  EXPECT_EQ(Built("host=db dbname=fila"),
            "host=db dbname=fila connect_timeout=5 keepalives=1 keepalives_idle=10 "
            "keepalives_interval=5 keepalives_count=3 tcp_user_timeout=15000");
  EXPECT_EQ(Built(""),
            "connect_timeout=5 keepalives=1 keepalives_idle=10 keepalives_interval=5 "
            "keepalives_count=3 tcp_user_timeout=15000");
}

TEST(ConnectionString, KeepsWhatTheOperatorSet) {
  const std::string uri =
      Built("postgresql://db/fila?connect_timeout=2&keepalives_idle=60&tcp_user_timeout=0");
  EXPECT_EQ(Occurrences(uri, "connect_timeout="), 1u) << uri;
  EXPECT_NE(uri.find("connect_timeout=2"), std::string::npos) << uri;
  EXPECT_NE(uri.find("keepalives_idle=60"), std::string::npos) << uri;
  EXPECT_NE(uri.find("tcp_user_timeout=0"), std::string::npos) << uri;
  EXPECT_EQ(Occurrences(uri, "keepalives_idle="), 1u) << uri;
  EXPECT_NE(uri.find("keepalives_count=3"), std::string::npos) << uri;

  // Percent-encoded keywords are the same keywords to libpq.
  EXPECT_EQ(Occurrences(Built("postgresql://db/fila?connect%5Ftimeout=9"), "timeout=5"), 0u);

  const std::string words = Built("host = db connect_timeout = '7' keepalives=0");
  EXPECT_EQ(Occurrences(words, "connect_timeout"), 1u) << words;
  EXPECT_EQ(Occurrences(words, "keepalives="), 1u) << words;
  EXPECT_EQ(words.rfind("host = db connect_timeout = '7' keepalives=0 keepalives_idle=10", 0), 0u) << words;
}

TEST(ConnectionString, AMultiHostUrlOnlyEverWritesToAPrimary) {
  EXPECT_EQ(Built("postgresql://u@h1:5432,h2:5433/fila"),
            std::string("postgresql://u@h1:5432,h2:5433/fila?") + kAdded + "&target_session_attrs=read-write");
  EXPECT_EQ(Built("postgresql:///fila?host=/s1,/s2").find("target_session_attrs=read-write") !=
                std::string::npos,
            true);
  EXPECT_NE(Built("host=h1,h2 port=1,2").find(" target_session_attrs=read-write"), std::string::npos);
  EXPECT_NE(Built("hostaddr=10.0.0.1,10.0.0.2").find("target_session_attrs=read-write"), std::string::npos);
  // The operator's own choice stays.
  const std::string any = Built("postgresql://h1,h2/fila?target_session_attrs=any");
  EXPECT_EQ(Occurrences(any, "target_session_attrs="), 1u) << any;
  EXPECT_NE(any.find("target_session_attrs=any"), std::string::npos) << any;
  // One host: nothing to choose.
  for (const char* one : {"postgresql://u@h1:5432/fila", "host=h1 port=5432", "postgresql://[::1]:5432/fila"}) {
    EXPECT_EQ(Built(one).find("target_session_attrs"), std::string::npos) << one;
    EXPECT_FALSE(IsMultiHost(one)) << one;
  }
  EXPECT_TRUE(IsMultiHost("postgresql://u:pw@[::1]:5432,[::1]:5433/fila"));
}

TEST(ConnectionString, CredentialsAreNotMistakenForHostsOrParameters) {
  // libpq ends the credentials at the first '@' before any '/': a '?' or a
  // ',' in a password is not a query or a host list.
  EXPECT_EQ(Built("postgresql://u:p?a,s@db/fila"), std::string("postgresql://u:p?a,s@db/fila?") + kAdded);
  EXPECT_EQ(Built("postgresql://u:p?a,s@db"), std::string("postgresql://u:p?a,s@db?") + kAdded);
  EXPECT_FALSE(IsMultiHost("postgresql://u:a,b@db/fila"));
}

TEST(ConnectionString, NoPasswordReachesALog) {
  for (const char* url :
       {"postgresql://fila:hunter2@h1:5432,h2:5433/fila", "postgresql://fila@h1,h2/fila?password=hunter2",
        "host=h1,h2 user=fila password=hunter2 dbname=fila", "host=h1 password='hunter2' dbname=fila",
        "postgresql://fila:hunter2@db/fila?sslmode=require"}) {
    const std::string built = Built(url);
    EXPECT_EQ(Occurrences(built, "hunter2"), 1u) << "the password is not copied: " << built;
    EXPECT_EQ(RedactSecrets(built).find("hunter2"), std::string::npos) << RedactSecrets(built);
    EXPECT_EQ(RedactSecrets(url).find("hunter2"), std::string::npos) << url;
  }
  EXPECT_EQ(RedactUrl("postgresql://fila:hunter2@h1:5432,h2:5433/fila?target_session_attrs=read-write"),
            "postgresql://fila:***@h1:5432,h2:5433/fila?target_session_attrs=read-write");
}

TEST(ConnectionString, ValuesAreEncodedForTheirForm) {
  ConnectionDefaults odd;
  odd.connect_timeout = "a b'c";
  const std::string uri = ConnectionString("postgresql://db", odd);
  EXPECT_NE(uri.find("connect_timeout=a%20b%27c&"), std::string::npos) << uri;
  const std::string words = ConnectionString("host=db", odd);
  EXPECT_NE(words.find(R"(connect_timeout='a b\'c' )"), std::string::npos) << words;
  // Empty defaults add nothing.
  EXPECT_EQ(ConnectionString("postgresql://h1,h2/fila", ConnectionDefaults{"", "", "", "", "", "", "", ""}),
            "postgresql://h1,h2/fila");
}

TEST(ConnectionString, WhatLibpqWouldRefuseComesBackUnchanged) {
  // Appending would change the meaning (the text would join the last value)
  // or the string is not conninfo at all: libpq reports the error.
  for (const char* bad : {"host=db password='open", "host=db password=trailing\\", "just-a-name",
                          "host", "=", "host=db 'x"}) {
    EXPECT_EQ(Built(bad), bad);
  }
}

TEST(ConnectionString, SurvivesAnyInputInLinearTime) {
  std::mt19937 rng(20);
  const std::string alphabet = "postgresql:/@?&=,'\\ %host=ab\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const size_t len = rng() % 64;
    for (size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    const std::string built = Built(s);
    EXPECT_EQ(built.rfind(s, 0), 0u) << "the operator's text is kept as a prefix: " << s;
    (void)SetsStatementTimeout(s);
    (void)IsMultiHost(s);
  }
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& huge :
       {"postgresql://" + std::string(1 << 20, ','), "postgresql://h/d?" + std::string(1 << 20, '&'),
        std::string(1 << 19, '\'') , "k='" + std::string(1 << 20, '\\'), "postgresql://h/d?a=" + std::string(1 << 20, '%')}) {
    EXPECT_EQ(Built(huge).rfind(huge, 0), 0u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ConnectionString, KnowsWhenTheUrlSetsAStatementTimeout) {
  EXPECT_TRUE(SetsStatementTimeout("postgresql://db/fila?options=-c%20statement_timeout%3D5s"));
  EXPECT_TRUE(SetsStatementTimeout("host=db options='-c statement_timeout=0'"));
  EXPECT_FALSE(SetsStatementTimeout("postgresql://db/fila?options=-c%20lock_timeout%3D5s"));
  EXPECT_FALSE(SetsStatementTimeout("postgresql://db/statement_timeout"));
  EXPECT_FALSE(SetsStatementTimeout("host=db"));
}

TEST(ConnectionDefaults, TheEnvironmentOverridesAndLibpqsOwnVariablesWin) {
  {
    ScopedEnv a("FILA_DATABASE_STATEMENT_TIMEOUT", nullptr), b("PGCONNECT_TIMEOUT", nullptr),
        c("PGTARGETSESSIONATTRS", nullptr), d("PGOPTIONS", nullptr);
    const auto defaults = ConnectionDefaults::FromEnvironment();
    EXPECT_EQ(defaults.statement_timeout, "30s");
    EXPECT_EQ(defaults.connect_timeout, "5");
    EXPECT_EQ(defaults.target_session_attrs, "read-write");
  }
  {
    ScopedEnv a("FILA_DATABASE_STATEMENT_TIMEOUT", "2min"), b("PGCONNECT_TIMEOUT", "1"),
        c("PGTARGETSESSIONATTRS", "primary");
    const auto defaults = ConnectionDefaults::FromEnvironment();
    EXPECT_EQ(defaults.statement_timeout, "2min");
    const std::string built = ConnectionString("postgresql://h1,h2/fila", defaults);
    EXPECT_EQ(built.find("connect_timeout"), std::string::npos) << built;
    EXPECT_EQ(built.find("target_session_attrs"), std::string::npos) << built;
  }
  {
    ScopedEnv a("FILA_DATABASE_STATEMENT_TIMEOUT", "0");
    EXPECT_EQ(ConnectionDefaults::FromEnvironment().statement_timeout, "");
  }
  {
    ScopedEnv a("FILA_DATABASE_STATEMENT_TIMEOUT", nullptr), d("PGOPTIONS", "-c statement_timeout=1h");
    EXPECT_EQ(ConnectionDefaults::FromEnvironment().statement_timeout, "");
  }
}

}  // namespace
}  // namespace fila::pg
