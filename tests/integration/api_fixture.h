#pragma once

// A fila-scheduler serving the HTTP API on a free port, against a fresh
// database, with one producer token per tenant and an operator token.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/harness.h"

namespace fila::test {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    port_ = FreePort();
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    acme_ = Token("acme", "producer");
    globex_ = Token("globex", "producer");
    operator_ = Token("ops", "operator");
    scheduler_ = std::make_unique<Process>(
        "fila-scheduler",
        std::vector<std::string>{"--api-listen", "127.0.0.1:" + std::to_string(port_),
                                 "--max-payload-bytes", "65536", "--api-token-cache-ms", "200"},
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()},
                                           {"FILA_AMQP_URL", Stack().amqp_url}});
    ASSERT_TRUE(WaitFor([&] { return Http("GET", base_ + "/v1/queues").status != 0; },
                        std::chrono::seconds(20)))
        << scheduler_->Stderr();
  }

  std::string Token(const std::string& tenant, const std::string& role) {
    auto r = RunFila("fila", {"tokens", "create", "--tenant", tenant, "--role", role},
                     {{"FILA_DATABASE_URL", db_->url()}});
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    std::string token = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(token.rfind("fila_", 0), 0u) << token;
    return token;
  }

  // What an operator binds to a tenant (fila tenants bind).
  void Bind(const std::string& tenant, const std::string& kind, const std::string& value) {
    auto r = RunFila("fila", {"tenants", "bind", tenant, kind, value}, {{"FILA_DATABASE_URL", db_->url()}});
    ASSERT_EQ(r.ExitCode(), 0) << r.err;
  }

  HttpResult Call(const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = "",
                  const std::string& content_type = "application/json") {
    std::vector<std::string> headers{"Content-Type: " + content_type};
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    return Http(method, base_ + path, headers, body);
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Process> scheduler_;
  int port_ = 0;
  std::string base_;
  std::string acme_, globex_, operator_;
};

// The value of "key":"value" (or "key":number) in a flat JSON text.
inline std::string JsonField(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return {};
  pos += key.size() + 3;
  if (json[pos] == '"') {
    auto end = json.find('"', pos + 1);
    return json.substr(pos + 1, end - pos - 1);
  }
  auto end = json.find_first_of(",}", pos);
  return json.substr(pos, end - pos);
}

}  // namespace fila::test
