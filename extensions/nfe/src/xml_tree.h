#pragma once

// Read-only helpers over a libxml2 tree for the verifier (private to the
// nfe library; libxml2 types stay inside extensions/nfe/src).

#include <libxml/tree.h>

#include <string>
#include <string_view>

namespace fila::nfe::xml {

// An element whose local name is `local` (any namespace).
bool IsElement(const xmlNode* n, const char* local);
bool InNamespace(const xmlNode* n, std::string_view href);
bool NamespaceStartsWith(const xmlNode* n, std::string_view prefix);
// The first child element named `local`, or nullptr (nullptr parent too).
xmlNode* Child(const xmlNode* parent, const char* local);
xmlNode* FirstElement(const xmlNode* parent);
// Text content, trimmed of XML white space; "" for nullptr.
std::string Text(const xmlNode* n);
std::string ChildText(const xmlNode* parent, const char* local);
std::string Attr(const xmlNode* n, const char* name);
std::string Name(const xmlNode* n);

bool AllDigits(std::string_view s);
std::string PadLeft(const std::string& s, size_t width);
// "1" production, "2" homologation, else "".
std::string Environment(const std::string& tp_amb);

}  // namespace fila::nfe::xml
