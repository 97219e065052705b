#include "fila/diario/handler.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <tuple>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/diario/archive.h"
#include "fila/diario/pdf_text.h"
#include "fila/diario/tjro_index.h"
#include "fila/diario/tjro_site.h"
#include "fila/diario/tribunal.h"
#include "fila/v1/diario.pb.h"
#include "diario_metrics.h"
#include "djen_fetch.h"
#include "gazette_fetch.h"

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

class DiarioHandler final {
 public:
  DiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter, std::shared_ptr<HttpClient> http,
                MetricRegistry& metrics)
      : options_(std::move(options)), store_(store), limiter_(limiter), http_(std::move(http)),
        archive_(MakeArchive(options_.archive_target, limiter_, *http_)), metrics_(metrics) {}

  // read the request -> fetch -> extract -> find decisions (-> LLM) ->
  // archive -> store.
  std::string Run(TaskContext& ctx) {
    Request request = ReadRequest(ctx);
    if (request.djen) return RunDjen(ctx, request);
    GazetteRecord& g = request.gazette;
    const auto cancelled = [&ctx] { return ctx.Cancelled(); };
    const Deadline deadline = ctx.TaskDeadline();

    if (request.by_index) {
      ctx.Progress(2, "reading the index of " + g.date.substr(0, 4));
      ResolveDateByIndex(request, deadline, cancelled);
    }
    auto no_gazette = [&] {
      store_.SaveNoGazette(g);
      nlohmann::json out{{"status", "no_gazette"}, {"tribunal", g.tribunal}, {"date", g.date}, {"url", g.url}};
      if (!request.edition.empty()) out["edition"] = request.edition;
      return out.dump();
    };
    if (g.url.empty()) return no_gazette();  // the index lists nothing that day
    ctx.Progress(5, "downloading");
    HttpResponse resp = FetchGazette(*http_, limiter_, options_, g.url, request.source, deadline, cancelled);
    if (resp.status == 404 || resp.status == 410) return no_gazette();
    const std::string& pdf = resp.body;
    g.sha256 = Sha256Hex(pdf);
    g.size_bytes = static_cast<int64_t>(pdf.size());

    ctx.Progress(30, "extracting text");
    const std::vector<PageText> pages = ExtractText(pdf, deadline, cancelled);
    g.pages = static_cast<int>(pages.size());
    ctx.Progress(60, "finding decisions in " + std::to_string(pages.size()) + " pages");
    Extraction found = ExtractDecisions(pages, request.tribunal->Extraction());
    g.numbers_found = static_cast<int>(found.numbers.size());
    g.invalid_numbers = found.invalid_numbers;
    if (request.use_llm) RunLlm(ctx, found.decisions, g, deadline, cancelled);

    if (archive_) {
      ctx.Progress(80, "archiving");
      g.archive_uri = archive_->Put(ArchiveName(ctx.Tenant(), g), pdf, deadline, cancelled);
    }
    ctx.Progress(90, "storing");
    std::string result = Store(g, found);
    if (request.edition.empty()) return result;
    auto out = nlohmann::json::parse(result);
    out["edition"] = request.edition;
    if (!request.other_editions.empty()) out["other_editions"] = request.other_editions;
    return out.dump();
  }

 private:
  struct Request {
    std::unique_ptr<Tribunal> tribunal;
    GazetteRecord gazette;  // task, tribunal, date and url filled
    UrlSource source = UrlSource::kOperator;
    bool use_llm = false;
    bool djen = false;       // the DJEN publications of the date, not a PDF
    bool by_index = false;   // a TJRO date: its edition comes from the index
    std::string edition;     // "2024:162:SUP" when an edition is processed
    std::vector<std::string> other_editions;  // the date's other editions (by_index)
    std::string djen_code;   // "TJSP"
  };

  // The payload, checked: which gazette, from where.
  Request ReadRequest(const TaskContext& ctx) const {
    v1::DiarioProcessPayload payload;
    if (!payload.ParseFromString(ctx.Payload())) {
      throw PermanentError("payload does not parse as fila.v1.DiarioProcessPayload", "payload");
    }
    if (payload.tribunal().empty()) throw PermanentError("payload.tribunal is required", "payload.tribunal");
    if (payload.source() == "djen") return ReadDjenRequest(ctx, payload);
    if (!payload.source().empty() && payload.source() != "gazette") {
      throw PermanentError("payload.source must be \"gazette\" or \"djen\"", "payload.source");
    }
    Request r;
    r.tribunal = MakeTribunal(payload.tribunal(), options_.url_templates);
    GazetteRecord& g = r.gazette;
    g.task_id = ctx.TaskId();
    g.tribunal = r.tribunal->Code();
    if (!payload.date().empty()) g.date = Date::Parse(payload.date(), "payload.date").Iso();
    if (!payload.path().empty()) return ReadEditionRequest(payload, std::move(r));
    if (!payload.url().empty()) {
      ValidatePayloadUrl(payload.url(), "payload.url");
      g.url = payload.url();
    } else if (!g.date.empty() && (g.tribunal != "tjro" || options_.url_templates.count("tjro") > 0)) {
      g.url = r.tribunal->GazetteUrl(Date::Parse(g.date));
    } else if (!g.date.empty()) {
      r.by_index = true;  // TJRO names its editions in its index, not by date
    } else {
      throw PermanentError("payload needs a date or a url", "payload.date");
    }
    // A producer's URL passes the egress policy; the operator's template
    // (FILA_DIARIO_TJRO_URL) may name an internal mirror.
    r.source = payload.url().empty() ? UrlSource::kOperator : UrlSource::kPayload;
    r.use_llm = payload.use_llm();
    return r;
  }

  // An edition of the tribunal's index: fetched from the configured
  // tribunal host only, whatever host or path tricks `path` tries.
  Request ReadEditionRequest(const v1::DiarioProcessPayload& payload, Request r) const {
    GazetteRecord& g = r.gazette;
    if (g.tribunal != "tjro") throw PermanentError("payload.path is for tjro's indexed editions", "payload.path");
    if (!payload.url().empty()) throw PermanentError("give payload.path or payload.url, not both", "payload.url");
    if (g.date.empty()) throw PermanentError("an edition (payload.path) needs its date", "payload.date");
    if (payload.edition_number() <= 0 || payload.edition_number() > 999999) {
      throw PermanentError("payload.edition_number must be 1 to 999999", "payload.edition_number");
    }
    Edition ed;
    ed.date = Date::Parse(g.date);
    ed.number = payload.edition_number();
    ed.suffix = payload.edition_suffix();
    const std::string origin = options_.tjro.Origin();
    g.url = ResolveOnTribunalHost(origin, payload.path(), "payload.path");
    ed.path = g.url.substr(origin.size());
    for (char c : ed.suffix) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') ||
          ed.suffix.size() > 16) {
        throw PermanentError("payload.edition_suffix must be up to 16 letters, digits or dots",
                             "payload.edition_suffix");
      }
    }
    g.source = "edition:" + ed.Key();
    r.edition = ed.Key();
    r.source = UrlSource::kOperator;  // the operator's host, checked above
    r.use_llm = payload.use_llm();
    return r;
  }

  // A TJRO date without an edition: the year's index says which editions
  // that day had; the main one (lowest number, no suffix first) is
  // processed, the others are named in the result (a backfill enqueues
  // each edition). None that day: no gazette.
  void ResolveDateByIndex(Request& r, Deadline deadline, const std::function<bool()>& cancelled) const {
    GazetteRecord& g = r.gazette;
    const Date day = Date::Parse(g.date);
    const std::string origin = options_.tjro.Origin();
    IndexParse index =
        ParseTjroIndex(FetchTjroIndex(*http_, limiter_, options_, options_.tjro, day.year, deadline, cancelled),
                       day.year, origin);
    std::vector<Edition> that_day;
    for (auto& e : index.editions) {
      if (e.date == day) that_day.push_back(std::move(e));
    }
    std::sort(that_day.begin(), that_day.end(), [](const Edition& a, const Edition& b) {
      return std::make_tuple(!a.suffix.empty(), a.number, a.suffix) <
             std::make_tuple(!b.suffix.empty(), b.number, b.suffix);
    });
    if (that_day.empty()) return;  // g.url stays empty: no gazette that day
    g.url = origin + that_day.front().path;
    g.source = "edition:" + that_day.front().Key();
    r.edition = that_day.front().Key();
    for (size_t i = 1; i < that_day.size(); ++i) r.other_editions.push_back(that_day[i].Key());
  }

  // source "djen": a checked tribunal code and a date; the URL is the
  // operator's (FILA_DIARIO_DJEN_URL).
  static Request ReadDjenRequest(const TaskContext& ctx, const v1::DiarioProcessPayload& payload) {
    if (!payload.url().empty()) {
      throw PermanentError("payload.url cannot be given with source \"djen\" (the worker's FILA_DIARIO_DJEN_URL "
                           "is where DJEN is)",
                           "payload.url");
    }
    if (payload.date().empty()) throw PermanentError("source \"djen\" needs a date", "payload.date");
    Request r;
    r.djen = true;
    r.djen_code = DjenTribunalCode(payload.tribunal());
    GazetteRecord& g = r.gazette;
    g.task_id = ctx.TaskId();
    g.tribunal = r.djen_code;
    for (char& c : g.tribunal) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    g.date = Date::Parse(payload.date(), "payload.date").Iso();
    g.source = "djen:" + g.date;
    r.use_llm = payload.use_llm();
    return r;
  }

  // query the DJEN, page by page -> one entry per publication (-> LLM) ->
  // store. Nothing to archive: the texts are the API's.
  std::string RunDjen(TaskContext& ctx, Request& request) {
    GazetteRecord& g = request.gazette;
    const auto cancelled = [&ctx] { return ctx.Cancelled(); };
    const Deadline deadline = ctx.TaskDeadline();
    ctx.Progress(5, "querying DJEN");
    DjenFetch fetched =
        FetchDjenPublications(*http_, limiter_, options_, request.djen_code, g.date, deadline, cancelled);
    g.url = fetched.first_url;
    if (fetched.publications.empty()) {
      store_.SaveNoGazette(g);
      return nlohmann::json{{"status", "no_gazette"}, {"source", "djen"}, {"tribunal", g.tribunal}, {"date", g.date}}
          .dump();
    }
    std::string texts;
    for (const auto& p : fetched.publications) texts += p.text + '\f';
    g.sha256 = Sha256Hex(texts);
    g.size_bytes = static_cast<int64_t>(fetched.bytes);
    g.pages = static_cast<int>(fetched.publications.size());
    ctx.Progress(60, "finding decisions in " + std::to_string(g.pages) + " publications");
    Extraction found = ExtractDecisions(PublicationPages(fetched.publications), {.page_is_publication = true});
    g.numbers_found = static_cast<int>(found.numbers.size());
    g.invalid_numbers = found.invalid_numbers;
    if (request.use_llm) RunLlm(ctx, found.decisions, g, deadline, cancelled);
    ctx.Progress(90, "storing");
    return Store(g, found);
  }

  std::vector<PageText> ExtractText(const std::string& pdf, Deadline deadline,
                                    const std::function<bool()>& cancelled) const {
    return options_.extractor.empty()
               ? ExtractPdfText(pdf, cancelled, options_.budget)
               : ExtractPdfTextIsolated(options_.extractor, pdf, options_.budget, deadline, cancelled);
  }

  // Each tenant's archive is its own folder: a tenant's PDF (a `url` may
  // point anywhere) never replaces another tenant's copy.
  static std::string ArchiveName(const std::string& tenant, const GazetteRecord& g) {
    return tenant + "/" + g.tribunal + "/" +
           (g.date.empty() ? "by-sha256/" + g.sha256 : g.date.substr(0, 4) + "/" + Date::Parse(g.date).Compact()) +
           ".pdf";
  }

  // Stores the gazette with its decisions; the task's result.
  std::string Store(const GazetteRecord& g, const Extraction& found) {
    const int64_t id = store_.SaveGazette(g, found.decisions);
    // Counted once stored; a task run again after this (its finish lost)
    // counts the gazette again, as it stores it again.
    metrics_.Gazette(found.decisions);
    const OutcomeShare share = CountUnknownOutcomes(found.decisions);
    return nlohmann::json{{"status", "processed"},
                          {"source", g.source.rfind("djen:", 0) == 0 ? "djen" : "gazette"},
                          {"gazette_id", id},
                          {"tribunal", g.tribunal},
                          {"date", g.date},
                          {"pages", g.pages},
                          {"entries", found.decisions.size()},
                          {"decisions", share.decisions},
                          {"unknown_outcomes", share.unknown},
                          {"numbers", found.numbers.size()},
                          {"invalid_numbers", found.invalid_numbers.size()},
                          {"sha256", g.sha256},
                          {"archive", g.archive_uri},
                          {"llm", g.llm_used}}
        .dump();
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
  DiarioMetrics metrics_;
};

}  // namespace

