#include "fila/diario/djen.h"

#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/core/json_depth.h"

namespace fila::diario {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The entity at the start of `s` ("&amp;..."): appends its text and
// returns its length, or 0 when it is none known.
size_t Entity(std::string_view s, std::string& out) {
  static constexpr std::pair<std::string_view, std::string_view> kNamed[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", " "}};
  for (auto [name, text] : kNamed) {
    if (s.substr(0, name.size()) == name) {
      out.append(text);
      return name.size();
    }
  }
  if (s.size() < 4 || s[1] != '#') return 0;
  const bool hex = s[2] == 'x' || s[2] == 'X';
  uint32_t cp = 0;
  size_t i = hex ? 3 : 2;
  const size_t first = i;
  for (; i < s.size() && i < first + 7; ++i) {
    const char c = s[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : -1;
    if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) break;
    cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(digit);
  }
  if (i == first || i >= s.size() || s[i] != ';') return 0;
  AppendUtf8(out, cp);
  return i + 1;
}

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

std::string PublicationText(std::string_view texto) {
  std::string out;
  out.reserve(texto.size());
  size_t i = 0;
  while (i < texto.size()) {
    const char c = texto[i];
    if (c == '\r') {
      // "\n\r" and "\r\n" are one break; a lone "\r" is one too.
      const bool pair = (i + 1 < texto.size() && texto[i + 1] == '\n') || (!out.empty() && out.back() == '\n');
      if (!pair) out += '\n';
      ++i;
    } else if (c == '\f') {
      out += '\n';  // a form feed separates publications
      ++i;
    } else if (c == '<') {
      const size_t close = texto.find('>', i);
      if (close == std::string_view::npos) {
        out += c;  // a lone '<' is text
        ++i;
        continue;
      }
      std::string tag = Lower(texto.substr(i + 1, std::min<size_t>(close - i - 1, 8)));
      const bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.erase(0, 1);
      tag = tag.substr(0, tag.find_first_of(" \t\n/>"));
      if (tag == "br" || (closing && (tag == "p" || tag == "div" || tag == "tr" || tag == "li"))) out += '\n';
      else if (tag == "td" || tag == "th") out += ' ';
      i = close + 1;
    } else if (c == '&') {
      const size_t n = Entity(texto.substr(i, 12), out);
      if (n == 0) out += c;
      i += n == 0 ? 1 : n;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::vector<PageText> PublicationPages(const std::vector<DjenPublication>& publications) {
  std::vector<PageText> pages;
  pages.reserve(publications.size());
  for (size_t i = 0; i < publications.size(); ++i) {
    pages.push_back({static_cast<int>(i) + 1, publications[i].text});
  }
  return pages;
}

}  // namespace fila::diario
