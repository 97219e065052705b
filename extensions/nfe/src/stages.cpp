#include "stages.h"

#include <cstdio>
#include <filesystem>
#include <set>

#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "file_store.h"

namespace fila::nfe {
namespace {

using nlohmann::json;

std::string AsText(const json& object, const char* name) {
  if (!object.is_object() || !object.contains(name)) return {};
  const json& v = object[name];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return v.dump();
  return {};
}

int64_t AsInt(const json& object, const char* name, int64_t fallback) {
  const std::string text = AsText(object, name);
  if (text.empty()) return fallback;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return fallback;
  }
}

// Standard base64 (RFC 4648, padding optional, whitespace ignored); nullopt
// on any other character.
std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    else return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// The XML as the API sent it, but without the JSON transport's wrappings: a
// UTF-8 byte order mark goes, and a body that is base64 of an XML document
// (some clients report it) is decoded. Nothing else is touched.
std::string Unwrap(std::string xml) {
  if (xml.rfind("\xEF\xBB\xBF", 0) == 0) xml.erase(0, 3);
  const size_t first = xml.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && xml[first] != '<') {
    if (auto decoded = DecodeBase64(xml)) {
      const size_t start = decoded->rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
      if (decoded->compare(start, 1, "<") == 0) return decoded->substr(start);
    }
  }
  return xml;
}

}  // namespace

std::string Period::FirstDay() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "01/%02d/%04d", month, year);
  return buf;
}

std::string Period::LastDay() const {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int days = kDays[month - 1];
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) days = 29;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d/%02d/%04d", days, month, year);
  return buf;
}

Period ParsePeriod(const std::string& text) {
  auto digits = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
    }
    return true;
  };
  if (text.size() != 7 || text[4] != '-' || !digits(0, 4) || !digits(5, 2)) {
    throw PermanentError("period must be YYYY-MM, got '" + text.substr(0, 32) + "'", "payload.period");
  }
  Period p{std::stoi(text.substr(0, 4)), std::stoi(text.substr(5, 2)), text};
  if (p.month < 1 || p.month > 12 || p.year < 2006 || p.year > 2100) {
    throw PermanentError("period " + text + " is not a month between 2006-01 and 2100-12", "payload.period");
  }
  return p;
}

std::vector<InvoiceRef> ListInvoices(OmieClient& client, const ListingRequest& request,
                                     const std::function<void(int, int)>& progress) {
  const bool documents = request.method == "ListarDocumentos";
  std::vector<InvoiceRef> refs;
  std::set<std::string> seen;
  int64_t total_pages = 1;
  // The server may cap the page size: trust what it reports, and stop at
  // the end-of-data fault whatever the totals said.
  for (int64_t page = 1; page <= total_pages && page <= 100000; ++page) {
    std::optional<json> response;
    if (documents) {
      response = client.Call("contador/xml", "ListarDocumentos",
                             {{"nPagina", page},
                              {"nRegPorPagina", request.page_size},
                              {"cModelo", "55"},
                              {"dEmiInicial", request.period.FirstDay()},
                              {"dEmiFinal", request.period.LastDay()}});
    } else {
      response = client.Call("produtos/nfconsultar", "ListarNF",
                             {{"pagina", page},
                              {"registros_por_pagina", request.page_size},
                              {"apenas_importado_api", "N"},
                              {"dEmiInicial", request.period.FirstDay()},
                              {"dEmiFinal", request.period.LastDay()}});
    }
    if (!response) break;  // Client-5113
    const json& r = *response;
    const json& items = documents ? r.value("documentosEncontrados", json::array()) : r.value("nfCadastro", json::array());
    if (!items.is_array()) throw TransientError(request.method + " page " + std::to_string(page) + " has no list");
    if (documents) {
      int64_t stated = AsInt(r, "nTotPaginas", 0);
      if (stated <= 0) {
        const int64_t records = AsInt(r, "nTotRegistros", 0);
        const int64_t per_page = std::max<int64_t>(1, static_cast<int64_t>(items.size()));
        stated = (records + per_page - 1) / per_page;
      }
      total_pages = std::max<int64_t>(stated, page);
    } else {
      total_pages = std::max<int64_t>(AsInt(r, "total_de_paginas", page), page);
    }
    for (const json& item : items) {
      InvoiceRef ref;
      if (documents) {
        ref.omie_id = AsText(item, "nIdNF");
        ref.key = AsText(item, "nChave");
        if (AsText(item, "cStatus") == "10") ref.status = "cancelled";
        if (item.contains("cXml") && item["cXml"].is_string() && !item["cXml"].get<std::string>().empty()) {
          ref.xml = item["cXml"].get<std::string>();
        }
      } else {
        const json compl_ = item.value("compl", json::object());
        ref.omie_id = AsText(compl_, "nIdNF");
        ref.key = AsText(compl_, "cChaveNFe");
        if (!AsText(item.value("ide", json::object()), "dCan").empty()) ref.status = "cancelled";
      }
      if (ref.omie_id.empty()) ref.omie_id = ref.key;
      if (ref.omie_id.empty() || !seen.insert(ref.omie_id).second) continue;
      refs.push_back(std::move(ref));
    }
    if (progress) progress(static_cast<int>(page), static_cast<int>(total_pages));
    if (items.empty()) break;
  }
  return refs;
}

