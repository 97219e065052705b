// The nfe.download handler in-process: payload checks, the whole flow
// against a scripted Omie, cancellation.
#include <gtest/gtest.h>

#include "fila/test_support/fake_task_context.h"
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "fila/nfe/nfe_handler.h"
#include "fila/v1/nfe.pb.h"
#include "file_store.h"
#include "nfe_fixtures.h"
#include "zip_batch.h"

namespace fila::nfe {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testing::Fixture;

// The shared fake (tests/support), as nfe.download sees it.
struct FakeContext : test::FakeTaskContext {
  explicit FakeContext(std::string payload) : test::FakeTaskContext(std::move(payload), 60s) {
    type = "nfe.download";
  }
};

// Answers by request content (the downloads run concurrently).
class FakeOmieHttp final : public HttpClient {
 public:
  HttpResponse Send(const HttpRequest& request) override {
    ++calls;
    HttpResponse r;
    r.status = 200;
    const json body = json::parse(request.body);
    const std::string call = body["call"];
    const json& p = body["param"][0];
    if (call == "ListarNF") {
      if (p["pagina"] != 1) {
        r.status = 500;
        r.body = R"({"faultstring":"ERROR: Não existem registros para a página [2]!","faultcode":"SOAP-ENV:Client-5113"})";
        return r;
      }
      r.body = json{{"pagina", 1}, {"total_de_paginas", 1}, {"registros", 2}, {"total_de_registros", 2},
                    {"nfCadastro", {{{"compl", {{"nIdNF", 1}}}}, {{"compl", {{"nIdNF", 3}}}}}}}
                   .dump();
    } else if (call == "ObterNfe") {
      const int id = p["nIdNfe"];
      const std::string xml = Fixture(id == 1 ? "02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml"
                                              : "synthetic/s5_procNFe_prod_resigned_TEST_KEY.xml");
      r.body = json{{"cCodStatus", "0"}, {"cXmlNfe", xml}}.dump();
    } else {
      r.status = 500;
      r.body = R"({"faultstring":"ERROR: ?","faultcode":"SOAP-ENV:Client-2"})";
    }
    return r;
  }
  std::atomic<int> calls{0};
};

class ListStore final : public DocumentStore {
 public:
  void Upsert(const DocumentRow& row) override {
    std::lock_guard lock(mutex_);
    rows.push_back(row);
  }
  std::vector<DocumentRow> rows;

 private:
  std::mutex mutex_;
};

class NfeHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/nfe_handler_" + std::to_string(::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ::setenv("FILA_OMIE_UNIT_APP_KEY", "k", 1);
    ::setenv("FILA_OMIE_UNIT_APP_SECRET", "s", 1);
  }
  std::unique_ptr<NfeDownloadHandler> Make(std::string root) {
    NfeConfig config;
    config.root = std::move(root);
    config.api_url = "http://omie.test/api/v1";
    auto http = std::make_unique<FakeOmieHttp>();
    http_ = http.get();
    auto store = std::make_unique<ListStore>();
    store_ = store.get();
    // Tenant "default" (FakeContext's) holds account "unit" and one upload target.
    TenantLookup tenants = [](const std::string& name) {
      TenantSettings t;
      t.name = name;
      if (name == "default") {
        t.exists = true;
        t.bindings["omie_account"] = {"unit"};
        t.bindings["upload_target"] = {"https://dav.test/default"};
      }
      return t;
    };
    return std::make_unique<NfeDownloadHandler>(config, *limiter_, std::move(store), std::move(tenants),
                                                std::move(http));
  }
  static std::string Payload(const std::string& account, const std::string& period, const std::string& dest,
                             uint32_t page_size = 0, const std::string& listing = "") {
    v1::NfeDownloadPayload p;
    p.set_account(account);
    p.set_period(period);
    p.set_destination(dest);
    p.set_page_size(page_size);
    p.set_listing(listing);
    return p.SerializeAsString();
  }
  static std::string WithUpload(const std::string& payload, const std::string& upload) {
    v1::NfeDownloadPayload p;
    p.ParseFromString(payload);
    p.set_upload(upload);
    return p.SerializeAsString();
  }
  std::string root_;
  std::unique_ptr<KeyLimiter> limiter_ = MakeLocalKeyLimiter();
  FakeOmieHttp* http_ = nullptr;
  ListStore* store_ = nullptr;
};

