#include "xml_tree.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace fila::nfe::xml {

bool IsElement(const xmlNode* n, const char* local) {
  return n != nullptr && n->type == XML_ELEMENT_NODE &&
         std::strcmp(reinterpret_cast<const char*>(n->name), local) == 0;
}

bool InNamespace(const xmlNode* n, std::string_view href) {
  return n != nullptr && n->ns != nullptr && n->ns->href != nullptr &&
         reinterpret_cast<const char*>(n->ns->href) == href;
}

bool NamespaceStartsWith(const xmlNode* n, std::string_view prefix) {
  return n != nullptr && n->ns != nullptr && n->ns->href != nullptr &&
         std::string_view(reinterpret_cast<const char*>(n->ns->href)).substr(0, prefix.size()) == prefix;
}

xmlNode* Child(const xmlNode* parent, const char* local) {
  if (parent == nullptr) return nullptr;
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsElement(c, local)) return c;
  }
  return nullptr;
}

xmlNode* FirstElement(const xmlNode* parent) {
  if (parent == nullptr) return nullptr;
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return c;
  }
  return nullptr;
}

std::string Text(const xmlNode* n) {
  if (n == nullptr) return {};
  std::unique_ptr<xmlChar, decltype(xmlFree)> content(xmlNodeGetContent(n), xmlFree);
  if (!content) return {};
  std::string s(reinterpret_cast<const char*>(content.get()));
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string ChildText(const xmlNode* parent, const char* local) { return Text(Child(parent, local)); }

std::string Attr(const xmlNode* n, const char* name) {
  if (n == nullptr) return {};
  std::unique_ptr<xmlChar, decltype(xmlFree)> v(xmlGetProp(n, reinterpret_cast<const xmlChar*>(name)), xmlFree);
  return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

std::string Name(const xmlNode* n) { return n == nullptr ? std::string() : reinterpret_cast<const char*>(n->name); }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string PadLeft(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

std::string Environment(const std::string& tp_amb) {
  if (tp_amb == "1") return "production";
  if (tp_amb == "2") return "homologation";
  return {};
}

}  // namespace fila::nfe::xml
