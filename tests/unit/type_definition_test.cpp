// Task types as data, logic only: a definition with a descriptor-set schema
// or any JSON object, payload validation naming the field, deep inputs,
// definitions refused naming the field, versions in the registry, listing.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.pb.h>

#include <map>

#include "fila/core/errors.h"
#include "fila/core/task_types.h"
#include "fila/core/type_definition.h"
#include "fila/core/type_store.h"
#include "fila/v1/types.pb.h"

namespace fila {
namespace {

namespace pb = google::protobuf;

// acme.v1.Reply {string phone = 1; int32 tries = 2; Node tree = 3;} and the
// recursive acme.v1.Node {Node child = 1;}.
pb::FileDescriptorSet ReplySchema() {
  pb::FileDescriptorSet set;
  auto* file = set.add_file();
  file->set_name("reply.proto");
  file->set_package("acme.v1");
  file->set_syntax("proto3");
  auto* node = file->add_message_type();
  node->set_name("Node");
  auto* child = node->add_field();
  child->set_name("child");
  child->set_number(1);
  child->set_type(pb::FieldDescriptorProto::TYPE_MESSAGE);
  child->set_type_name(".acme.v1.Node");
  child->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  auto* reply = file->add_message_type();
  reply->set_name("Reply");
  const std::pair<const char*, pb::FieldDescriptorProto::Type> fields[] = {
      {"phone", pb::FieldDescriptorProto::TYPE_STRING},
      {"tries", pb::FieldDescriptorProto::TYPE_INT32},
      {"tree", pb::FieldDescriptorProto::TYPE_MESSAGE}};
  int number = 1;
  for (const auto& [name, type] : fields) {
    auto* f = reply->add_field();
    f->set_name(name);
    f->set_json_name(name);
    f->set_number(number++);
    f->set_type(type);
    f->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    if (type == pb::FieldDescriptorProto::TYPE_MESSAGE) f->set_type_name(".acme.v1.Node");
  }
  return set;
}

v1::TaskTypeDefinition Reply() {
  v1::TaskTypeDefinition d;
  d.set_name("acme.reply");
  *d.mutable_schema()->mutable_proto()->mutable_descriptor_set() = ReplySchema();
  d.mutable_schema()->mutable_proto()->set_message("acme.v1.Reply");
  d.mutable_handler()->mutable_http()->set_url("http://127.0.0.1:8080/reply");
  return d;
}

TaskTypeSpec Spec(const v1::TaskTypeDefinition& d) { return SpecFromDefinition(d.SerializeAsString()); }

// The field a PermanentError names, or "no error".
template <typename F>
std::string FieldOf(F f) {
  try {
    f();
  } catch (const PermanentError& e) {
    return e.field().empty() ? std::string("(no field) ") + e.what() : e.field();
  }
  return "no error";
}

TEST(TypeDefinition, PayloadsRoundTripThroughTheRegisteredMessage) {
  const TaskTypeSpec spec = Spec(Reply());
  EXPECT_EQ(spec.handler.kind, HandlerSpec::Kind::kHttp);
  const std::string bytes = PayloadFromJson(spec, R"({"phone":"+55 11 5555","tries":2})");
  EXPECT_NO_THROW(ValidatePayload(spec, bytes));
  const std::string json = PayloadToJson(spec, bytes);
  EXPECT_NE(json.find("+55 11 5555"), std::string::npos) << json;
  EXPECT_NE(json.find("\"tries\":2"), std::string::npos) << json;
}

TEST(TypeDefinition, PayloadErrorsNameTheField) {
  const TaskTypeSpec spec = Spec(Reply());
  EXPECT_NE(FieldOf([&] { PayloadFromJson(spec, R"({"tries":"many"})"); }).find("tries"), std::string::npos);
  EXPECT_NE(FieldOf([&] { PayloadFromJson(spec, R"({"colour":"red"})"); }).find("colour"), std::string::npos);
  EXPECT_EQ(FieldOf([&] { PayloadFromJson(spec, "[1,2]"); }).substr(0, 7), "payload");
  EXPECT_EQ(FieldOf([&] { ValidatePayload(spec, "\xff\xff\xff"); }).substr(0, 7), "payload");
}

TEST(TypeDefinition, DeeplyNestedPayloadsAreRefusedWithoutCrashing) {
  const TaskTypeSpec spec = Spec(Reply());
  std::string deep = R"({"tree":)";
  for (int i = 0; i < 100000; ++i) deep += R"({"child":)";
  deep += "{}";
  for (int i = 0; i < 100000; ++i) deep += "}";
  deep += "}";
  EXPECT_NE(FieldOf([&] { PayloadFromJson(spec, deep); }), "no error");

  v1::TaskTypeDefinition any;
  any.set_name("acme.any");
  any.mutable_schema()->set_any_json(true);
  any.mutable_handler()->mutable_http()->set_url("http://127.0.0.1:8080/");
  const TaskTypeSpec any_spec = Spec(any);
  const std::string arrays = R"({"a":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_NE(FieldOf([&] { PayloadFromJson(any_spec, arrays); }), "no error");
}

TEST(TypeDefinition, AnyJsonTakesObjectsOnly) {
  v1::TaskTypeDefinition d;
  d.set_name("acme.any");
  d.mutable_schema()->set_any_json(true);
  d.mutable_handler()->mutable_exec()->add_command("./run.py");
  const TaskTypeSpec spec = Spec(d);
  const std::string bytes = PayloadFromJson(spec, R"({"anything":[1,{"goes":true}],"n":null})");
  EXPECT_NE(PayloadToJson(spec, bytes).find("goes"), std::string::npos);
  EXPECT_NE(FieldOf([&] { PayloadFromJson(spec, "[1]"); }), "no error");
  EXPECT_NE(FieldOf([&] { PayloadFromJson(spec, "not json"); }), "no error");
}

TEST(TypeDefinition, BadDefinitionsNameTheField) {
  auto with = [](auto change) {
    v1::TaskTypeDefinition d = Reply();
    change(d);
    return FieldOf([&] { Spec(d); });
  };
  EXPECT_EQ(with([](auto& d) { d.set_name("Bad Name"); }), "name");
  EXPECT_EQ(with([](auto& d) { d.mutable_schema()->mutable_proto()->set_message("acme.v1.Nope"); }), "schema.proto");
  EXPECT_EQ(with([](auto& d) { d.mutable_schema()->mutable_proto()->set_message(""); }), "schema.proto.message");
  EXPECT_EQ(with([](auto& d) { d.clear_schema(); }), "schema");
  EXPECT_EQ(with([](auto& d) {
              d.mutable_schema()->mutable_proto()->mutable_descriptor_set()->mutable_file(0)->add_dependency("gone.proto");
            }),
            "schema.proto");
  EXPECT_EQ(with([](auto& d) { d.mutable_handler()->mutable_http()->set_url("ftp://127.0.0.1/"); }), "handler.http.url");
  EXPECT_EQ(with([](auto& d) { d.mutable_handler()->mutable_exec(); }), "handler.exec.command");
  EXPECT_EQ(with([](auto& d) { d.mutable_handler()->set_builtin("noop"); }), "handler.builtin")
      << "another type's compiled-in code";
  EXPECT_EQ(with([](auto& d) { d.mutable_handler()->set_builtin("acme.reply"); }), "no error")
      << "its own, compiled into an SDK program";
  EXPECT_EQ(with([](auto& d) { d.clear_handler(); }), "handler");
  EXPECT_EQ(with([](auto& d) { d.set_priority(10); }), "priority");
  EXPECT_EQ(with([](auto& d) { d.mutable_retry()->set_max_attempts(1000); }), "retry.max_attempts");
  EXPECT_EQ(with([](auto& d) { d.mutable_limit()->set_rate(5); }), "limit.period_ms");
  EXPECT_EQ(with([](auto& d) { d.add_tenants("Not A Tenant!"); }), "tenants");
  EXPECT_EQ(FieldOf([] { SpecFromDefinition("\xff\xff"); }), "definition");
  EXPECT_EQ(FieldOf([] { CheckRegistration([] { auto d = Reply(); d.set_name("noop"); return d.SerializeAsString(); }(),
                                           TaskTypes::Builtin()); }),
            "name");
}

TEST(TypeDefinition, OnlyARealChangeIsANewVersion) {
  const std::string a = Reply().SerializeAsString();
  EXPECT_TRUE(SameDefinition(a, StampDefinition(a, 3, 1700000000000, false)));
  v1::TaskTypeDefinition changed = Reply();
  changed.set_priority(4);
  EXPECT_FALSE(SameDefinition(a, changed.SerializeAsString()));
}

TaskTypeSpec Version(uint32_t version, uint32_t priority, bool deleted) {
  v1::TaskTypeDefinition d = Reply();
  d.set_priority(priority);
  return SpecFromDefinition(StampDefinition(d.SerializeAsString(), version, 0, deleted));
}

TEST(TypeDefinition, TheRegistryKeepsEveryVersion) {
  TaskTypes types = TaskTypes::Builtin();
  std::vector<TaskTypeSpec> specs;
  specs.push_back(Version(1, 3, false));
  specs.push_back(Version(2, 6, false));
  types.SetRegistered(std::move(specs));
  EXPECT_EQ(types.Get("acme.reply")->version, 2u);
  EXPECT_EQ(types.Get("acme.reply")->default_priority, 6u);
  EXPECT_EQ(types.Get("acme.reply", 1)->default_priority, 3u);
  EXPECT_TRUE(types.Contains("acme.reply", 1));
  EXPECT_FALSE(types.Contains("acme.reply", 3));
  EXPECT_NE(types.Get("noop"), nullptr) << "compiled-in types stay";

  std::vector<TaskTypeSpec> after_delete;
  after_delete.push_back(Version(1, 3, false));
  after_delete.push_back(Version(2, 6, true));
  types.SetRegistered(std::move(after_delete));
  try {
    types.Get("acme.reply");
    ADD_FAILURE() << "a deleted type took a new task";
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("deleted"), std::string::npos) << e.what();
    EXPECT_EQ(e.field(), "type");
  }
  EXPECT_EQ(types.Get("acme.reply", 2)->default_priority, 6u) << "queued tasks of a deleted version still run";
}

// The store's contract, in memory: versions in order per name.
class MemoryTypeStore final : public TypeStore {
 public:
  std::pair<std::string, bool> Apply(const std::string& definition) override {
    auto& versions = by_name_[SpecFromDefinition(definition).name];
    versions.push_back(StampDefinition(definition, static_cast<uint32_t>(versions.size() + 1), 0, false));
    return {versions.back(), true};
  }
  bool Delete(const std::string&) override { return false; }
  std::vector<std::string> All() override {
    std::vector<std::string> out;
    for (const auto& [name, versions] : by_name_) out.insert(out.end(), versions.begin(), versions.end());
    return out;
  }
  std::vector<std::string> Versions(const std::string& name) override { return by_name_[name]; }

