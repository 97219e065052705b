#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "fila/core/handler.h"
#include "fila/core/key_limiter.h"
#include "fila/core/tenant.h"
#include "fila/http/http_client.h"
#include "fila/nfe/document_store.h"

namespace fila::nfe {

// Worker-side settings of nfe.download (never from the payload).
struct NfeConfig {
  std::string root;         // FILA_NFE_ROOT: every destination is under it
  std::string secrets_dir;  // FILA_SECRETS_DIR: files FILA_OMIE_<ACCOUNT>_APP_KEY/_APP_SECRET
  std::string api_url = "https://app.omie.com.br/api/v1";  // FILA_OMIE_API_URL
  uint32_t requests_per_minute = 240;  // FILA_OMIE_REQUESTS_PER_MINUTE, per account
  uint32_t max_concurrent = 4;         // FILA_OMIE_MAX_CONCURRENT, per account
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};  // FILA_OMIE_TIMEOUT_MS
  std::chrono::seconds max_wait{120};  // FILA_OMIE_MAX_WAIT_S
  // FILA_NFE_UPLOAD_TOKEN: bearer of the HTTP PUT, sent only to upload
  // targets bound to the task's tenant.
  std::string upload_token;
  // FILA_NFE_TRUST_BUNDLE: a PEM file of the CAs (ICP-Brasil) every
  // signer's chain must reach; unset, signatures are checked against their
  // embedded certificate only (verifier.h).
  std::string trust_bundle;
  // Throws PermanentError naming a variable that does not parse.
  static NfeConfig FromEnvironment();
};

// Requests one task sends at once, whatever the account allows.
inline constexpr uint32_t kMaxRequestsPerTask = 4;

// The nfe.download handler: list, download (at most 4 requests at once per
// task, the account's limits through `limiter` key "omie:<account>"),
// verify, store, zip, upload; returns the JSON report. The account and an
// upload URL must be bound to the task's tenant (`tenants`), and its files
// live under <root>/<tenant>/. Thread-safe: one instance serves every slot.
class NfeDownloadHandler final {
 public:
  NfeDownloadHandler(NfeConfig config, KeyLimiter& limiter, std::unique_ptr<DocumentStore> store,
                     TenantLookup tenants, std::unique_ptr<HttpClient> http = nullptr);
  ~NfeDownloadHandler();
  std::string Run(TaskContext& context);

 private:
  NfeConfig config_;
  KeyLimiter& limiter_;
  std::unique_ptr<DocumentStore> store_;
  TenantLookup tenants_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace fila::nfe