Fetched FetchXml(OmieClient& client, const InvoiceRef& ref) {
  Fetched f;
  if (ref.xml) {
    f.bytes = Unwrap(*ref.xml);
    return f;
  }
  json param = {{"nIdNfe", std::stoll(ref.omie_id.empty() ? "0" : ref.omie_id)}};
  std::optional<json> r;
  try {
    r = client.Call("produtos/dfedocs", "ObterNfe", param);
  } catch (const OmieRequestError& e) {
    // The report names the ERP's reason ("NF-e não encontrada"), cut short.
    f.missing_reason = std::string(e.what()) + (e.FaultText().empty() ? "" : ": " + TruncateText(e.FaultText(), 300));
    return f;
  } catch (const std::invalid_argument&) {
    f.missing_reason = "Omie id '" + ref.omie_id + "' is not a number";
    return f;
  }
  if (!r) {
    f.missing_reason = "ObterNfe: no record";
    return f;
  }
  const std::string status = AsText(*r, "cCodStatus");
  if (!status.empty() && status != "0") {
    f.missing_reason = "ObterNfe cCodStatus " + status + ": " + AsText(*r, "cDesStatus");
    return f;
  }
  f.bytes = Unwrap(AsText(*r, "cXmlNfe"));
  return f;
}

StoredDocument StoreDocument(const StoreContext& c, const InvoiceRef& ref, const std::string& bytes,
                             const Verification& v) {
  StoredDocument d;
  const bool has_key = v.access_key.size() == 44 || v.access_key.size() == 50;
  std::string key = has_key ? v.access_key : (!ref.key.empty() && ref.key.size() <= 64 ? ref.key : "");
  for (char ch : key) {
    if (ch < '0' || ch > '9') key.clear();
  }
  // An event shares its invoice's key: it gets its own name and row.
  std::string name = key.empty() ? "omie-" + ref.omie_id : key;
  if (v.kind == DocumentKind::kEvent) name = key + "-evento-" + (v.event_type.empty() ? "x" : v.event_type);
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  }
  std::string cnpj = v.issuer_cnpj;
  bool cnpj_ok = cnpj.size() == 14;
  for (char ch : cnpj) cnpj_ok = cnpj_ok && std::isalnum(static_cast<unsigned char>(ch));
  if (!cnpj_ok) cnpj = "sem-cnpj";
  d.doc_key = v.kind == DocumentKind::kEvent ? name : (key.empty() ? "omie:" + ref.omie_id : key);
  d.zip_name = cnpj + "/" + c.period.text + "/" + name + ".xml";
  d.relative_path = c.destination + "/" + d.zip_name;
  d.sha256 = Sha256Hex(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  const std::string path = c.root + "/" + d.relative_path;
  std::error_code ec;
  bool same = std::filesystem::file_size(path, ec) == bytes.size() && !ec && Sha256Hex(ReadFile(path)) == d.sha256;
  if (!same) WriteFileAtomically(path, bytes);
  if (c.store != nullptr) {
    c.store->Upsert({.task_id = c.task_id,
                     .account = c.account,
                     .doc_key = d.doc_key,
                     .period = c.period.text,
                     .omie_id = ref.omie_id,
                     .kind = std::string(KindName(v.kind)),
                     .path = d.relative_path,
                     .sha256 = d.sha256,
                     .size_bytes = d.size,
                     .valid = v.Valid(),
                     .failed_checks = v.failed});
  }
  return d;
}

}  // namespace fila::nfe
