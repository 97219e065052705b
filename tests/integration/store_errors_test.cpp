// The Postgres store when the database says no: how its errors are
// classified (what the caller does next), what of them is kept, texts from
// input cut before they are stored, a reaper that skips what the database
// refuses, and dependency chains settled at any depth.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <pqxx/pqxx>

#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "fila/store_postgres/postgres_store.h"
#include "support/harness.h"

namespace fila {
namespace {

using test::TestDatabase;

NewTask OneAttemptNoop() {
  NewTask t;
  t.type = "noop";
  t.queue = "default";
  t.max_attempts = 1;
  t.timeout_ms = 1000;
  return t;
}

std::string Database(const TestDatabase& db) { return db.Scalar("SELECT current_database()"); }

// What `call` threw: "transient: ...", "permanent: ...", "other: ...", or "".
template <typename Call>
std::string Thrown(Call&& call) {
  try {
    call();
  } catch (const TransientError& e) {
    return std::string("transient: ") + e.what();
  } catch (const PermanentError& e) {
    return std::string("permanent: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "";
}

// A task whose row another session holds until `lock` ends: a cancel has to
// wait for it.
struct LockedTask {
  explicit LockedTask(const TestDatabase& db)
      : id(PostgresStore(db.url()).Enqueue(std::vector<NewTask>{OneAttemptNoop()})[0].id), holder(db.url()), lock(holder) {
    lock.exec("SELECT 1 FROM tasks WHERE id = '" + id + "' FOR UPDATE");
  }
  const std::string id;
  pqxx::connection holder;
  pqxx::work lock;
};

TEST(PostgresStoreErrors, LockAndStatementTimeoutsAreTransient) {
  TestDatabase db;
  LockedTask row(db);
  const std::string& id = row.id;

  db.Exec("ALTER DATABASE " + Database(db) + " SET lock_timeout = '100ms'");
  PostgresStore locked(db.url());  // a new session takes the setting
  const std::string lock_timeout = Thrown([&] { locked.Cancel(id); });
  EXPECT_EQ(lock_timeout.rfind("transient: ", 0), 0u) << lock_timeout;
  EXPECT_NE(lock_timeout.find("55P03"), std::string::npos) << lock_timeout;

  db.Exec("ALTER DATABASE " + Database(db) + " RESET lock_timeout");
  db.Exec("ALTER DATABASE " + Database(db) + " SET statement_timeout = '100ms'");
  PostgresStore slow(db.url());
  const std::string statement_timeout = Thrown([&] { slow.Cancel(id); });
  EXPECT_EQ(statement_timeout.rfind("transient: ", 0), 0u) << statement_timeout;
  EXPECT_NE(statement_timeout.find("57014"), std::string::npos) << statement_timeout;

  // The same stores work again once the row is free: nothing was broken.
  row.lock.abort();
  EXPECT_TRUE(slow.Cancel(id).changed);
  EXPECT_EQ(locked.GetTask(id)->state, TaskState::kCancelled);
}

// A read-only session (SQLSTATE 25006: what a standby, or a primary demoted
// under a stale connection, answers) is transient and its connection is
// dropped: the next call reconnects, and writes again once the server does.
TEST(PostgresStoreErrors, AReadOnlyServerIsTransientAndItsConnectionReplaced) {
  TestDatabase db;
  const std::string name = Database(db);
  db.Exec("ALTER DATABASE " + name + " SET default_transaction_read_only = on");
  PostgresStore store(db.url());
  std::vector<NewTask> one{OneAttemptNoop()};
  const std::string read_only = Thrown([&] { store.Enqueue(one); });
  EXPECT_EQ(read_only.rfind("transient: ", 0), 0u) << read_only;
  EXPECT_NE(read_only.find("25006"), std::string::npos) << read_only;
  // A kept connection would stay read-only whatever the server does now.
  pqxx::connection admin(test::Stack().database_url);  // the test database's sessions are read-only
  pqxx::nontransaction(admin).exec("ALTER DATABASE " + name + " RESET default_transaction_read_only");
  EXPECT_EQ(store.Enqueue(one).size(), 1u);
  EXPECT_TRUE(store.Reconnected());
}

// libpqxx 6 prepares a statement on its first use, and prepares it again
// when that failed. A prepare cut by a statement timeout may still have made
// the statement on the server: the next use then fails, every time, with
// 42P05 (it exists). That is transient and the session is replaced. Here a
// trigger makes the statement in the store's session, as the cut prepare did.
TEST(PostgresStoreErrors, AStatementTheSessionHasAlreadyReplacesTheSession) {
  TestDatabase db;
  db.Exec(
      "CREATE FUNCTION test_prepare_first() RETURNS trigger LANGUAGE plpgsql AS $$"
      " BEGIN EXECUTE 'PREPARE authenticate AS SELECT 1'; RETURN NULL; END $$");
  db.Exec("CREATE TRIGGER test_prepare_first AFTER INSERT ON tasks"
          " FOR EACH STATEMENT EXECUTE FUNCTION test_prepare_first()");
  PostgresStore store(db.url());
  EXPECT_EQ(store.Enqueue(std::vector<NewTask>{OneAttemptNoop()}).size(), 1u);
  db.Exec("DROP TRIGGER test_prepare_first ON tasks");
  const std::string twice = Thrown([&] { store.Authenticate("fila_no_such_token"); });
  EXPECT_EQ(twice.rfind("transient: ", 0), 0u) << twice;
  EXPECT_NE(twice.find("42P05"), std::string::npos) << twice;
  EXPECT_EQ(Thrown([&] { store.Authenticate("fila_no_such_token"); }), "");
  EXPECT_TRUE(store.Reconnected());
}

// Every session gets FILA_DATABASE_STATEMENT_TIMEOUT unless the server or
// the URL give one: a statement stuck behind a lock ends, as transient.
TEST(PostgresStoreErrors, EverySessionGetsAStatementTimeoutUnlessOneIsSet) {
  TestDatabase db;
  LockedTask row(db);
  ::setenv("FILA_DATABASE_STATEMENT_TIMEOUT", "200ms", 1);
  // How long a cancel waits for the row with `url`, and what it threw.
  auto blocked = [&](const std::string& url) {
    PostgresStore store(url);
    store.Connect();
    const auto start = std::chrono::steady_clock::now();
    const std::string thrown = Thrown([&] { store.Cancel(row.id); });
    EXPECT_EQ(thrown.rfind("transient: ", 0), 0u) << thrown;
    EXPECT_NE(thrown.find("57014"), std::string::npos) << thrown;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double by_default = blocked(db.url());
  db.Exec("ALTER DATABASE " + Database(db) + " SET statement_timeout = '1500ms'");
  const double by_database = blocked(db.url());
  const std::string with_options =
      db.url() + (db.url().find('?') == std::string::npos ? "?" : "&") + "options=-c%20statement_timeout%3D700ms";
  const double by_url = blocked(with_options);
  ::unsetenv("FILA_DATABASE_STATEMENT_TIMEOUT");
  std::printf("[ metric ] statement timeouts: default %.2f s (200ms set), database %.2f s (1500ms), URL %.2f s (700ms)\n",
              by_default, by_database, by_url);
  EXPECT_LT(by_default, 1.0);
  EXPECT_GT(by_database, 1.4) << "the database's own statement_timeout was overridden";
  EXPECT_GT(by_url, 0.65);
  EXPECT_LT(by_url, 1.4) << "the URL's statement_timeout was not used";
}

// Accepts TCP connections on a loopback port and closes each at once, as a
// port forwarder or proxy whose backend is down does.
class AcceptAndClose {
 public:
  AcceptAndClose() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // shut down
        ++accepted;
        ::close(client);
      }
    });
  }
  ~AcceptAndClose() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::atomic<int> accepted{0};

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// libpq alone gives up at a first host that accepts and closes; the store
// then tries the next host of the URL (pg_support's host fallback).
TEST(PostgresStoreErrors, AFirstHostThatAcceptsAndClosesIsPassedForTheNextHost) {
  TestDatabase db;
  AcceptAndClose closer;
  const size_t at = db.url().find('@');
  ASSERT_NE(at, std::string::npos) << "expected a postgresql://user@host URL";
  const std::string url = db.url().substr(0, at + 1) + "127.0.0.1:" + std::to_string(closer.port()) +
                          "," + db.url().substr(at + 1);
  PostgresStore store(url);
  EXPECT_EQ(Thrown([&] { store.Connect(); }), "");
  EXPECT_EQ(Thrown([&] { store.Authenticate("fila_no_such_token"); }), "");
  EXPECT_GE(closer.accepted.load(), 1) << "the first host was not tried";
  // Only the closing host: a transient error that names it.
  const std::string alone = db.url().substr(0, at + 1) + "127.0.0.1:" + std::to_string(closer.port()) +
                            "/" + Database(db);
  PostgresStore nowhere(alone);
  const std::string thrown = Thrown([&] { nowhere.Connect(); });
  EXPECT_EQ(thrown.rfind("transient: cannot connect to PostgreSQL", 0), 0u) << thrown;
}

// A statement inside a transaction that an earlier, unseen error aborted
// (25P02) is transient and the session replaced, never the caller's fault.
// The server's answer is raised here by a trigger.
TEST(PostgresStoreErrors, AnAbortedTransactionIsTransientAndItsSessionReplaced) {
  TestDatabase db;
  db.Exec(R"(
CREATE FUNCTION test_aborted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'current transaction is aborted, commands ignored until end of transaction block'
    USING ERRCODE = '25P02';
END $$;
CREATE TRIGGER test_aborted BEFORE UPDATE OF state ON tasks
  FOR EACH ROW EXECUTE FUNCTION test_aborted();)");
  PostgresStore store(db.url());
  const std::string id = store.Enqueue(std::vector<NewTask>{OneAttemptNoop()})[0].id;
  const std::string aborted = Thrown([&] { store.Cancel(id); });
  EXPECT_EQ(aborted.rfind("transient: ", 0), 0u) << aborted;
  EXPECT_NE(aborted.find("25P02"), std::string::npos) << aborted;
  db.Exec("DROP TRIGGER test_aborted ON tasks");
  EXPECT_TRUE(store.Cancel(id).changed);
  EXPECT_TRUE(store.Reconnected());
}

TEST(PostgresStoreErrors, ARefusedStatementIsPermanentAndKeepsOnlyItsFirstLine) {
  TestDatabase db;
  // A refusal with a long DETAIL and a CONTEXT (the trigger's frame):
  // neither may reach the error, which is logged and may be stored.
  db.Exec(R"(
CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused by test_refuse' USING DETAIL = repeat('secret row values ', 1000);
END $$;
CREATE TRIGGER test_refuse BEFORE UPDATE OF state ON tasks
  FOR EACH ROW EXECUTE FUNCTION test_refuse();)");
  PostgresStore store(db.url());
  std::vector<NewTask> one{OneAttemptNoop()};
  const std::string id = store.Enqueue(one)[0].id;
  const std::string refused = Thrown([&] { store.Cancel(id); });
  EXPECT_EQ(refused, "permanent: PostgreSQL refused the statement (P0001): refused by test_refuse");
  EXPECT_EQ(store.GetTask(id)->state, TaskState::kQueued) << "the connection still works";
}

TEST(PostgresStoreErrors, ErrorsAndProgressMessagesAreCutBeforeTheyAreStored) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> two{OneAttemptNoop(), OneAttemptNoop()};
  auto ids = store.Enqueue(two);
  std::vector<std::string> both{ids[0].id, ids[1].id};
  ASSERT_EQ(store.Claim(both, "w1", 30000).claimed.size(), 2u);
  const std::string huge(1 << 20, 'x');
  std::vector<ProgressUpdate> progress{{ids[0].id, 1, 50, huge}};
  store.RecordProgress(progress);
  EXPECT_LE(
      db.Count("SELECT octet_length(progress_message) FROM tasks WHERE id = '" + ids[0].id + "'"),
      4096);
  std::vector<FinishRecord> finishes{{.id = ids[0].id,
                                      .attempt = 1,
                                      .state = TaskState::kFailed,
                                      .outcome = Outcome::kFailed,
                                      .error = huge,
                                      .error_kind = "permanent",
                                      .worker = "w1"},
                                     {.id = ids[1].id,
                                      .attempt = 1,
                                      .state = TaskState::kFailed,
                                      .outcome = Outcome::kFailed,
                                      .error = "short",
                                      .error_kind = huge,
                                      .worker = "w1"}};
  ASSERT_EQ(store.Finish(finishes), (std::vector<bool>{true, true}));
  EXPECT_LE(db.Count("SELECT max(octet_length(last_error)) FROM tasks"), 4096);
  EXPECT_LE(db.Count("SELECT max(octet_length(error)) FROM task_attempts"), 4096);
  EXPECT_LE(db.Count("SELECT max(octet_length(error_kind)) FROM task_attempts"), 4096);
  EXPECT_NE(db.Scalar("SELECT error FROM task_attempts WHERE task_id = '" + ids[0].id + "'")
                .find("[cut "),
            std::string::npos);
}

TEST(PostgresStoreErrors, TheReaperSkipsATaskTheDatabaseRefusesAndTakesBackTheOthers) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> three{OneAttemptNoop(), OneAttemptNoop(), OneAttemptNoop()};
  auto ids = store.Enqueue(three);
  std::vector<std::string> all{ids[0].id, ids[1].id, ids[2].id};
  ASSERT_EQ(store.Claim(all, "gone", 30000).claimed.size(), 3u);  // never heartbeated
  db.Exec(R"(
CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused by test_refuse'; END $$;
CREATE TRIGGER test_refuse BEFORE UPDATE OF state ON tasks
  FOR EACH ROW WHEN (OLD.id = ')" +
          ids[1].id + R"(') EXECUTE FUNCTION test_refuse();)");

  auto reaped = store.ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 2u);
  EXPECT_EQ(store.GetTask(ids[1].id)->state, TaskState::kRunning);
  for (const auto& id : {ids[0].id, ids[2].id})
    EXPECT_EQ(store.GetTask(id)->state, TaskState::kDead);
  EXPECT_TRUE(store.ReapLost(10000, 100).empty()) << "the refused one is skipped, without an error";
}

