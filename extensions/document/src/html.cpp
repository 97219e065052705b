// HTML to text with gumbo: the only translation unit that includes <gumbo.h>.
#include <gumbo.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include "extract_formats.h"
#include "fila/core/errors.h"

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

constexpr size_t kMaxHeadingTitle = 256;

// Builds the text: whitespace collapsed outside <pre>, a blank line around
// blocks, a line break for <br>. The walk keeps its own stack: nothing
// recurses on the document's depth.
class TextWriter final {
 public:
  explicit TextWriter(ExtractedText& doc) : doc_(doc) {}

  void Walk(const GumboNode* root) {
    Enter(root, false);
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      if (frame.next < frame.children->length) {
        const bool pre = frame.pre;
        Enter(static_cast<const GumboNode*>(frame.children->data[frame.next++]), pre);
        continue;
      }
      if (frame.level > 0 && doc_.text.size() > frame.heading_start) {
        doc_.headings.push_back({frame.heading_start, frame.level, Title(frame.heading_start)});
      }
      if (frame.block) Break(2);
      stack_.pop_back();
    }
  }

 private:
  struct Frame {
    const GumboVector* children;
    unsigned next;
    bool pre;  // inside <pre>: whitespace kept
    bool block;
    int level;  // heading level, 0 when not a heading
    size_t heading_start;
  };

  // Emits what a node contributes before its children, and pushes the
  // element whose children come next.
  void Enter(const GumboNode* node, bool pre) {
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
    stack_.push_back({children, 0, pre || tag == GUMBO_TAG_PRE, block, level, heading_start});
  }

  bool AtLineStart() const { return doc_.text.empty() || doc_.text.back() == '\n'; }

  // A heading's text, cut on a character boundary: headings nested in
  // headings (through a <div>) would otherwise copy the text once per level.
  std::string Title(size_t start) const {
    size_t end = std::min(doc_.text.size(), start + kMaxHeadingTitle);
    while (end > start && end < doc_.text.size() && (static_cast<unsigned char>(doc_.text[end]) & 0xC0) == 0x80) {
      --end;
    }
    return doc_.text.substr(start, end - start);
  }

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
      if (IsHtmlSpace(c)) {
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
  std::vector<Frame> stack_;
  int pending_break_ = 0;
  bool pending_space_ = false;
};

bool Uncounted(GumboTag tag) { return tag == GUMBO_TAG_HTML || tag == GUMBO_TAG_HEAD || tag == GUMBO_TAG_BODY; }

// The real tree's shape, counted as ScanHtml estimates it (<html>, <head>
// and <body> left out), without recursion.
HtmlShape TreeShape(const GumboNode* root) {
  HtmlShape shape;
  std::vector<std::pair<const GumboNode*, uint64_t>> stack{{root, 0}};
  while (!stack.empty()) {
    const auto [node, depth] = stack.back();
    stack.pop_back();
    const GumboVector* children = nullptr;
    uint64_t below = depth;
    if (node->type == GUMBO_NODE_DOCUMENT) {
      children = &node->v.document.children;
    } else if (node->type == GUMBO_NODE_ELEMENT || node->type == GUMBO_NODE_TEMPLATE) {
      children = &node->v.element.children;
      if (!Uncounted(node->v.element.tag)) {
        ++shape.elements;
        below = depth + 1;
        shape.depth = std::max(shape.depth, below);
      }
    }
    if (children == nullptr) continue;
    for (unsigned i = 0; i < children->length; ++i) {
      stack.emplace_back(static_cast<const GumboNode*>(children->data[i]), below);
    }
  }
  return shape;
}

// Every block gumbo allocates, in a list, so that the tree is freed by one
// loop: gumbo_destroy_output recurses once per level of nesting (120,000
// nested elements overflow a 1 MiB stack). Allocation goes through
// operator new, so that fila-extract's new-handler reports exhausted
// memory as such.
class GumboBlocks final {
 public:
  GumboBlocks() = default;
  GumboBlocks(const GumboBlocks&) = delete;
  GumboBlocks& operator=(const GumboBlocks&) = delete;
  ~GumboBlocks() {
    while (head_.next != &head_) {
      Block* block = head_.next;
      Unlink(block);
      ::operator delete(block);
    }
  }

  static void* Allocate(void* self, size_t size) {
    auto* blocks = static_cast<GumboBlocks*>(self);
    auto* block = static_cast<Block*>(::operator new(sizeof(Block) + size));
    block->prev = &blocks->head_;
    block->next = blocks->head_.next;
    blocks->head_.next->prev = block;
    blocks->head_.next = block;
    return block + 1;
  }

  static void Deallocate(void* /*self*/, void* pointer) {
    if (pointer == nullptr) return;
    Block* block = static_cast<Block*>(pointer) - 1;
    Unlink(block);
    ::operator delete(block);
  }

 private:
  struct alignas(std::max_align_t) Block {
    Block* prev;
    Block* next;
  };
  static void Unlink(Block* block) {
    block->prev->next = block->next;
    block->next->prev = block->prev;
  }
  Block head_{&head_, &head_};
};

}  // namespace

void CheckHtmlShape(const HtmlShape& shape, const extract::Budget& budget) {
  if (shape.elements > budget.max_html_elements) {
    extract::ThrowOverBudget(
        (shape.cut ? "more than " + std::to_string(budget.max_html_elements) : std::to_string(shape.elements)) +
            " HTML elements",
        budget.max_html_elements, "FILA_EXTRACT_MAX_HTML_ELEMENTS");
  }
  if (shape.depth > budget.max_html_depth) {
    extract::ThrowOverBudget("HTML elements nested " + std::to_string(shape.depth) + " deep", budget.max_html_depth,
                             "FILA_EXTRACT_MAX_HTML_DEPTH");
  }
}

namespace {

// The tree of `html`, allocated in `blocks` (freed with them, never by
// gumbo_destroy_output: see GumboBlocks).
const GumboOutput* Parse(const std::string& html, GumboBlocks& blocks) {
  GumboOptions options = kGumboDefaultOptions;
  options.allocator = &GumboBlocks::Allocate;
  options.deallocator = &GumboBlocks::Deallocate;
  options.userdata = &blocks;
  // Parse errors are not used, and gumbo copies the stack of open elements
  // into each: 65,000 unclosed <div>s made gigabytes of them.
  options.max_errors = 0;
  const GumboOutput* output = gumbo_parse_with_options(&options, html.data(), html.size());
  if (output == nullptr) throw PermanentError("HTML could not be parsed");
  return output;
}

}  // namespace

HtmlShape ParsedHtmlShape(const std::string& html) {
  GumboBlocks blocks;
  return TreeShape(Parse(html, blocks)->document);
}

void ExtractHtml(const std::string& html, const extract::Budget& budget, ExtractedText& doc) {
  CheckHtmlShape(ScanHtml(html, budget.max_html_elements), budget);
  GumboBlocks blocks;
  const GumboOutput* output = Parse(html, blocks);
  CheckHtmlShape(TreeShape(output->document), budget);
  TextWriter writer(doc);
  writer.Walk(output->document);
}

}  // namespace fila::document
