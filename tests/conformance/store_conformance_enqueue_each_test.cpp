// The store contract of EnqueueEach: independent enqueues in one
// transaction, each answered on its own.
#include "conformance_support.h"
#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

// The field of the PermanentError an outcome holds; "" when it holds none.
std::string ErrorField(const EnqueueOutcome& o) {
  if (!o.error) return "";
  try {
    std::rethrow_exception(o.error);
  } catch (const PermanentError& e) {
    return e.field().empty() ? "?" : e.field();
  } catch (...) {
    return "not a PermanentError";
  }
}

TEST_P(StoreConformance, EnqueueEachAnswersABadTaskAloneAndCommitsTheOthers) {
  const std::string parent = EnqueueOne(store());
  NewTask missing_dep = Noop();
  missing_dep.depends_on = {kMissing};
  NewTask bad_id = Noop();
  bad_id.id = "not-a-uuid";
  NewTask child = Noop();
  child.depends_on = {parent};
  std::vector<NewTask> group{Noop(), missing_dep, Noop("k-1"), bad_id, child};
  auto out = store().EnqueueEach(group);
  ASSERT_EQ(out.size(), group.size());
  EXPECT_EQ(ErrorField(out[0]), "");
  EXPECT_EQ(ErrorField(out[1]), "depends_on");
  EXPECT_EQ(ErrorField(out[2]), "");
  EXPECT_EQ(ErrorField(out[3]), "id");
  EXPECT_EQ(ErrorField(out[4]), "");
  for (size_t i : {0u, 2u, 4u}) {
    EXPECT_TRUE(out[i].result.created) << i;
    EXPECT_TRUE(IsUuid(out[i].result.id)) << i;
    ASSERT_TRUE(store().GetTask(out[i].result.id).has_value()) << i;
  }
  EXPECT_EQ(out[4].result.state, TaskState::kBlocked);
  // The parent, tasks 0 and 2 queued (one outbox row each), 4 blocked; the
  // refused ones left nothing behind.
  EXPECT_EQ(store().CountActive(), 3);
  EXPECT_EQ(DrainOutbox(store()), 3u);
  auto all = store().ListTasks(ListFilter{.limit = 100});
  EXPECT_EQ(all.size(), 4u);
}

TEST_P(StoreConformance, EnqueueEachRepeatedKeyAnswersTheFirstAsSequentialCallsWould) {
  const std::string before = EnqueueOne(store(), Noop("old"));
  NewTask bad = Noop();
  bad.depends_on = {kMissing};
  // Without and with a bad task in the group (the second takes the path
  // where each task has its own savepoint).
  for (bool with_bad : {false, true}) {
    SCOPED_TRACE(with_bad ? "with a bad task" : "all good");
    const std::string k = with_bad ? "b" : "a";
    std::vector<NewTask> group{Noop(k), Noop("old"), Noop(k), Noop(k, "acme")};
    if (with_bad) group.insert(group.begin() + 1, bad);
    auto out = store().EnqueueEach(group);
    ASSERT_EQ(out.size(), group.size());
    const size_t o = with_bad ? 1 : 0;
    if (with_bad) {
      EXPECT_EQ(ErrorField(out[1]), "depends_on");
    }
    EXPECT_TRUE(out[0].result.created);
    EXPECT_EQ(out[1 + o].result.id, before);
    EXPECT_FALSE(out[1 + o].result.created);
    EXPECT_EQ(out[2 + o].result.id, out[0].result.id);
    EXPECT_FALSE(out[2 + o].result.created);
    EXPECT_TRUE(out[3 + o].result.created);  // another tenant's key
    EXPECT_NE(out[3 + o].result.id, out[0].result.id);
  }
  // "old", then a + acme's a, b + acme's b: five tasks, once each.
  EXPECT_EQ(DrainOutbox(store()), 5u);
  EXPECT_EQ(store().CountActive(), 5);
}

TEST_P(StoreConformance, EnqueueEachOfNothingIsNothing) {
  EXPECT_TRUE(store().EnqueueEach({}).empty());
}

}  // namespace
}  // namespace fila::test
