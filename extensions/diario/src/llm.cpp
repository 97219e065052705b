#include "fila/diario/llm.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/diario/cnj.h"
#include "fila/diario/llm_json.h"

namespace fila::diario {
namespace {

using nlohmann::json;

constexpr const char* kSystemPrompt =
    "You read docket entries of a Brazilian court gazette (Diario da Justica). Answer only JSON: "
    "{\"decisions\":[{\"process_number\":\"NNNNNNN-DD.AAAA.J.TR.OOOO\",\"class\":\"...\","
    "\"rapporteur\":\"...\",\"outcome\":\"provido|parcialmente provido|nao provido|nao conhecido|"
    "prejudicado|extinto|...\",\"parties\":[{\"role\":\"...\",\"name\":\"...\"}],"
    "\"lawyers\":[{\"name\":\"...\",\"oab\":\"OAB/UF NNNN\"}]}]}. One element per entry, in order.";

std::string Endpoint(const std::string& url) {
  const std::string suffix = "/chat/completions";
  if (url.size() >= suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return url;
  }
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + suffix;
}

void Merge(const LlmDecision& from, std::vector<Decision>& decisions, LlmReport& report) {
  auto number = ParseCnj(from.process_number);
  if (!number || !number->Valid()) return;  // never trust an invalid number
  const std::string key = number->Formatted();
  for (auto& d : decisions) {
    if (d.process_number != key) continue;
    bool changed = false;
    if (d.process_class.empty() && !from.process_class.empty()) {
      d.process_class = from.process_class;
      changed = true;
    }
    if (d.rapporteur.empty() && !from.rapporteur.empty()) {
      d.rapporteur = from.rapporteur;
      changed = true;
    }
    if (d.HasDecision() && d.outcome == Outcome::kUnknown && !from.outcome.empty()) {
      Outcome o = NormaliseOutcome(from.outcome);
      if (o != Outcome::kUnknown) {
        d.outcome = o;
        changed = true;
      }
    }
    if (d.parties.empty() && !from.parties.empty()) {
      d.parties = from.parties;
      changed = true;
    }
    if (d.lawyers.empty() && !from.lawyers.empty()) {
      d.lawyers = from.lawyers;
      changed = true;
    }
    if (changed) ++report.enriched;
  }
}

}  // namespace

LlmConfig LlmConfig::FromEnv() {
  LlmConfig c;
  c.url = EnvOr("FILA_DIARIO_LLM_URL", "");
  if (auto m = EnvOr("FILA_DIARIO_LLM_MODEL", ""); !m.empty()) c.model = m;
  c.api_key = EnvOr("FILA_DIARIO_LLM_API_KEY", "");
  if (c.api_key.empty()) c.api_key = EnvOr("OPENAI_API_KEY", "");
  return c;
}

LlmReport EnrichWithLlm(const LlmConfig& config, HttpClient& http, KeyLimiter& limiter,
                        std::vector<Decision>& decisions, Deadline deadline,
                        const std::function<bool()>& cancelled) {
  LlmReport report;
  if (!config.Enabled()) return report;
  const size_t step = std::max<uint32_t>(1, config.entries_per_request);
  for (size_t first = 0; first < decisions.size(); first += step) {
    if (cancelled && cancelled()) throw TransientError("LLM step cancelled");
    std::string entries;
    for (size_t i = first; i < std::min(decisions.size(), first + step); ++i) {
      entries += "--- entry\n" + decisions[i].block;
    }
    json body = {{"model", config.model},
                 {"temperature", 0},
                 {"response_format", {{"type", "json_object"}}},
                 {"messages",
                  json::array({{{"role", "system"}, {"content", kSystemPrompt}},
                               {{"role", "user"}, {"content", entries}}})}};
    HttpRequest req;
    req.method = "POST";
    req.url = Endpoint(config.url);
    req.source = UrlSource::kOperator;  // FILA_DIARIO_LLM_URL
    req.headers = {{"Content-Type", "application/json"}};
    if (!config.api_key.empty()) req.headers.emplace_back("Authorization", "Bearer " + config.api_key);
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    req.deadline = deadline;
    req.max_response_bytes = 8 << 20;
    Permit permit = limiter.Acquire("diario-llm", LimitSpec{.max_concurrent = 4}, deadline, cancelled);
    HttpResponse resp = http.Send(req);
    permit.Release();
    ++report.requests;
    if (resp.status == 429 || resp.status >= 500) {
      throw TransientError("LLM endpoint answered " + std::to_string(resp.status));
    }
    if (resp.status < 200 || resp.status >= 300) {
      throw PermanentError("LLM endpoint refused the request: HTTP " + std::to_string(resp.status));
    }
    json reply = json::parse(resp.body, nullptr, false);
    std::string content;
    if (!reply.is_discarded() && reply.contains("choices") && reply["choices"].is_array() &&
        !reply["choices"].empty()) {
      try {
        const auto& msg = reply["choices"][0].at("message").at("content");
        if (msg.is_string()) content = msg.get<std::string>();
      } catch (const json::exception&) {
        // Not the chat-completions shape: no answer for these entries.
      }
    }
    for (const auto& d : ParseLlmDecisions(content)) Merge(d, decisions, report);
  }
  return report;
}

}  // namespace fila::diario
