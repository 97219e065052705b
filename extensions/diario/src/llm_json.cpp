#include "fila/diario/llm_json.h"

#include <nlohmann/json.hpp>

#include "fila/diario/text.h"

namespace fila::diario {
namespace {

using nlohmann::json;

std::string_view Unfence(std::string_view s) {
  size_t fence = s.find("```");
  if (fence == std::string_view::npos) return s;
  size_t body = s.find('\n', fence);
  if (body == std::string_view::npos) return {};
  s = s.substr(body + 1);
  size_t close = s.find("```");
  return close == std::string_view::npos ? s : s.substr(0, close);
}

// Closes what is open at the end of `s`; nullopt when nothing can be made of it.
std::string Close(std::string_view s) {
  std::string out(s);
  std::vector<char> stack;
  bool in_string = false;
  bool escape = false;
  for (char c : s) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{') stack.push_back('}');
    else if (c == '[') stack.push_back(']');
    else if ((c == '}' || c == ']') && !stack.empty()) stack.pop_back();
  }
  if (escape) out.pop_back();
  if (in_string) out += '"';
  // A dangling separator or key without value.
  while (true) {
    std::string_view t = Trim(out);
    out.resize(t.size());
    if (!out.empty() && (out.back() == ',' || out.back() == ':')) {
      if (out.back() == ':') {
        out.pop_back();
        // drop the key too
        size_t q = out.rfind('"');
        if (q != std::string::npos) {
          size_t open = q == 0 ? std::string::npos : out.rfind('"', q - 1);
          if (open != std::string::npos) out.resize(open);
        }
        continue;
      }
      out.pop_back();
      continue;
    }
    break;
  }
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) out += *it;
  return out;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

std::optional<std::string> RecoverJson(std::string_view reply) {
  std::string_view s = Unfence(reply);
  size_t start = s.find_first_of("{[");
  if (start == std::string_view::npos) return std::nullopt;
  s = s.substr(start);
  // Trailing prose after complete JSON: parse the longest prefix that works.
  std::string candidate(s);
  for (int tries = 0; tries < 256 && candidate.size() >= 2; ++tries) {
    if (json::accept(candidate)) return candidate;
    std::string closed = Close(candidate);
    if (json::accept(closed)) return closed;
    // Drop the last element, which could not be completed, and try again.
    size_t cut = candidate.find_last_of(",}]", candidate.size() - 2);
    if (cut == std::string::npos) break;
    candidate.resize(candidate[cut] == ',' ? cut : cut + 1);
  }
  return std::nullopt;
}

std::vector<LlmDecision> ParseLlmDecisions(std::string_view reply) {
  std::vector<LlmDecision> out;
  auto text = RecoverJson(reply);
  if (!text) return out;
  json root = json::parse(*text, nullptr, false);
  if (root.is_discarded()) return out;
  json list = json::array();
  if (root.is_array()) list = root;
  else if (root.is_object() && root.contains("decisions") && root["decisions"].is_array()) list = root["decisions"];
  else if (root.is_object()) list.push_back(root);
  for (const auto& j : list) {
    if (!j.is_object()) continue;
    LlmDecision d;
    d.process_number = Str(j, "process_number");
    d.process_class = Str(j, "class");
    d.rapporteur = Str(j, "rapporteur");
    d.outcome = Str(j, "outcome");
    if (auto it = j.find("parties"); it != j.end() && it->is_array()) {
      for (const auto& p : *it) {
        if (p.is_object()) d.parties.push_back({Str(p, "role"), Str(p, "name")});
      }
    }
    if (auto it = j.find("lawyers"); it != j.end() && it->is_array()) {
      for (const auto& l : *it) {
        if (!l.is_object()) continue;
        Lawyer lawyer;
        lawyer.name = Str(l, "name");
        lawyer.kind = "advogado";
        if (auto oab = ParseOab(Str(l, "oab"))) lawyer.oab = *oab;
        d.lawyers.push_back(std::move(lawyer));
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace fila::diario
