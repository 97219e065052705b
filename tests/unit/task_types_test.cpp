#include "fila/core/task_types.h"

#include <gtest/gtest.h>

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