// Enqueues a chain of `links` (each depending on the one before) in one
// batch; the root is `root`. Returns the ids, root first.
std::vector<std::string> Chain(PostgresStore& store, NewTask root, int links) {
  std::vector<NewTask> tasks;
  root.id = NewUuid();
  tasks.push_back(root);
  for (int i = 1; i < links; ++i) {
    NewTask t = OneAttemptNoop();
    t.id = NewUuid();
    t.depends_on = {tasks.back().id};
    tasks.push_back(std::move(t));
  }
  std::vector<std::string> ids;
  for (const auto& r : store.Enqueue(tasks)) ids.push_back(r.id);
  return ids;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A chain far deeper than PostgreSQL's stack allowed the old trigger
// (about 1,000): its root's end settles all of it at once, whether the
// root failed on a worker or was cancelled.
TEST(PostgresStoreErrors, DeepChainsSettleInOneStatement) {
  TestDatabase db;
  PostgresStore store(db.url());
  const auto failing = Chain(store, OneAttemptNoop(), 10000);  // one batch: the cycle check walks it too
  NewTask delayed = OneAttemptNoop();
  delayed.run_at_ms = 4102444800000;  // 2100: never runs
  const auto cancelled = Chain(store, delayed, 3000);
  ASSERT_EQ(db.Count("SELECT count(*) FROM tasks WHERE state = 'blocked'"), 9999 + 2999);

  std::vector<std::string> root{failing[0]};
  ASSERT_EQ(store.Claim(root, "w1", 30000).claimed.size(), 1u);
  std::vector<FinishRecord> dead{{.id = failing[0],
                                  .attempt = 1,
                                  .state = TaskState::kDead,
                                  .outcome = Outcome::kFailed,
                                  .error = "boom",
                                  .error_kind = "transient",
                                  .worker = "w1"}};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(store.Finish(dead), std::vector<bool>{true});
  std::printf("[ metric ] finish settling a 10,000-link chain: %.2f s\n", SecondsSince(start));
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store.Cancel(cancelled[0]).changed);
  std::printf("[ metric ] cancel settling a 3,000-link chain: %.2f s\n", SecondsSince(start));

  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks WHERE state = 'blocked'"), 0);
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks WHERE state = 'cancelled'"), 9999 + 3000);
  EXPECT_EQ(store.GetTask(failing[1])->last_error, "dependency " + failing[0] + " ended dead");
  EXPECT_EQ(store.GetTask(failing.back())->last_error,
            "dependency " + failing[failing.size() - 2] + " ended cancelled");
  EXPECT_EQ(store.GetTask(cancelled[1])->last_error,
            "dependency " + cancelled[0] + " ended cancelled");
}

