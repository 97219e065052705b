// Task types as data against a real scheduler and PostgreSQL: `fila types
// apply -f` with a .proto schema, versions, enqueue validated against the
// registered version (the field named), bad schemas, /v1/types for
// operators and producers, and deleting a type with tasks queued (a real
// worker still runs them, through an exec handler).
#include <filesystem>
#include <fstream>

#include "api_fixture.h"

namespace fila::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kReplyProto = R"(syntax = "proto3";
package acme.v1;
message Reply {
  string phone = 1;
  string text = 2;
  int32 tries = 3;
}
)";

class Types : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    dir_ = fs::temp_directory_path() / RandomName("fila-types-");
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  RunResult Fila(std::vector<std::string> args) { return RunFila("fila", std::move(args), {{"FILA_DATABASE_URL", db_->url()}}); }

  // acme.reply with `priority` (a change of it is a new version).
  RunResult ApplyReply(int priority) {
    Write("reply.proto", kReplyProto);
    Write("types.yaml", "types:\n"
                        "  - name: acme.reply\n"
                        "    queue: default\n"
                        "    schema: {proto: reply.proto, message: acme.v1.Reply}\n"
                        "    priority: " + std::to_string(priority) + "\n"
                        "    timeout: 30s\n"
                        "    retry: {max_attempts: 4, base: 1s, cap: 10s}\n"
                        "    handler: {exec: {command: [cat], concurrency: 2}}\n");
    return Fila({"types", "apply", "-f", (dir_ / "types.yaml").string()});
  }

  HttpResult Enqueue(const std::string& token, const std::string& type, const std::string& args) {
    return Call("POST", "/v1/tasks", token, R"({"type":")" + type + R"(","args":)" + args + "}");
  }

  fs::path dir_;
};