DiarioOptions DiarioOptions::FromEnv() {
  DiarioOptions o;
  if (auto t = Env("FILA_DIARIO_TJRO_URL"); !t.empty()) o.url_templates["tjro"] = t;
  if (auto u = Env("FILA_DIARIO_DJEN_URL"); !u.empty()) {
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
      throw PermanentError("FILA_DIARIO_DJEN_URL must be an http(s) URL", "FILA_DIARIO_DJEN_URL");
    }
    o.djen_url = u;
  }
  o.djen_max_pages = static_cast<int>(std::clamp<long>(EnvInt("FILA_DIARIO_DJEN_MAX_PAGES", 100), 1, 10000));
  // The API serves at most 100 a page.
  o.djen_page_size = static_cast<int>(std::clamp<long>(EnvInt("FILA_DIARIO_DJEN_PAGE_SIZE", 100), 1, 100));
  o.archive_target = Env("FILA_DIARIO_ARCHIVE");
  o.llm = LlmConfig::FromEnv();
  o.host_concurrency = static_cast<uint32_t>(EnvInt("FILA_DIARIO_HOST_CONCURRENCY", 3));
  o.host_min_interval = std::chrono::milliseconds(EnvInt("FILA_DIARIO_MIN_INTERVAL_MS", 1000));
  o.host_backoff = std::chrono::milliseconds(EnvInt("FILA_DIARIO_HOST_BACKOFF_MS", 60000));
  o.tjro = TjroSite::FromEnv();
  o.download_timeout = std::chrono::seconds(EnvInt("FILA_DIARIO_DOWNLOAD_TIMEOUT_S", 120));
  return o;
}

Handler MakeDiarioHandler(DiarioOptions options, DiarioStore& store, KeyLimiter& limiter,
                          std::shared_ptr<HttpClient> http, MetricRegistry& metrics) {
  auto handler = std::make_shared<DiarioHandler>(std::move(options), store, limiter, std::move(http), metrics);
  return [handler](TaskContext& ctx) { return handler->Run(ctx); };
}

}  // namespace fila::diario
