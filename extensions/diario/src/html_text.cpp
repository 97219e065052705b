#include "html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <climits>
#include <memory>

namespace fila::diario {
namespace {

using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

bool Named(const xmlNode* node, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (xmlStrcasecmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0) return true;
  }
  return false;
}

// Line breaks as the text means them (CR LF, LF CR, a lone CR and a form
// feed are each one LF), a no-break space as a space, no breaks at the end
// (an implied paragraph's).
std::string NormaliseBreaks(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      const bool pair = (i + 1 < text.size() && text[i + 1] == '\n') || (!out.empty() && out.back() == '\n');
      if (!pair) out += '\n';
    } else if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
      out += ' ';
      ++i;
    } else {
      out += c == '\f' ? '\n' : c;
    }
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// What leaving `node` adds after its children.
void Close(const xmlNode* node, std::string& out) {
  if (node->type != XML_ELEMENT_NODE) return;
  if (Named(node, {"p", "div", "tr", "li"})) out += '\n';
  if (Named(node, {"td", "th"})) out += ' ';
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  if (html.empty() || html.size() > INT_MAX) return std::string(html.substr(0, 0));
  // Not HTML_PARSE_NOIMPLIED: without the implied <body>, libxml2 nests
  // each <p> in the one before it.
  const int options = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING;
  DocPtr doc(htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8", options), xmlFreeDoc);
  if (!doc) return NormaliseBreaks(std::string(html));
  std::string out;
  out.reserve(html.size());
  // Depth-first over the tree with its parent links: no recursion.
  xmlNode* node = doc->children;
  while (node != nullptr) {
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (node->content != nullptr) out += reinterpret_cast<const char*>(node->content);
    } else if (node->type == XML_ELEMENT_NODE && Named(node, {"br"})) {
      out += '\n';
    }
    if (node->type == XML_ELEMENT_NODE && node->children != nullptr) {
      node = node->children;
      continue;
    }
    Close(node, out);
    while (node != nullptr && node->next == nullptr) {
      node = node->parent;
      if (node == nullptr || node->type == XML_HTML_DOCUMENT_NODE || node->type == XML_DOCUMENT_NODE) {
        node = nullptr;
        break;
      }
      Close(node, out);
    }
    if (node != nullptr) node = node->next;
  }
  return NormaliseBreaks(out);
}

}  // namespace fila::diario