TEST_F(Types, ApplyRegistersAVersionOnlyWhenTheDefinitionChanges) {
  auto first = ApplyReply(5);
  ASSERT_EQ(first.ExitCode(), 0) << first.err;
  EXPECT_NE(first.out.find("acme.reply"), std::string::npos) << first.out;
  auto same = ApplyReply(5);
  ASSERT_EQ(same.ExitCode(), 0) << same.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_types WHERE name = 'acme.reply'"), 1);
  auto changed = ApplyReply(7);
  ASSERT_EQ(changed.ExitCode(), 0) << changed.err;
  EXPECT_EQ(db_->Count("SELECT max(version) FROM task_types WHERE name = 'acme.reply'"), 2);

  auto list = Fila({"types", "list"});
  ASSERT_EQ(list.ExitCode(), 0) << list.err;
  EXPECT_NE(list.out.find("acme.reply  v2"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("noop"), std::string::npos) << "built-in types are listed the same way: " << list.out;
  auto v1 = Call("GET", "/v1/types/acme.reply?version=1", operator_);
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(JsonField(v1.body, "priority"), "5");
  auto latest = Call("GET", "/v1/types/acme.reply", operator_);
  EXPECT_EQ(JsonField(latest.body, "version"), "2");
  EXPECT_EQ(JsonField(latest.body, "priority"), "7");
}

TEST_F(Types, EnqueueIsValidatedAgainstTheRegisteredVersionNamingTheField) {
  ASSERT_EQ(ApplyReply(5).ExitCode(), 0);
  auto wrong_type = Enqueue(acme_, "acme.reply", R"({"phone":"+55 11 5555","tries":"many"})");
  EXPECT_EQ(wrong_type.status, 400) << wrong_type.body;
  EXPECT_NE(wrong_type.body.find("tries"), std::string::npos) << wrong_type.body;
  auto unknown = Enqueue(acme_, "acme.reply", R"({"phone":"+55 11 5555","colour":"red"})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_NE(unknown.body.find("colour"), std::string::npos) << unknown.body;
  auto not_object = Enqueue(acme_, "acme.reply", R"([1,2])");
  EXPECT_EQ(not_object.status, 400) << not_object.body;

  auto ok = Enqueue(acme_, "acme.reply", R"({"phone":"+55 11 5555","text":"olá","tries":2})");
  ASSERT_EQ(ok.status, 201) << ok.body;
  const std::string first = JsonField(ok.body, "id");
  auto shown = Call("GET", "/v1/tasks/" + first, acme_);
  EXPECT_EQ(JsonField(shown.body, "type_version"), "1") << shown.body;
  EXPECT_EQ(JsonField(shown.body, "priority"), "5") << "the type's default priority: " << shown.body;
  auto explicit_zero = Enqueue(acme_, "acme.reply", R"({"phone":"0"},"priority":0)");
  ASSERT_EQ(explicit_zero.status, 201) << explicit_zero.body;
  EXPECT_EQ(db_->Count("SELECT priority FROM tasks WHERE id = '" + JsonField(explicit_zero.body, "id") + "'"), 0);

  ASSERT_EQ(ApplyReply(8).ExitCode(), 0);
  std::string second;
  ASSERT_TRUE(WaitFor([&] {  // the scheduler refreshes its types within 5 s
    second = JsonField(Enqueue(acme_, "acme.reply", R"({"phone":"+55 11 5556"})").body, "id");
    return !second.empty() && db_->Count("SELECT type_version FROM tasks WHERE id = '" + second + "'") == 2;
  }, std::chrono::seconds(10)));
  EXPECT_EQ(db_->Count("SELECT priority FROM tasks WHERE id = '" + second + "'"), 8);
  EXPECT_EQ(db_->Count("SELECT type_version FROM tasks WHERE id = '" + first + "'"), 1);
  shown = Call("GET", "/v1/tasks/" + first, acme_);
  EXPECT_EQ(JsonField(shown.body, "type_version"), "1");
  EXPECT_NE(shown.body.find("olá"), std::string::npos) << "the payload rendered with its own version: " << shown.body;
}

TEST_F(Types, BadDefinitionsAreRefusedNamingWhatIsWrong) {
  Write("broken.proto", "syntax = \"proto3\";\nmessage Broken { string a = 1 }\n");
  Write("broken.yaml", "name: acme.broken\nschema: {proto: broken.proto, message: Broken}\n"
                       "handler: {http: {url: 'http://127.0.0.1:9/'}}\n");
  auto broken = Fila({"types", "apply", "-f", (dir_ / "broken.yaml").string()});
  EXPECT_NE(broken.ExitCode(), 0);
  EXPECT_NE(broken.err.find("broken.proto:2"), std::string::npos) << "file and line: " << broken.err;

  Write("reply.proto", kReplyProto);
  Write("missing.yaml", "name: acme.missing\nschema: {proto: reply.proto, message: acme.v1.Nope}\n"
                        "handler: {http: {url: 'http://127.0.0.1:9/'}}\n");
  auto missing = Fila({"types", "apply", "-f", (dir_ / "missing.yaml").string()});
  EXPECT_NE(missing.ExitCode(), 0);
  EXPECT_NE(missing.err.find("acme.v1.Nope"), std::string::npos) << missing.err;

  Write("builtin.yaml", "name: noop\nschema: {any_json: true}\nhandler: {http: {url: 'http://127.0.0.1:9/'}}\n");
  auto builtin = Fila({"types", "apply", "-f", (dir_ / "builtin.yaml").string()});
  EXPECT_NE(builtin.ExitCode(), 0);
  EXPECT_NE(builtin.err.find("built-in"), std::string::npos) << builtin.err;

  Write("unknown.yaml", "name: acme.x\nschema: {any_json: true}\nhandlr: {http: {url: 'http://127.0.0.1:9/'}}\n");
  auto unknown = Fila({"types", "apply", "-f", (dir_ / "unknown.yaml").string()});
  EXPECT_NE(unknown.ExitCode(), 0);
  EXPECT_NE(unknown.err.find("handlr"), std::string::npos) << unknown.err;

  auto bad_url = Call("PUT", "/v1/types/acme.y", operator_,
                      R"({"schema":{"any_json":true},"handler":{"http":{"url":"ftp://127.0.0.1/"}}})");
  EXPECT_EQ(bad_url.status, 400) << bad_url.body;
  EXPECT_EQ(JsonField(bad_url.body, "field"), "handler.http.url") << bad_url.body;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_types"), 0) << "nothing half-registered";
}

TEST_F(Types, ProducersReadTheirTenantsTypesWithoutHandlerAndCannotWrite) {
  const std::string body =
      R"({"schema":{"any_json":true},"handler":{"http":{"url":"http://10.1.2.3:8080/secret-path"}},"tenants":["acme"]})";
  auto put = Call("PUT", "/v1/types/acme.only", operator_, body);
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(Call("PUT", "/v1/types/acme.only", operator_, body).status, 200) << "unchanged: no new version";
  EXPECT_EQ(Call("PUT", "/v1/types/acme.mine", acme_, body).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/types/acme.only", acme_).status, 403);

  auto acme = Call("GET", "/v1/types", acme_);
  ASSERT_EQ(acme.status, 200) << acme.body;
  EXPECT_NE(acme.body.find("acme.only"), std::string::npos) << acme.body;
  EXPECT_EQ(acme.body.find("10.1.2.3"), std::string::npos) << "a producer sees no handler address: " << acme.body;
  EXPECT_EQ(acme.body.find("\"tenants\""), std::string::npos) << acme.body;
  auto globex = Call("GET", "/v1/types", globex_);
  ASSERT_EQ(globex.status, 200);
  EXPECT_EQ(globex.body.find("acme.only"), std::string::npos) << globex.body;
  EXPECT_NE(globex.body.find("noop"), std::string::npos) << globex.body;
  EXPECT_EQ(Call("GET", "/v1/types/acme.only", globex_).status, 404);
  auto ops = Call("GET", "/v1/types/acme.only", operator_);
  EXPECT_NE(ops.body.find("10.1.2.3"), std::string::npos) << ops.body;

  auto foreign = Enqueue(globex_, "acme.only", "{}");
  EXPECT_EQ(foreign.status, 400) << "another tenant's type does not exist for it: " << foreign.body;
  EXPECT_NE(foreign.body.find("unknown task type"), std::string::npos) << foreign.body;
  EXPECT_EQ(Enqueue(acme_, "acme.only", R"({"anything":[1,{"goes":true}]})").status, 201);
}

// Before the depth check, 10,000 nested arrays in an any-JSON payload took
// protobuf's parser 3 s (quadratic): 30,000 would hold an API thread ~30 s.
TEST_F(Types, DeeplyNestedAnyJsonPayloadsAreRefusedAtOnce) {
  ASSERT_EQ(Call("PUT", "/v1/types/acme.any", operator_,
                 R"({"schema":{"any_json":true},"handler":{"http":{"url":"http://127.0.0.1:9/"}}})").status, 201);
  const std::string deep = std::string(30000, '[') + std::string(30000, ']');
  auto r = Enqueue(acme_, "acme.any", R"({"a":)" + deep + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("nested deeper than"), std::string::npos) << r.body;
  auto direct = Call("POST", "/v1/tasks", acme_, std::string(30000, '[') + std::string(30000, ']'));
  EXPECT_EQ(direct.status, 400) << "any request body: " << direct.body;
  EXPECT_EQ(Enqueue(acme_, "acme.any", R"({"a":[[[{"b":[1]}]]]})").status, 201) << "ordinary nesting is fine";
}

TEST_F(Types, DeletingATypeRefusesNewTasksAndKeepsTheQueuedOnes) {
  ASSERT_EQ(ApplyReply(5).ExitCode(), 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = Enqueue(acme_, "acme.reply", R"({"phone":"1"})");
    ASSERT_EQ(r.status, 201) << r.body;
    ids.push_back(JsonField(r.body, "id"));
  }
  auto del = Fila({"types", "delete", "acme.reply"});
  ASSERT_EQ(del.ExitCode(), 0) << del.err;
  EXPECT_EQ(Call("DELETE", "/v1/types/acme.reply", operator_).status, 404) << "already deleted";
  EXPECT_EQ(Call("DELETE", "/v1/types/noop", operator_).status, 400) << "built-in types stay";
  HttpResult refused;
  int accepted_meanwhile = 0;  // the scheduler refreshes its types within 5 s
  ASSERT_TRUE(WaitFor([&] {
    refused = Enqueue(acme_, "acme.reply", R"({"phone":"1"})");
    accepted_meanwhile += refused.status == 201;
    return refused.status == 400;
  }, std::chrono::seconds(10))) << refused.body;
  EXPECT_NE(refused.body.find("deleted"), std::string::npos) << refused.body;
  EXPECT_EQ(JsonField(refused.body, "field"), "type");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE type = 'acme.reply' AND state = 'queued'"), 3 + accepted_meanwhile);
  auto shown = Call("GET", "/v1/tasks/" + ids[0], acme_);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_NE(shown.body.find("phone"), std::string::npos) << "a deleted version still renders: " << shown.body;
  // A worker runs them: the deleted version still has its handler (`cat`:
  // the payload comes back as the result).
  Process worker("fila-worker", {"--queues", "default", "--concurrency", "2"},
                 {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", Stack().amqp_url}});
  ASSERT_TRUE(WaitFor([&] {
    return db_->Count("SELECT count(*) FROM tasks WHERE type = 'acme.reply' AND state <> 'succeeded'") == 0;
  }, std::chrono::seconds(30))) << worker.Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE outcome <> 'succeeded'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE convert_from(result, 'UTF8') LIKE '%\"phone\"%'"),
            3 + accepted_meanwhile);
  // Applying it again starts a new version; the old tasks keep theirs.
  ASSERT_EQ(ApplyReply(5).ExitCode(), 0);
  EXPECT_EQ(db_->Count("SELECT max(version) FROM task_types WHERE name = 'acme.reply'"), 2);
}

}  // namespace
}  // namespace fila::test
