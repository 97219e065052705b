// HTML to text with gumbo: the only translation unit that includes <gumbo.h>.
#include <gumbo.h>

#include <memory>
#include <string>

#include "extract_formats.h"
#include "fila/errors.h"

namespace fila::document {
namespace {

bool Skipped(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_HEAD: case GUMBO_TAG_SVG: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_CANVAS: case GUMBO_TAG_SELECT: case GUMBO_TAG_BUTTON:
      return true;
    default:
      return false;
  }
}

bool Block(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_NAV: case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_MAIN: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
    case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_UL: case GUMBO_TAG_OL:
    case GUMBO_TAG_LI: case GUMBO_TAG_TABLE: case GUMBO_TAG_TR: case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_PRE: case GUMBO_TAG_FORM: case GUMBO_TAG_FIGURE: case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_DL: case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_HR:
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_BODY: case GUMBO_TAG_TITLE:
      return true;
    default:
      return false;
  }
}

int HeadingLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Builds the text: whitespace collapsed outside <pre>, a blank line around
// blocks, a line break for <br>.
class TextWriter final {
 public:
  explicit TextWriter(ExtractedText& doc) : doc_(doc) {}

  void Walk(const GumboNode* node, bool pre) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
        node->type == GUMBO_NODE_WHITESPACE) {
      Text(node->v.text.text, pre);
      return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) return;
    const GumboVector* children = node->type == GUMBO_NODE_DOCUMENT ? &node->v.document.children
                                                                     : &node->v.element.children;
    GumboTag tag = node->type == GUMBO_NODE_ELEMENT ? node->v.element.tag : GUMBO_TAG_UNKNOWN;
    if (Skipped(tag)) return;
    if (tag == GUMBO_TAG_BR) {
      Break(1);
      return;
    }
    const bool block = Block(tag);
    if (block) Break(2);
    if (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) pending_space_ = !AtLineStart();
    const int level = HeadingLevel(tag);
    size_t heading_start = 0;
    if (level > 0) {
      Flush();
      heading_start = doc_.text.size();
    }
    for (unsigned i = 0; i < children->length; ++i) {
      Walk(static_cast<const GumboNode*>(children->data[i]), pre || tag == GUMBO_TAG_PRE);
    }
    if (level > 0 && doc_.text.size() > heading_start) {
      doc_.headings.push_back({heading_start, level, doc_.text.substr(heading_start)});
    }
    if (block) Break(2);
  }

 private:
  bool AtLineStart() const { return doc_.text.empty() || doc_.text.back() == '\n'; }

  void Break(int lines) { pending_break_ = std::max(pending_break_, lines); }

  // Emits the pending break; the text never starts with one.
  void Flush() {
    if (!doc_.text.empty() && pending_break_ > 0) {
      while (!doc_.text.empty() && doc_.text.back() == ' ') doc_.text.pop_back();
      int have = 0;
      for (auto it = doc_.text.rbegin(); it != doc_.text.rend() && *it == '\n' && have < 2; ++it) ++have;
      for (; have < pending_break_; ++have) doc_.text += '\n';
      pending_space_ = false;
    }
    pending_break_ = 0;
  }

  void Text(const char* text, bool pre) {
    std::string_view s(text);
    if (pre) {
      if (s.empty()) return;
      Flush();
      doc_.text.append(s);
      return;
    }
    for (char c : s) {
      if (IsSpace(c)) {
        pending_space_ = true;
        continue;
      }
      if (pending_break_ > 0) {
        Flush();
      } else if (pending_space_ && !AtLineStart() && doc_.text.back() != ' ') {
        doc_.text += ' ';
      }
      pending_space_ = false;
      doc_.text += c;
    }
  }

  ExtractedText& doc_;
  int pending_break_ = 0;
  bool pending_space_ = false;
};

}  // namespace

void ExtractHtml(const std::string& html, ExtractedText& doc) {
  std::unique_ptr<GumboOutput, void (*)(GumboOutput*)> output(
      gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()),
      [](GumboOutput* o) { gumbo_destroy_output(&kGumboDefaultOptions, o); });
  if (!output) throw PermanentError("HTML could not be parsed");
  TextWriter writer(doc);
  writer.Walk(output->document, false);
}

}  // namespace fila::document