TEST_F(NfeHandlerTest, BadPayloadsArePermanentAndNameTheField) {
  auto handler = Make(root_);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Payload("unit", "2026-13", "d"), "payload.period"},
      {Payload("unit", "2026-10", "../d"), "payload.destination"},
      {Payload("unit", "2026-10", "/abs"), "payload.destination"},
      {Payload("unit", "2026-10", ""), "payload.destination"},
      {Payload("unit", "2026-10", "d", 501), "payload.page_size"},
      {Payload("unit", "2026-10", "d", 0, "ListarTudo"), "payload.listing"},
      {Payload("", "2026-10", "d"), "payload.account"},
      {Payload("no_such", "2026-10", "d"), "payload.account"},
      {Payload("unbound", "2026-10", "d"), "payload.account"},
      {std::string("\xff\xff\xff", 3), "payload"},
      // Upload targets are checked before the first request to Omie.
      {WithUpload(Payload("unit", "2026-10", "d"), "https://up.example/" + std::string(9000, 'a')),
       "payload.upload"},
      {WithUpload(Payload("unit", "2026-10", "d"), std::string(9000, 'a')), "payload.upload"},
      {WithUpload(Payload("unit", "2026-10", "d"), "http://exa mple.com/"), "payload.upload"},
      {WithUpload(Payload("unit", "2026-10", "d"), "../elsewhere"), "payload.upload"},
  };
  for (const auto& [payload, field] : cases) {
    FakeContext ctx(payload);
    try {
      handler->Run(ctx);
      ADD_FAILURE() << "no error for " << field;
    } catch (const PermanentError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  }
  EXPECT_EQ(http_->calls.load(), 0);
}

TEST_F(NfeHandlerTest, WorkerWithoutRootRefusesClearly) {
  auto handler = Make("");
  FakeContext ctx(Payload("unit", "2026-10", "d"));
  try {
    handler->Run(ctx);
    FAIL();
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("FILA_NFE_ROOT"), std::string::npos);
  }
}

TEST_F(NfeHandlerTest, ListsDownloadsVerifiesStoresZipsAndReports) {
  auto handler = Make(root_);
  FakeContext ctx(Payload("unit", "2018-09", "out"));
  const json report = json::parse(handler->Run(ctx));
  EXPECT_EQ(report["listed"], 2);
  EXPECT_EQ(report["downloaded"], 2);
  EXPECT_EQ(report["valid"], 2);
  EXPECT_EQ(report["invalid_count"], 0);
  EXPECT_EQ(report["requests"]["total"], 3);
  EXPECT_EQ(ctx.last_progress(), 100);
  ASSERT_EQ(store_->rows.size(), 2u);
  // Under the tenant's own folder.
  EXPECT_TRUE(fs::exists(root_ + "/default/out/06117473000150/2018-09/41170706117473000150550010000463201612756527.xml"));
  const auto names = ZipNames(root_ + "/default/" + report["zip"]["path"].get<std::string>());
  EXPECT_EQ(names.size(), 3u);
  EXPECT_TRUE(report["upload"].is_null());
}

TEST_F(NfeHandlerTest, UploadUrlsOutsideTheTenantsTargetsAreRefusedBeforeAnyRequest) {
  auto handler = Make(root_);
  for (const char* url : {"https://capture.test/x", "https://dav.test/defaultx", "https://dav.test/default/../other",
                          "http://dav.test/default", "https://user:pw@dav.test/default"}) {
    v1::NfeDownloadPayload p;
    p.ParseFromString(Payload("unit", "2018-09", "out"));
    p.set_upload(url);
    FakeContext ctx(p.SerializeAsString());
    try {
      handler->Run(ctx);
      ADD_FAILURE() << "no error for " << url;
    } catch (const PermanentError& e) {
      EXPECT_EQ(e.field(), "payload.upload") << url << ": " << e.what();
    }
  }
  EXPECT_EQ(http_->calls.load(), 0);
}

TEST_F(NfeHandlerTest, CancelledTaskStopsWithATransientError) {
  auto handler = Make(root_);
  FakeContext ctx(Payload("unit", "2018-09", "out"));
  ctx.cancel = true;
  EXPECT_THROW(handler->Run(ctx), TransientError);
  EXPECT_EQ(http_->calls.load(), 0);
}

}  // namespace
}  // namespace fila::nfe
