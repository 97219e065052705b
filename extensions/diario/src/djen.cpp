#include "fila/diario/djen.h"

#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/core/json_depth.h"
#include "html_text.h"

namespace fila::diario {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;

std::string Text(const json& item, const char* key) {
  auto it = item.find(key);
  if (it == item.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "";
}

}  // namespace

std::string DjenTribunalCode(std::string_view tribunal) {
  std::string code;
  for (char c : tribunal) code += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  bool ok = code.size() >= 2 && code.size() <= 12;
  for (char c : code) ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  if (!ok) {
    throw PermanentError("'" + std::string(tribunal.substr(0, 40)) +
                             "' is not a DJEN tribunal code (2 to 12 letters and digits, e.g. TJSP, TRF1)",
                         "tribunal");
  }
  return code;
}

std::string DjenQueryUrl(const std::string& base, const std::string& tribunal_code, const std::string& date,
                         int page, int per_page) {
  // Both values are checked (DjenTribunalCode, Date::Parse): nothing to escape.
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "siglaTribunal=" + tribunal_code +
         "&dataDisponibilizacaoInicio=" + date + "&dataDisponibilizacaoFim=" + date +
         "&pagina=" + std::to_string(page) + "&itensPorPagina=" + std::to_string(per_page);
}

DjenPage ParseDjenAnswer(std::string_view body) {
  try {
    CheckJsonDepth(body, kMaxDepth, "DJEN answer", "");
  } catch (const PermanentError& e) {
    throw TransientError(std::string("DJEN answered JSON nested deeper than ") + std::to_string(kMaxDepth) +
                         " levels: not its answer");
  }
  const json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) throw TransientError("DJEN answered something that is not JSON");
  if (!doc.is_object()) throw TransientError("DJEN answered JSON that is not an object");
  auto items = doc.find("items");
  if (items == doc.end() || !items->is_array()) {
    throw TransientError("DJEN answered JSON without an \"items\" array");
  }
  DjenPage page;
  if (auto c = doc.find("count"); c != doc.end() && c->is_number_integer()) page.count = c->get<int64_t>();
  for (const auto& item : *items) {
    if (!item.is_object()) throw TransientError("DJEN answered an item that is not an object");
    DjenPublication p;
    if (auto id = item.find("id"); id != item.end() && id->is_number_integer()) p.id = id->get<int64_t>();
    p.process_number = Text(item, "numero_processo");
    p.tribunal = Text(item, "siglaTribunal");
    p.date = Text(item, "data_disponibilizacao");
    p.text = PublicationText(Text(item, "texto"));
    page.items.push_back(std::move(p));
  }
  return page;
}

std::string PublicationText(std::string_view texto) { return HtmlToText(texto); }

std::vector<PageText> PublicationPages(const std::vector<DjenPublication>& publications) {
  std::vector<PageText> pages;
  pages.reserve(publications.size());
  for (size_t i = 0; i < publications.size(); ++i) {
    pages.push_back({static_cast<int>(i) + 1, publications[i].text});
  }
  return pages;
}

}  // namespace fila::diario
