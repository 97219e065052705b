#include "fila/nfe/nfe_handler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <vector>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/v1/nfe.pb.h"
#include "batch.h"
#include "file_store.h"
#include "stages.h"
#include "uploader.h"

namespace fila::nfe {
namespace {

int64_t EnvInt(const char* name, int64_t fallback, int64_t min, int64_t max) {
  const std::string text = EnvOr(name, "");
  if (text.empty()) return fallback;
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    if (used == text.size() && v >= min && v <= max) return v;
  } catch (const std::exception&) {
  }
  throw PermanentError(std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                       std::to_string(max));
}

// A request checked against the worker's configuration and the tenant's
// bindings, before any request leaves.
struct Job {
  v1::NfeDownloadPayload payload;
  Period period;
  std::string listing;  // ListarNF / ListarDocumentos
  std::string root;     // the tenant's folder under FILA_NFE_ROOT
  OmieCredentials credentials;
};

Job CheckRequest(const NfeConfig& config, const TenantLookup& tenants, const TaskContext& ctx) {
  Job job;
  const v1::NfeDownloadPayload& payload = job.payload;
  if (!job.payload.ParseFromString(ctx.Payload())) {
    throw PermanentError("payload is not an NfeDownloadPayload", "payload");
  }
  if (config.root.empty()) {
    throw PermanentError("this worker has no FILA_NFE_ROOT: set it to the folder that holds NF-e destinations");
  }
  job.period = ParsePeriod(payload.period());
  if (!SafeRelativePath(payload.destination())) {
    throw PermanentError("destination must be a folder relative to FILA_NFE_ROOT, without '..'",
                         "payload.destination");
  }
  if (payload.page_size() > 500) throw PermanentError("page_size must be at most 500", "payload.page_size");
  if (!payload.upload().empty()) ValidateUploadTarget(payload.upload());  // before any request
  job.listing = payload.listing().empty() ? "ListarNF" : payload.listing();
  if (job.listing != "ListarNF" && job.listing != "ListarDocumentos") {
    throw PermanentError("listing must be ListarNF or ListarDocumentos", "payload.listing");
  }
  // The payload names an account and maybe an upload URL; only what an
  // operator bound to this tenant may be used (checked at enqueue too, but
  // bindings change and not every producer path is the API).
  const TenantSettings tenant = tenants(ctx.Tenant());
  if (!tenant.Holds("omie_account", payload.account())) {
    throw PermanentError("account '" + payload.account() + "' is not bound to tenant '" + ctx.Tenant() + "'",
                         "payload.account");
  }
  const bool upload_url = payload.upload().rfind("http://", 0) == 0 || payload.upload().rfind("https://", 0) == 0;
  if (upload_url && !UrlUnderTargets(payload.upload(), tenant.Bound("upload_target"))) {
    throw PermanentError("upload URL is not under an upload target bound to tenant '" + ctx.Tenant() + "'",
                         "payload.upload");
  }
  if (!upload_url && !payload.upload().empty() && !SafeRelativePath(payload.upload())) {
    throw PermanentError("upload folder must be relative to the tenant's folder, without '..'", "payload.upload");
  }
  // Every file of the tenant lives under its own folder of the root.
  job.root = config.root + "/" + ctx.Tenant();
  job.credentials = LoadCredentials(payload.account(), config.secrets_dir);
  return job;
}

OmieOptions OmieOptionsOf(const NfeConfig& config) {
  OmieOptions options;
  options.base_url = config.api_url;
  options.account_limit = {.max_concurrent = config.max_concurrent,
                           .rate = config.requests_per_minute,
                           .period = std::chrono::seconds(60)};
  options.request_timeout = config.request_timeout;
  options.max_wait = config.max_wait;
  return options;
}

std::vector<InvoiceRef> List(TaskContext& ctx, OmieClient& client, const Job& job) {
  ctx.Progress(1, "listing " + job.listing + " " + job.period.text);
  ListingRequest request{job.listing, job.period, job.payload.page_size() == 0 ? 100u : job.payload.page_size()};
  return ListInvoices(client, request, [&ctx](int page, int pages) {
    ctx.Progress(std::min(4, 1 + page * 3 / std::max(pages, 1)),
                 "listed page " + std::to_string(page) + " of " + std::to_string(pages));
  });
}

// Fetches, verifies and stores one invoice.
Outcome Download(OmieClient& client, const StoreContext& store, const InvoiceRef& ref) {
  Outcome o;
  Fetched f = FetchXml(client, ref);
  if (!f.bytes) {
    o.state = Outcome::State::kMissing;
    o.reason = f.missing_reason;
  } else if (f.bytes->find_first_not_of(" \t\r\n") == std::string::npos) {
    o.state = Outcome::State::kEmpty;
  } else {
    o.verification = VerifyDocument(*f.bytes, store.verify);
    o.stored = StoreDocument(store, ref, *f.bytes, o.verification);
    o.state = Outcome::State::kStored;
  }
  return o;
}

}  // namespace

