#include "fila/nfe/nfe_handler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "fila/config.h"
#include "fila/errors.h"
#include "fila/v1/nfe.pb.h"
#include "file_store.h"
#include "stages.h"
#include "uploader.h"
#include "zip_batch.h"

namespace fila::nfe {
namespace {

using nlohmann::json;

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

// What became of one listed invoice.
struct Outcome {
  enum class State { kPending, kStored, kEmpty, kMissing } state = State::kPending;
  Verification verification;
  StoredDocument stored;
  std::string reason;
};

json Ref(const InvoiceRef& ref) {
  json j = {{"omie_id", ref.omie_id}, {"key", ref.key}};
  if (!ref.status.empty()) j["erp_status"] = ref.status;
  return j;
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

std::string NfeDownloadHandler::Run(TaskContext& ctx) {
  const auto started = SteadyClock::now();
  v1::NfeDownloadPayload payload;
  if (!payload.ParseFromString(ctx.Payload())) throw PermanentError("payload is not an NfeDownloadPayload", "payload");
  if (config_.root.empty()) {
    throw PermanentError("this worker has no FILA_NFE_ROOT: set it to the folder that holds NF-e destinations");
  }
  const Period period = ParsePeriod(payload.period());
  if (!SafeRelativePath(payload.destination())) {
    throw PermanentError("destination must be a folder relative to FILA_NFE_ROOT, without '..'",
                         "payload.destination");
  }
  if (payload.page_size() > 500) throw PermanentError("page_size must be at most 500", "payload.page_size");
  if (!payload.upload().empty()) ValidateUploadTarget(payload.upload());  // before any request
  const std::string listing = payload.listing().empty() ? "ListarNF" : payload.listing();
  if (listing != "ListarNF" && listing != "ListarDocumentos") {
    throw PermanentError("listing must be ListarNF or ListarDocumentos", "payload.listing");
  }
  // The payload names an account and maybe an upload URL; only what an
  // operator bound to this tenant may be used (checked at enqueue too, but
  // bindings change and not every producer path is the API).
  const TenantSettings tenant = tenants_(ctx.Tenant());
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
  const std::string root = config_.root + "/" + ctx.Tenant();
  const OmieCredentials credentials = LoadCredentials(payload.account(), config_.secrets_dir);

  OmieOptions options;
  options.base_url = config_.api_url;
  options.account_limit = {.max_concurrent = config_.max_concurrent,
                           .rate = config_.requests_per_minute,
                           .period = std::chrono::seconds(60)};
  options.request_timeout = config_.request_timeout;
  options.max_wait = config_.max_wait;
  std::atomic<bool> stop{false};
  auto cancelled = [&ctx, &stop] { return stop.load() || ctx.Cancelled(); };
  OmieClient client(*http_, limiter_, payload.account(), credentials, options, ctx.TaskDeadline(), cancelled);

  // Stage 1: list.
  ctx.Progress(1, "listing " + listing + " " + period.text);
  ListingRequest request{listing, period, payload.page_size() == 0 ? 100u : payload.page_size()};
  const std::vector<InvoiceRef> refs = ListInvoices(client, request, [&ctx](int page, int pages) {
    ctx.Progress(std::min(4, 1 + page * 3 / std::max(pages, 1)),
                 "listed page " + std::to_string(page) + " of " + std::to_string(pages));
  });

  // Stages 2-3 per invoice: fetch, verify, store; kMaxRequestsPerTask at once.
  StoreContext store_context{root, payload.destination(), payload.account(), ctx.TaskId(), period,
                             store_.get()};
  std::vector<Outcome> outcomes(refs.size());
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex error_mutex;
  std::condition_variable changed;
  std::exception_ptr error;
  auto work = [&] {
    while (!cancelled()) {
      const size_t i = next.fetch_add(1);
      if (i >= refs.size()) return;
      try {
        Fetched f = FetchXml(client, refs[i]);
        Outcome& o = outcomes[i];
        if (!f.bytes) {
          o.state = Outcome::State::kMissing;
          o.reason = f.missing_reason;
        } else if (f.bytes->find_first_not_of(" \t\r\n") == std::string::npos) {
          o.state = Outcome::State::kEmpty;
        } else {
          o.verification = VerifyDocument(*f.bytes);
          o.stored = StoreDocument(store_context, refs[i], *f.bytes, o.verification);
          o.state = Outcome::State::kStored;
        }
        std::lock_guard lock(error_mutex);
        done.fetch_add(1);
        changed.notify_all();
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        stop = true;
        changed.notify_all();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t n_threads = std::min<size_t>(kMaxRequestsPerTask, refs.size());
  for (size_t t = 0; t < n_threads; ++t) threads.emplace_back(work);
  // Progress from the handler's own thread (TaskContext's rule); woken by
  // each finished document, so the end is seen at once.
  {
    std::unique_lock lock(error_mutex);
    while (done.load() < refs.size() && !stop.load() && !ctx.Cancelled()) {
      const size_t now = done.load();
      lock.unlock();
      ctx.Progress(5 + static_cast<int>(85 * now / std::max<size_t>(refs.size(), 1)),
                   "downloaded " + std::to_string(now) + " of " + std::to_string(refs.size()));
      lock.lock();
      changed.wait_for(lock, std::chrono::milliseconds(250),
                       [&] { return done.load() >= refs.size() || stop.load() || done.load() >= now + 20; });
    }
  }
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  if (ctx.Cancelled()) throw TransientError("nfe.download cancelled or timed out after " +
                                            std::to_string(done.load()) + " of " + std::to_string(refs.size()));

  // Report and manifest.
  json report = {{"account", payload.account()}, {"period", period.text}, {"listing", listing},
                 {"listed", refs.size()}};
  json invalid = json::array(), empty = json::array(), missing = json::array(), manifest_docs = json::array();
  int64_t downloaded = 0, valid = 0;
  std::vector<ZipEntry> entries;
  for (size_t i = 0; i < refs.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (o.state == Outcome::State::kMissing) {
      json m = Ref(refs[i]);
      m["reason"] = o.reason;
      missing.push_back(m);
      continue;
    }
    ++downloaded;
    if (o.state == Outcome::State::kEmpty) {
      empty.push_back(Ref(refs[i]));
      continue;
    }
    const Verification& v = o.verification;
    if (v.Valid()) {
      ++valid;
    } else {
      json bad = Ref(refs[i]);
      bad["kind"] = KindName(v.kind);
      bad["reasons"] = v.failed;
      if (!v.detail.empty()) bad["detail"] = v.detail;
      bad["file"] = o.stored.zip_name;
      invalid.push_back(bad);
    }
    entries.push_back({o.stored.zip_name, root + "/" + o.stored.relative_path});
    manifest_docs.push_back({{"file", o.stored.zip_name}, {"doc_key", o.stored.doc_key},
                             {"omie_id", refs[i].omie_id}, {"kind", KindName(v.kind)},
                             {"environment", v.environment}, {"sha256", o.stored.sha256},
                             {"size", o.stored.size}, {"valid", v.Valid()}, {"failed_checks", v.failed}});
  }
  report["erp_cancelled"] = std::count_if(refs.begin(), refs.end(), [](const InvoiceRef& r) { return r.status == "cancelled"; });
  report["downloaded"] = downloaded;
  report["valid"] = valid;
  report["invalid_count"] = invalid.size();
  report["invalid"] = invalid;
  report["empty_count"] = empty.size();
  report["empty"] = empty;
  report["missing_count"] = missing.size();
  report["missing"] = missing;

  // Stage 4: zip with its manifest.
  ctx.Progress(92, "zipping " + std::to_string(entries.size()) + " documents");
  const std::string zip_name = payload.account() + "_" + period.text + ".zip";
  const std::string zip_relative = payload.destination() + "/lotes/" + zip_name;
  const std::string zip_path = root + "/" + zip_relative;
  json manifest = {{"account", payload.account()}, {"period", period.text}, {"task_id", ctx.TaskId()},
                   {"documents", manifest_docs},
                   {"summary", {{"listed", refs.size()}, {"downloaded", downloaded}, {"valid", valid},
                                {"invalid", invalid.size()}, {"empty", empty.size()}, {"missing", missing.size()}}}};
  WriteZip(zip_path, entries, manifest.dump(2));
  const std::string zip_bytes = ReadFile(zip_path);
  report["zip"] = {{"path", zip_relative}, {"entries", entries.size() + 1}, {"sha256", Sha256Hex(zip_bytes)},
                   {"size", zip_bytes.size()}};

  // Stage 5: upload.
  if (!payload.upload().empty()) {
    ctx.Progress(96, "uploading " + zip_name);
    UploadResult up = UploadZip(*http_, zip_path, zip_name, payload.upload(), root, config_.upload_token,
                                ctx.TaskDeadline(), cancelled);
    report["upload"] = {{"target", up.target}, {"status", up.http_status}, {"attempts", up.attempts}};
  } else {
    report["upload"] = nullptr;
  }
  const auto& counters = client.Counters();
  report["requests"] = {{"total", counters.requests.load()}, {"retries", counters.retries.load()},
                        {"waits", counters.waits.load()}};
  report["seconds"] = std::chrono::duration<double>(SteadyClock::now() - started).count();
  ctx.Progress(100, std::to_string(valid) + " valid, " + std::to_string(invalid.size()) + " invalid, " +
                        std::to_string(missing.size()) + " missing");
  return report.dump();
}

}  // namespace fila::nfe
