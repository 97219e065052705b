#include "fila/diario/tjro_index.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/json_depth.h"

namespace fila::diario {
namespace {

using nlohmann::json;

// An index is an array of flat objects: anything deeper is not the index.
constexpr int kMaxDepth = 4;
constexpr size_t kMaxPath = 512;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A field that the site writes as a string of digits ("115"); a JSON
// integer is taken too. -1: absent, another type, or not 1..`digits` digits.
int DigitsField(const json& entry, const char* key, size_t digits) {
  auto it = entry.find(key);
  if (it == entry.end()) return -1;
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    return v < 1000000 ? static_cast<int>(v) : -1;
  }
  if (!it->is_string()) return -1;
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > digits || !AllDigits(s)) return -1;
  return std::stoi(s);
}

bool PathCharsOk(std::string_view path) {
  if (path.empty() || path.size() > kMaxPath || path[0] != '/') return false;
  if (path.find("//") != std::string_view::npos || path.find("/.") != std::string_view::npos) return false;
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool SuffixOk(std::string_view s) {
  if (s.empty() || s.size() > 16) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')) return false;
  }
  return true;
}

}  // namespace

std::string Edition::Key() const {
  return std::to_string(date.year) + ":" + std::to_string(number) + (suffix.empty() ? "" : ":" + suffix);
}

std::string UrlOrigin(const std::string& url, const std::string& field) {
  const std::string lower = Lower(url.substr(0, 8));
  const size_t scheme_end = lower.rfind("https://", 0) == 0 ? 8 : lower.rfind("http://", 0) == 0 ? 7 : 0;
  if (scheme_end == 0) throw PermanentError(field + " must be an http(s) URL", field);
  const size_t end = url.find_first_of("/?#", scheme_end);
  const std::string authority = url.substr(scheme_end, end == std::string::npos ? std::string::npos : end - scheme_end);
  if (authority.empty() || authority.find('@') != std::string::npos || authority.find('\\') != std::string::npos) {
    throw PermanentError(field + " has no host (or carries credentials)", field);
  }
  return Lower(url.substr(0, scheme_end)) + Lower(authority);
}

std::string ResolveOnTribunalHost(const std::string& origin, std::string_view reference, const std::string& field) {
  std::string_view path = reference;
  if (reference.size() > 1 && reference[0] == '/' && reference[1] == '/') {
    throw PermanentError(field + " names another host (scheme-relative URL); only the tribunal's is fetched", field);
  }
  if (reference.rfind("/", 0) != 0) {
    const std::string ref(reference.substr(0, kMaxPath + 64));
    std::string ref_origin;
    try {
      ref_origin = UrlOrigin(ref, field);
    } catch (const PermanentError&) {
      throw PermanentError(field + " is neither a path on the tribunal's host nor an http(s) URL", field);
    }
    if (ref_origin != origin) {
      throw PermanentError(field + " names another host than the tribunal's (" + origin +
                               "); only the tribunal's is fetched",
                           field);
    }
    path = reference.substr(ref_origin.size());
  }
  if (!PathCharsOk(path)) {
    throw PermanentError(field + " is not a plain path (/, letters, digits, . _ -, no '..', at most 512)", field);
  }
  return origin + std::string(path);
}

