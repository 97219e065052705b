#include "fila/diario/handler.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "fila/diario/archive.h"
#include "fila/diario/pdf_text.h"
#include "fila/diario/tribunal.h"
#include "fila/config.h"
#include "fila/errors.h"
#include "fila/v1/diario.pb.h"

namespace fila::diario {
namespace {

std::string Env(const char* name) { return EnvOr(name, ""); }

long EnvInt(const char* name, long fallback) {
  std::string v = Env(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  return end != nullptr && *end == '\0' && n >= 0 ? n : fallback;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error("sha256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// The media type of a Content-Type header ("text/html"), for an error
// message; "" unless it has the shape of one. Nothing else of the answer
// is ever quoted: its bytes may be an internal service's.
std::string MediaType(const std::string& header) {
  std::string type = header.substr(0, header.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const bool token = !type.empty() && type.size() <= 80 && std::count(type.begin(), type.end(), '/') == 1 &&
                     std::all_of(type.begin(), type.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
                              c == '+' || c == '-' || c == '_';
                     });
  return token ? type : std::string();
}

class DiarioHandler final {
 public:
  DiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter, std::shared_ptr<HttpClient> http)
      : options_(std::move(options)), store_(store), limiter_(limiter), http_(std::move(http)),
        archive_(MakeArchive(options_.archive_target, limiter_, *http_)) {}

  std::string Run(TaskContext& ctx) {
    v1::DiarioProcessPayload payload;
    if (!payload.ParseFromString(ctx.Payload())) {
      throw PermanentError("payload does not parse as fila.v1.DiarioProcessPayload", "payload");
    }
    if (payload.tribunal().empty()) throw PermanentError("payload.tribunal is required", "payload.tribunal");
    auto tribunal = MakeTribunal(payload.tribunal(), options_.url_templates);
    GazetteRecord g;
    g.task_id = ctx.TaskId();
    g.tribunal = tribunal->Code();
    if (!payload.date().empty()) g.date = Date::Parse(payload.date(), "payload.date").Iso();
    if (!payload.url().empty()) {
      ValidatePayloadUrl(payload.url(), "payload.url");
      g.url = payload.url();
    } else if (!g.date.empty()) {
      g.url = tribunal->GazetteUrl(Date::Parse(g.date));
    } else {
      throw PermanentError("payload needs a date or a url", "payload.date");
    }
    const auto cancelled = [&ctx] { return ctx.Cancelled(); };
    const Deadline deadline = ctx.TaskDeadline();

    ctx.Progress(5, "downloading");
    // A producer's URL passes the egress policy; the operator's template
    // (FILA_DIARIO_TJRO_URL) may name an internal mirror.
    const UrlSource source = payload.url().empty() ? UrlSource::kOperator : UrlSource::kPayload;
    HttpResponse resp = Download(g.url, source, deadline, cancelled);
    if (resp.status == 404 || resp.status == 410) {
      store_.SaveNoGazette(g);
      return nlohmann::json{{"status", "no_gazette"}, {"tribunal", g.tribunal}, {"date", g.date}, {"url", g.url}}
          .dump();
    }
    Classify(resp);
    const std::string& pdf = resp.body;
    g.sha256 = Sha256Hex(pdf);
    g.size_bytes = static_cast<int64_t>(pdf.size());

    ctx.Progress(30, "extracting text");
    std::vector<PageText> pages =
        options_.extractor.empty()
            ? ExtractPdfText(pdf, cancelled, options_.budget)
            : ExtractPdfTextIsolated(options_.extractor, pdf, options_.budget, deadline, cancelled);
    g.pages = static_cast<int>(pages.size());
    ctx.Progress(60, "finding decisions in " + std::to_string(pages.size()) + " pages");
    Extraction found = ExtractDecisions(pages, tribunal->Extraction());
    g.numbers_found = static_cast<int>(found.numbers.size());
    g.invalid_numbers = found.invalid_numbers;

    if (payload.use_llm()) RunLlm(ctx, found.decisions, g, deadline, cancelled);

    if (archive_) {
      ctx.Progress(80, "archiving");
      // Each tenant's archive is its own folder: a tenant's PDF (a `url`
      // may point anywhere) never replaces another tenant's copy.
      const std::string name = ctx.Tenant() + "/" + g.tribunal + "/" +
                               (g.date.empty() ? "by-sha256/" + g.sha256
                                               : g.date.substr(0, 4) + "/" + Date::Parse(g.date).Compact()) +
                               ".pdf";
      g.archive_uri = archive_->Put(name, pdf, deadline, cancelled);
    }
    ctx.Progress(90, "storing");
    int64_t id = store_.SaveGazette(g, found.decisions);
    int decided = 0;
    for (const auto& d : found.decisions) decided += d.HasDecision() ? 1 : 0;
    return nlohmann::json{{"status", "processed"},
                          {"gazette_id", id},
                          {"tribunal", g.tribunal},
                          {"date", g.date},
                          {"pages", g.pages},
                          {"entries", found.decisions.size()},
                          {"decisions", decided},
                          {"numbers", found.numbers.size()},
                          {"invalid_numbers", found.invalid_numbers.size()},
                          {"sha256", g.sha256},
                          {"archive", g.archive_uri},
                          {"llm", g.llm_used}}
        .dump();
  }

 private:
  HttpResponse Download(const std::string& url, UrlSource source, Deadline deadline,
                        const std::function<bool()>& cancelled) {
    const LimitSpec host_limit{.max_concurrent = options_.host_concurrency,
                               .rate = options_.host_min_interval.count() > 0 ? 1u : 0u,
                               .period = options_.host_min_interval};
    Permit permit = limiter_.Acquire(HostLimitKey(url), host_limit, deadline, cancelled);
    HttpRequest req;
    req.url = url;
    req.source = source;
    req.headers = {{"Accept", "application/pdf"}};
    req.deadline = std::min(deadline, DeadlineIn(options_.download_timeout));
    req.max_response_bytes = options_.max_pdf_bytes;
    return http_->Send(req);
  }

  static void Classify(const HttpResponse& resp) {
    if (resp.status == 403 || resp.status == 408 || resp.status == 429 || resp.status >= 500) {
      double wait = RetryAfterSeconds(resp);
      throw TransientError("tribunal answered HTTP " + std::to_string(resp.status) +
                           (wait >= 0 ? " (Retry-After " + std::to_string(static_cast<int>(wait)) + " s)" : ""));
    }
    if (resp.status < 200 || resp.status >= 300) {
      throw PermanentError("tribunal answered HTTP " + std::to_string(resp.status));
    }
    if (!LooksLikePdf(resp.body)) {
      const std::string type = MediaType(resp.Header("content-type"));
      throw TransientError("the tribunal answered with something that is not a PDF (" +
                           (type.empty() ? std::string("no known content type") : type) +
                           "): likely its anti-bot block page");
    }
  }

  void RunLlm(TaskContext& ctx, std::vector<Decision>& decisions, GazetteRecord& g, Deadline deadline,
              const std::function<bool()>& cancelled) {
    if (!options_.llm.Enabled()) {
      spdlog::warn("diario.process: use_llm asked, but FILA_DIARIO_LLM_URL is not set; rules only");
      return;
    }
    ctx.Progress(70, "LLM extraction");
    try {
      LlmReport report = EnrichWithLlm(options_.llm, *http_, limiter_, decisions, deadline, cancelled);
      g.llm_used = report.requests > 0;
    } catch (const Error& e) {
      // The step is optional: the rule-based result stands.
      spdlog::warn("diario.process: LLM step failed, rules only: {}", e.what());
    }
  }

  DiarioOptions options_;
  DiarioStore& store_;
  KeyLimiter& limiter_;
  std::shared_ptr<HttpClient> http_;
  std::unique_ptr<Archive> archive_;
};

}  // namespace

DiarioOptions DiarioOptions::FromEnv() {
  DiarioOptions o;
  if (auto t = Env("FILA_DIARIO_TJRO_URL"); !t.empty()) o.url_templates["tjro"] = t;
  o.archive_target = Env("FILA_DIARIO_ARCHIVE");
  o.llm = LlmConfig::FromEnv();
  o.host_concurrency = static_cast<uint32_t>(EnvInt("FILA_DIARIO_HOST_CONCURRENCY", 3));
  o.host_min_interval = std::chrono::milliseconds(EnvInt("FILA_DIARIO_MIN_INTERVAL_MS", 1000));
  o.download_timeout = std::chrono::seconds(EnvInt("FILA_DIARIO_DOWNLOAD_TIMEOUT_S", 120));
  return o;
}

std::string HostLimitKey(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);  // no credentials in keys
  for (char& c : host) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return "diario-host:" + host;
}

Handler MakeDiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter,
                          std::shared_ptr<HttpClient> http) {
  auto handler = std::make_shared<DiarioHandler>(std::move(options), store, limiter, std::move(http));
  return [handler](TaskContext& ctx) { return handler->Run(ctx); };
}

}  // namespace fila::diario