// A task whose parents are a failed one and a running one is cancelled by
// the first; a task enqueued after its parent failed is cancelled at once,
// with its own dependents in the same batch.
TEST(PostgresStoreErrors, SettlementReachesEveryPathOnce) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> parents{OneAttemptNoop(), OneAttemptNoop()};
  auto p = store.Enqueue(parents);
  std::vector<std::string> both{p[0].id, p[1].id};
  ASSERT_EQ(store.Claim(both, "w1", 30000).claimed.size(), 2u);
  // Diamond: a and b depend on both parents, c on a and b.
  NewTask a = OneAttemptNoop(), b = OneAttemptNoop(), c = OneAttemptNoop();
  a.id = NewUuid();
  b.id = NewUuid();
  c.id = NewUuid();
  a.depends_on = b.depends_on = {p[0].id, p[1].id};
  c.depends_on = {a.id, b.id};
  std::vector<NewTask> diamond{a, b, c};
  store.Enqueue(diamond);
  std::vector<FinishRecord> failed{{.id = p[0].id,
                                    .attempt = 1,
                                    .state = TaskState::kFailed,
                                    .outcome = Outcome::kFailed,
                                    .error = "boom",
                                    .error_kind = "permanent",
                                    .worker = "w1"}};
  ASSERT_EQ(store.Finish(failed), std::vector<bool>{true});
  for (const auto& id : {a.id, b.id, c.id})
    EXPECT_EQ(store.GetTask(id)->state, TaskState::kCancelled);
  EXPECT_EQ(store.GetTask(a.id)->last_error, "dependency " + p[0].id + " ended failed");
  EXPECT_EQ(store.GetTask(p[1].id)->state, TaskState::kRunning);

  NewTask late = OneAttemptNoop(), later = OneAttemptNoop();
  late.id = NewUuid();
  later.id = NewUuid();
  late.depends_on = {p[0].id};
  later.depends_on = {late.id};
  std::vector<NewTask> after{late, later};
  auto r = store.Enqueue(after);
  EXPECT_EQ(r[0].state, TaskState::kCancelled);
  EXPECT_EQ(store.GetTask(later.id)->state, TaskState::kCancelled);
}

