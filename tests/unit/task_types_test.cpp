#include "fila/core/task_types.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "fila/core/errors.h"

namespace fila {
namespace {

TEST(TaskTypes, BuiltinsAreRegistered) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  EXPECT_TRUE(types.Contains("noop"));
  EXPECT_TRUE(types.Contains("sleep"));
  EXPECT_TRUE(types.Contains("flaky"));
  EXPECT_FALSE(types.Contains("nope"));
}

TEST(TaskTypes, UnknownTypeNamesTheField) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  try {
    types.Get("nope");
    FAIL() << "expected PermanentError";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "type");
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
}

// A refresh by age (the sampler lists the types every few seconds) must not
// hide, for the next min_interval, a type registered just after it.
TEST(TaskTypes, ATypeRegisteredJustAfterARefreshByAgeIsFoundAtOnce) {
  auto types = TaskTypes::Builtin();
  std::vector<TaskTypeSpec> registered;
  int loads = 0;
  types.SetLoader(
      [&] {
        ++loads;
        return registered;
      },
      std::chrono::seconds(1), std::chrono::seconds(60));
  types.All();  // a refresh by age
  EXPECT_EQ(loads, 1);
  TaskTypeSpec reply;
  reply.name = "acme.reply";
  reply.version = 1;
  registered.push_back(reply);
  EXPECT_EQ(types.Get("acme.reply")->version, 1u);
  EXPECT_EQ(loads, 2);
  // Missing names still reload at most once per min_interval.
  EXPECT_THROW(types.Get("acme.nope"), PermanentError);
  EXPECT_THROW(types.Get("acme.nope"), PermanentError);
  EXPECT_EQ(loads, 2);
}

TEST(TaskTypes, JsonPayloadRoundTrips) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  std::string bytes = types.PayloadFromJson("sleep", R"({"ms": 250})");
  EXPECT_FALSE(bytes.empty());
  EXPECT_NO_THROW(types.ValidatePayload("sleep", bytes));
  EXPECT_EQ(types.PayloadToJson("sleep", bytes), R"({"ms":250,"ignore_cancel":false})");
}

TEST(TaskTypes, EmptyJsonMeansDefaultPayload) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  EXPECT_EQ(types.PayloadFromJson("noop", ""), "");
  EXPECT_EQ(types.PayloadFromJson("noop", "{}"), "");
}

TEST(TaskTypes, MalformedJsonIsPermanentError) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  EXPECT_THROW(types.PayloadFromJson("sleep", "{bad"), PermanentError);
  EXPECT_THROW(types.PayloadFromJson("sleep", "[1,2]"), PermanentError);
}

TEST(TaskTypes, WrongValueTypeNamesTheField) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  try {
    types.PayloadFromJson("sleep", R"({"ms": "soon"})");
    FAIL() << "expected PermanentError";
  } catch (const PermanentError& e) {
    EXPECT_NE(e.field().find("ms"), std::string::npos) << e.field() << ": " << e.what();
  }
}

TEST(TaskTypes, UnknownFieldIsRejected) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  try {
    types.PayloadFromJson("sleep", R"({"seconds": 3})");
    FAIL() << "expected PermanentError";
  } catch (const PermanentError& e) {
    EXPECT_NE(e.field().find("seconds"), std::string::npos) << e.field() << ": " << e.what();
  }
}

TEST(TaskTypes, PayloadThatDoesNotParseIsRejected) {
  auto types = TaskTypes::Builtin(TestTypes::kEnabled);
  EXPECT_THROW(types.ValidatePayload("sleep", "\xff\xff\xff"), PermanentError);
}

TEST(QueueName, AcceptsOrdinaryNames) {
  EXPECT_NO_THROW(ValidateQueueName("default"));
  EXPECT_NO_THROW(ValidateQueueName("nfe.download-2_x"));
}

TEST(QueueName, RejectsBadOrReservedNames) {
  EXPECT_THROW(ValidateQueueName(""), PermanentError);
  EXPECT_THROW(ValidateQueueName("Upper"), PermanentError);
  EXPECT_THROW(ValidateQueueName("a b"), PermanentError);
  EXPECT_THROW(ValidateQueueName(std::string(65, 'a')), PermanentError);
  EXPECT_THROW(ValidateQueueName("ingest"), PermanentError);
  EXPECT_THROW(ValidateQueueName("dead"), PermanentError);
}

}  // namespace
}  // namespace fila
