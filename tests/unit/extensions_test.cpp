// The extension mechanism (fila/extension.h) and fila's own kinds through
// it: core alone knows no kind; installing the list brings their types,
// binding kinds and commands; a clash is refused.
#include "fila/core/extension.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fila/core/handler.h"
#include "fila/core/task_request.h"
#include "fila/core/tenant_gate.h"
#include "fila/core/type_definition.h"
#include "fila/extensions/extensions.h"
#include "fila/v1/types.pb.h"

namespace fila {
namespace {

class Extensions : public ::testing::Test {
 protected:
  void SetUp() override { InstallExtensions(BuiltinExtensions()); }
  void TearDown() override { InstallExtensions({}); }
};

bool HasKind(const std::string& name) {
  const auto& kinds = BindingKinds();
  return std::any_of(kinds.begin(), kinds.end(), [&](const BindingKind& k) { return k.name == name; });
}

TEST(ExtensionsCore, CoreAloneKnowsNoKind) {
  InstallExtensions({});
  EXPECT_EQ(TaskTypes::Builtin().Names(), std::vector<std::string>{"noop"});
  ASSERT_EQ(BindingKinds().size(), 1u);
  EXPECT_EQ(BindingKinds().front().name, "queue");
  EXPECT_THROW(FindBindingKind("omie_account"), PermanentError);
}

TEST_F(Extensions, TheListBringsTheKindsTypesBindingKindsAndCommands) {
  const TaskTypes types = TaskTypes::Builtin();
  for (const char* type : {"noop", "document.ingest", "nfe.download", "diario.process"}) {
    EXPECT_TRUE(types.Contains(type)) << type;
  }
  EXPECT_EQ(types.Get("nfe.download")->default_queue, "nfe");
  for (const char* kind : {"queue", "omie_account", "upload_target", "document_root"}) {
    EXPECT_TRUE(HasKind(kind)) << kind;
  }
  std::vector<std::string> commands;
  for (const auto& e : InstalledExtensions()) {
    for (const auto& c : e.commands) {
      std::string path;
      for (const auto& word : c.path) path += (path.empty() ? "" : " ") + word;
      if (c.run) commands.push_back(path);
    }
  }
  std::sort(commands.begin(), commands.end());
  EXPECT_EQ(commands, (std::vector<std::string>{"diario backfill", "diario stats", "diario status",
                                               "document chunk", "document language", "nfe verify", "search"}));
  // Each kind's payload message is linked in and checks payloads.
  EXPECT_THROW(types.PayloadFromJson("diario.process", R"({"tribunal": 5, "nope": 1})"), PermanentError);
}

TEST_F(Extensions, BindingValuesAreCheckedByTheirKind) {
  EXPECT_NO_THROW(FindBindingKind("omie_account").validate("ACME_1"));
  EXPECT_THROW(FindBindingKind("omie_account").validate("../x"), PermanentError);
  EXPECT_NO_THROW(FindBindingKind("document_root").validate("shared/policies"));
  for (const char* bad : {"/etc", "a/../b", "..", "a//b", "a b"}) {
    EXPECT_THROW(FindBindingKind("document_root").validate(bad), PermanentError) << bad;
  }
  EXPECT_NO_THROW(FindBindingKind("upload_target").validate("https://dav.acme.example/nfe"));
  EXPECT_THROW(FindBindingKind("upload_target").validate("https://u:p@dav/x"), PermanentError);
  EXPECT_TRUE(FindBindingKind("omie_account").exclusive);
  EXPECT_FALSE(FindBindingKind("upload_target").exclusive);
}

NewTask Nfe(const std::string& tenant, const std::string& account, const std::string& upload,
            const std::string& queue = "") {
  TaskRequest r;
  r.type = "nfe.download";
  r.tenant = tenant;
  r.queue = queue;
  r.payload_form = TaskRequest::PayloadForm::kJson;
  r.payload = R"({"account":")" + account + R"(","period":"2026-10","destination":"d","upload":")" + upload + "\"}";
  return PrepareTask(r, TaskTypes::Builtin(), {});
}

TEST_F(Extensions, TasksMayNameOnlyWhatTheirTenantHolds) {
  const TaskTypes types = TaskTypes::Builtin();
  TenantSettings acme;
  acme.name = "acme";
  acme.bindings["omie_account"] = {"ACME"};
  acme.bindings["upload_target"] = {"https://dav.acme.example/nfe"};
  acme.bindings["queue"] = {"nfe-bulk"};
  EXPECT_NO_THROW(CheckTenantUse(Nfe("acme", "ACME", "https://dav.acme.example/nfe"), types, acme,
                                 QueueRule::kProducer));
  EXPECT_NO_THROW(CheckTenantUse(Nfe("acme", "ACME", "lotes"), types, acme, QueueRule::kProducer));
  auto field_of = [&](const NewTask& t, QueueRule rule) {
    try {
      CheckTenantUse(t, types, acme, rule);
    } catch (const PermissionDenied& e) {
      return e.field();
    }
    return std::string("(allowed)");
  };
  EXPECT_EQ(field_of(Nfe("acme", "GLOBEX", ""), QueueRule::kProducer), "payload.account");
  EXPECT_EQ(field_of(Nfe("acme", "ACME", "http://127.0.0.1:9/capture"), QueueRule::kAnyQueue),
            "payload.upload");
  EXPECT_EQ(field_of(Nfe("acme", "ACME", "", "nfe-bulk"), QueueRule::kProducer), "(allowed)");
  EXPECT_EQ(field_of(Nfe("acme", "ACME", "", "anything"), QueueRule::kProducer), "queue");
  EXPECT_EQ(field_of(Nfe("acme", "ACME", "", "anything"), QueueRule::kAnyQueue), "(allowed)");
}

TEST(ExtensionsCore, ClashesAreRefused) {
  InstallExtensions({});
  auto with_type = [](const std::string& extension, const std::string& type) {
    Extension e;
    e.name = extension;
    e.types.push_back({.name = type, .payload_message = "fila.v1.NoopPayload"});
    return e;
  };
  EXPECT_THROW(InstallExtensions({with_type("a", "noop")}), PermanentError);
  EXPECT_THROW(InstallExtensions({with_type("a", "sleep")}), PermanentError) << "test types are core's too";
  EXPECT_THROW(InstallExtensions({with_type("a", "x.y"), with_type("b", "x.y")}), PermanentError);
  EXPECT_THROW(InstallExtensions({with_type("a", "x.y"), with_type("a", "x.z")}), PermanentError);
  EXPECT_THROW(InstallExtensions({with_type("A b", "x.y")}), PermanentError);
  Extension kind;
  kind.name = "k";
  kind.binding_kinds.push_back({"queue", "again", false, [](std::string_view) {}});
  EXPECT_THROW(InstallExtensions({kind}), PermanentError);
  kind.binding_kinds = {{"mine", "no check", false, nullptr}};
  EXPECT_THROW(InstallExtensions({kind}), PermanentError);
  // A refused set leaves the installed one as it was.
  EXPECT_EQ(TaskTypes::Builtin().Names(), std::vector<std::string>{"noop"});
  EXPECT_NO_THROW(InstallExtensions({with_type("a", "x.y")}));
  EXPECT_TRUE(TaskTypes::Builtin().Contains("x.y"));
  InstallExtensions({});
}

// An extension's HTTP route lives under /v1/<its name>/: it can shadow no
// core route and no other extension's.
TEST(ExtensionsCore, RoutesStayUnderTheirExtensionsName) {
  auto with_route = [](const std::string& extension, const std::string& path) {
    Extension e;
    e.name = extension;
    e.routes.push_back({.path = path, .get = [](const ApiRouteCall& c) { return "\"" + c.tenant + "\""; }});
    return e;
  };
  EXPECT_THROW(InstallExtensions({with_route("a", "/v1/tasks")}), PermanentError);
  EXPECT_THROW(InstallExtensions({with_route("a", "/v1/b/x")}), PermanentError);
  EXPECT_THROW(InstallExtensions({with_route("a", "/v1/a")}), PermanentError);
  Extension no_answer = with_route("a", "/v1/a/x");
  no_answer.routes[0].get = nullptr;
  EXPECT_THROW(InstallExtensions({no_answer}), PermanentError);
  InstallExtensions({with_route("a", "/v1/a/x")});
  const ApiRoute* route = FindExtensionRoute("/v1/a/x");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->get({.database_url = "", .tenant = "acme", .query = {}}), "\"acme\"");
  EXPECT_EQ(FindExtensionRoute("/v1/a/y"), nullptr);
  InstallExtensions({});
  EXPECT_EQ(FindExtensionRoute("/v1/a/x"), nullptr);
}

// A type registered as data may run a handler compiled into the workers of
// its queue (a program on the C++ SDK), under its own name only.
TEST(ExtensionsCore, ARegisteredTypeMayNameItsOwnBuiltinHandler) {
  v1::TaskTypeDefinition d;
  d.set_name("acme.resize");
  d.mutable_schema()->set_any_json(true);
  d.mutable_handler()->set_builtin("acme.resize");
  const TaskTypeSpec spec = SpecFromDefinition(d.SerializeAsString());
  EXPECT_EQ(spec.handler.kind, HandlerSpec::Kind::kBuiltin);
  HandlerRegistry handlers;
  EXPECT_EQ(handlers.For(spec), nullptr) << "a worker without the handler has none";
  handlers.Register("acme.resize", [](TaskContext&) { return std::string("ok"); });
  EXPECT_NE(handlers.For(spec), nullptr);

  d.mutable_handler()->set_builtin("noop");
  try {
    SpecFromDefinition(d.SerializeAsString());
    ADD_FAILURE() << "another type's handler was accepted";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.field(), "handler.builtin");
  }
}

}  // namespace
}  // namespace fila