// A claim of plain and limited tasks is one transaction with the limits'
// admission: when the admission fails (here the database refuses the key's
// row; a lost connection or a lock timeout does the same), nothing of the
// claim was committed. Before, the plain tasks' claim had committed on its
// own: the worker, seeing the call fail, dropped them as duplicates when it
// tried again, and the reaper took them back when their leases ran out, an
// attempt burnt each (a task with one attempt dead).
TEST(PostgresStoreErrors, AClaimWhoseLimitAdmissionFailsClaimsNothing) {
  TestDatabase db;
  PostgresStore store(db.url());
  NewTask limited = OneAttemptNoop();
  limited.limit_key = "acct";
  limited.limit.max_concurrent = 1;
  std::vector<NewTask> tasks{OneAttemptNoop(), limited, OneAttemptNoop()};
  auto enqueued = store.Enqueue(tasks);
  const std::vector<std::string> ids{enqueued[0].id, enqueued[1].id, enqueued[2].id};
  db.Exec(R"(
CREATE FUNCTION test_refuse_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'limit keys refused (test)';
END;
$$;
CREATE TRIGGER test_refuse_key BEFORE INSERT ON limit_keys
  FOR EACH ROW EXECUTE FUNCTION test_refuse_key();)");
  const std::string refused = Thrown([&] { store.Claim(ids, "w1", 30000); });
  EXPECT_NE(refused.find("limit keys refused"), std::string::npos) << refused;
  for (const auto& id : ids) {
    const auto task = store.GetTask(id);
    EXPECT_EQ(task->state, TaskState::kQueued) << id;
    EXPECT_EQ(task->attempt, 0u) << "an attempt burnt on " << id;
  }
  // The same claim once the key is admitted again: every task, attempt 1.
  db.Exec("DROP TRIGGER test_refuse_key ON limit_keys");
  const auto claim = store.Claim(ids, "w1", 30000);
  ASSERT_EQ(claim.claimed.size(), 3u);
  for (const auto& t : claim.claimed) EXPECT_EQ(t.attempt, 1u);
}

}  // namespace
}  // namespace fila