 private:
  std::map<std::string, std::vector<std::string>> by_name_;
};

std::vector<std::pair<std::string, uint32_t>> Listed(const TaskTypes& builtin, TypeStore& store, TypeQuery query) {
  std::vector<std::pair<std::string, uint32_t>> out;
  for (const auto& definition : ListDefinitions(builtin, store, query)) {
    v1::TaskTypeDefinition d;
    d.ParseFromString(definition);
    out.emplace_back(d.name(), d.version());
  }
  return out;
}

TEST(TypeDefinition, ListingShowsBuiltinsAndTheChosenVersions) {
  const TaskTypes builtin = TaskTypes::Builtin();
  MemoryTypeStore store;
  v1::TaskTypeDefinition d = Reply();
  store.Apply(d.SerializeAsString());
  d.set_priority(2);
  store.Apply(d.SerializeAsString());

  const auto all = Listed(builtin, store, {});
  EXPECT_EQ(all.back(), std::make_pair(std::string("acme.reply"), 2u)) << "latest only";
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const auto& p) { return p.first == "noop" && p.second == 0; }), 1);
  using Rows = std::vector<std::pair<std::string, uint32_t>>;
  EXPECT_EQ(Listed(builtin, store, {.name = "acme.reply", .all_versions = true}),
            (Rows{{"acme.reply", 1}, {"acme.reply", 2}}));
  EXPECT_EQ(Listed(builtin, store, {.name = "acme.reply", .version = 1}), (Rows{{"acme.reply", 1}}));
  EXPECT_EQ(Listed(builtin, store, {.name = "noop", .version = 4}), Rows{});
}

}  // namespace
}  // namespace fila