IndexParse ParseTjroIndex(std::string_view body, int year, const std::string& origin) {
  if (body.size() > kMaxIndexBytes) {
    throw PermanentError("the index of " + std::to_string(year) + " is larger than " +
                             std::to_string(kMaxIndexBytes) + " bytes",
                         "index");
  }
  try {
    CheckJsonDepth(body, kMaxDepth, "index", "index");
  } catch (const PermanentError&) {
    throw TransientError("the index of " + std::to_string(year) + " nests deeper than an index does: not the index");
  }
  const json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) {
    throw TransientError("the index of " + std::to_string(year) +
                         " is not JSON (a block page or a cut-off answer)");
  }
  if (!doc.is_array()) throw TransientError("the index of " + std::to_string(year) + " is not a JSON array");
  if (doc.size() > kMaxIndexEntries) {
    throw PermanentError("the index of " + std::to_string(year) + " has " + std::to_string(doc.size()) +
                             " entries; at most " + std::to_string(kMaxIndexEntries) + " are read",
                         "index");
  }
  IndexParse out;
  std::set<std::string> seen;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& e = doc[i];
    const std::string at = "entry " + std::to_string(i) + ": ";
    if (!e.is_object()) {
      out.rejected.push_back(at + "not an object");
      continue;
    }
    const int y = DigitsField(e, "year", 4);
    const int m = DigitsField(e, "month", 2);
    const int d = DigitsField(e, "day", 2);
    const int number = DigitsField(e, "number", 6);
    if (y < 0 || m < 0 || d < 0 || number < 0) {
      out.rejected.push_back(at + "year, month, day or number missing or not digits");
      continue;
    }
    if (y != year) {
      out.rejected.push_back(at + "of year " + std::to_string(y) + ", not " + std::to_string(year));
      continue;
    }
    Edition ed;
    ed.number = number;
    try {
      char iso[16];
      std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, m, d);
      ed.date = Date::Parse(iso, "day");
    } catch (const PermanentError&) {
      out.rejected.push_back(at + "not a real date");
      continue;
    }
    if (auto s = e.find("sufix"); s != e.end()) {
      if (!s->is_string() || !SuffixOk(s->get_ref<const std::string&>())) {
        out.rejected.push_back(at + "sufix is not 1 to 16 letters, digits or dots");
        continue;
      }
      ed.suffix = s->get<std::string>();
    }
    auto url = e.find("url");
    if (url == e.end() || !url->is_string()) {
      out.rejected.push_back(at + "url missing or not a string");
      continue;
    }
    try {
      ed.path = ResolveOnTribunalHost(origin, url->get_ref<const std::string&>(), "url").substr(origin.size());
    } catch (const PermanentError& err) {
      out.rejected.push_back(at + err.what());
      continue;
    }
    if (!seen.insert(ed.Key()).second) {
      out.rejected.push_back(at + "edition " + ed.Key() + " listed twice");
      continue;
    }
    out.editions.push_back(std::move(ed));
  }
  return out;
}

Edition EditionFromPath(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  auto bad = [&] { return PermanentError("'" + name.substr(0, 80) + "' is not a gazette file name", "path"); };
  // <yyyymmdd><digits>-NR<number>[-<SUFFIX>].pdf
  if (name.size() < 16 || !AllDigits(name.substr(0, 8)) || name.size() < 4 ||
      name.compare(name.size() - 4, 4, ".pdf") != 0) {
    throw bad();
  }
  const size_t nr = name.find("-NR");
  if (nr == std::string::npos) throw bad();
  size_t end = nr + 3;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  if (end == nr + 3 || end - nr - 3 > 6) throw bad();
  Edition ed;
  ed.date = Date::Parse(name.substr(0, 4) + "-" + name.substr(4, 2) + "-" + name.substr(6, 2), "path");
  ed.number = std::stoi(name.substr(nr + 3, end - nr - 3));
  if (name[end] == '-') {
    ed.suffix = name.substr(end + 1, name.size() - 4 - end - 1);
    if (!SuffixOk(ed.suffix)) throw bad();
  } else if (end != name.size() - 4) {
    throw bad();
  }
  ed.path = path;
  return ed;
}

TjroSite TjroSite::FromEnv() {
  TjroSite s;
  if (auto v = EnvOr("FILA_DIARIO_TJRO_INDEX_URL", ""); !v.empty()) s.index_url = v;
  if (auto v = EnvOr("FILA_DIARIO_TJRO_LATEST_URL", ""); !v.empty()) s.latest_url = v;
  const std::string origin = s.Origin();
  if (UrlOrigin(s.latest_url, "FILA_DIARIO_TJRO_LATEST_URL") != origin) {
    throw PermanentError("FILA_DIARIO_TJRO_LATEST_URL must be on the index's host (" + origin + ")",
                         "FILA_DIARIO_TJRO_LATEST_URL");
  }
  return s;
}


std::string IndexUrlOfYear(const std::string& index_url, int year) {
  return index_url + (index_url.find('?') == std::string::npos ? "?" : "&") + "ano=" + std::to_string(year);
}

}  // namespace fila::diario