NfeConfig NfeConfig::FromEnvironment() {
  NfeConfig c;
  c.root = EnvOr("FILA_NFE_ROOT", "");
  c.secrets_dir = EnvOr("FILA_SECRETS_DIR", "");
  c.api_url = EnvOr("FILA_OMIE_API_URL", c.api_url);
  while (!c.api_url.empty() && c.api_url.back() == '/') c.api_url.pop_back();
  c.requests_per_minute = static_cast<uint32_t>(EnvInt("FILA_OMIE_REQUESTS_PER_MINUTE", 240, 1, 1000000));
  c.max_concurrent = static_cast<uint32_t>(EnvInt("FILA_OMIE_MAX_CONCURRENT", 4, 1, 1000));
  c.request_timeout = std::chrono::milliseconds(EnvInt("FILA_OMIE_TIMEOUT_MS", 30000, 100, 600000));
  c.max_wait = std::chrono::seconds(EnvInt("FILA_OMIE_MAX_WAIT_S", 120, 0, 86400));
  c.upload_token = EnvOr("FILA_NFE_UPLOAD_TOKEN", "");
  c.trust_bundle = VerifyOptions::FromEnvironment().trust_bundle;
  return c;
}

NfeDownloadHandler::NfeDownloadHandler(NfeConfig config, KeyLimiter& limiter,
                                       std::unique_ptr<DocumentStore> store, TenantLookup tenants,
                                       std::unique_ptr<HttpClient> http)
    : config_(std::move(config)),
      limiter_(limiter),
      store_(std::move(store)),
      tenants_(std::move(tenants)),
      http_(http ? std::move(http) : MakeHttpClient()) {}

NfeDownloadHandler::~NfeDownloadHandler() = default;

// check -> list -> download (fetch, verify, store each) -> summarise ->
// zip -> upload.
std::string NfeDownloadHandler::Run(TaskContext& ctx) {
  const auto started = SteadyClock::now();
  const Job job = CheckRequest(config_, tenants_, ctx);
  const v1::NfeDownloadPayload& payload = job.payload;
  std::atomic<bool> stop{false};  // a download failed: the others stop waiting on Omie
  auto cancelled = [&ctx, &stop] { return stop.load() || ctx.Cancelled(); };
  OmieClient client(*http_, limiter_, payload.account(), job.credentials, OmieOptionsOf(config_),
                    ctx.TaskDeadline(), cancelled);

  const std::vector<InvoiceRef> refs = List(ctx, client, job);

  // kMaxRequestsPerTask at once, on the worker's pool.
  const StoreContext store{job.root,   payload.destination(), payload.account(), ctx.TaskId(), job.period,
                           store_.get(), {.trust_bundle = config_.trust_bundle}};
  std::vector<Outcome> outcomes(refs.size());
  const size_t done = ctx.ForEach(
      refs.size(), kMaxRequestsPerTask,
      [&](size_t i) {
        try {
          outcomes[i] = Download(client, store, refs[i]);
        } catch (...) {
          stop = true;
          throw;
        }
      },
      [&ctx, &refs](size_t n) {
        ctx.Progress(5 + static_cast<int>(85 * n / std::max<size_t>(refs.size(), 1)),
                     "downloaded " + std::to_string(n) + " of " + std::to_string(refs.size()));
      });
  if (done < refs.size() || ctx.Cancelled()) {
    throw TransientError("nfe.download cancelled or timed out after " + std::to_string(done) + " of " +
                         std::to_string(refs.size()));
  }

  Batch batch = Summarise({payload.account(), job.period.text, job.listing, ctx.TaskId(), job.root}, refs, outcomes);
  ctx.Progress(92, "zipping " + std::to_string(batch.entries.size()) + " documents");
  const std::string zip_name = payload.account() + "_" + job.period.text + ".zip";
  const std::string zip_relative = payload.destination() + "/lotes/" + zip_name;
  WriteBatchZip(batch, job.root, zip_relative);

  if (!payload.upload().empty()) {
    ctx.Progress(96, "uploading " + zip_name);
    UploadResult up = UploadZip(*http_, job.root + "/" + zip_relative, zip_name, payload.upload(), job.root,
                                config_.upload_token, ctx.TaskDeadline(), cancelled);
    batch.report["upload"] = {{"target", up.target}, {"status", up.http_status}, {"attempts", up.attempts}};
  } else {
    batch.report["upload"] = nullptr;
  }
  const auto& counters = client.Counters();
  batch.report["requests"] = {{"total", counters.requests.load()}, {"retries", counters.retries.load()},
                              {"waits", counters.waits.load()}};
  batch.report["seconds"] = std::chrono::duration<double>(SteadyClock::now() - started).count();
  ctx.Progress(100, std::to_string(batch.valid) + " valid, " + std::to_string(batch.invalid) + " invalid, " +
                        std::to_string(batch.missing) + " missing");
  return batch.report.dump();
}

}  // namespace fila::nfe
