// The shape of an HTML document's tree, estimated from its markup in one
// linear pass before gumbo builds the tree. gumbo's time grows with the
// number of elements times their depth (120,000 nested <div>s take it half
// a minute), and its tree may hold far more elements than the markup has
// tags (unclosed formatting elements are cloned into every later paragraph:
// 18 KB made a million elements, 378 MB), so a document over the budget is
// refused before that. The tree-building rules that decide depth and count
// are modelled: void and raw text elements, end tags within their scope,
// implied end tags (p, li, dd/dt, option, ruby, table parts), implied
// <tbody>/<tr>, and the reconstruction of active formatting elements (with
// markers and the limit of three identical ones). The estimate is checked
// again on the real tree (html.cpp). Work is linear in the markup plus the
// elements counted, and stops once they are over the budget.
#include <algorithm>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "extract_formats.h"

namespace fila::document {
namespace {

enum class Kind : uint8_t { kNormal, kVoid, kRawText, kPlaintext, kIgnored };

// Scopes of HTML's "has an element in ... scope": the elements that bound
// how far an end tag (or an implied one) may reach down the stack.
enum Scope : uint8_t { kDefault, kButton, kListItem, kTable, kScopes };

enum Group : uint8_t { kNoGroup, kLi, kDdDt, kOption, kOptgroup, kRuby, kRow, kCell, kSection };

struct TagInfo {
  Kind kind = Kind::kNormal;
  uint8_t boundary = 0;      // bit per Scope this element bounds
  bool closes_p = false;     // a block start tag: closes an open <p>, reconstructs nothing
  bool table_part = false;   // only inside a table; its end tags look in table scope
  bool heading = false;
  bool formatting = false;   // kept in the list of active formatting elements
  bool marker = false;       // opens a new level of that list
  Group group = kNoGroup;    // a start tag closes an open element of the same group
};

constexpr uint8_t Bit(Scope s) { return static_cast<uint8_t>(1u << s); }
constexpr uint8_t kAllButTable = Bit(kDefault) | Bit(kButton) | Bit(kListItem);

const std::unordered_map<std::string, TagInfo>& Known() {
  static const auto* known = [] {
    auto* m = new std::unordered_map<std::string, TagInfo>();
    for (const char* t : {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                          "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame", "image"}) {
      (*m)[t].kind = Kind::kVoid;
    }
    for (const char* t : {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}) {
      (*m)[t].kind = Kind::kRawText;
    }
    (*m)["plaintext"].kind = Kind::kPlaintext;
    for (const char* t : {"html", "head", "body"}) (*m)[t].kind = Kind::kIgnored;
    for (const char* t : {"applet", "caption", "td", "th", "marquee", "object"}) (*m)[t].boundary |= kAllButTable;
    for (const char* t : {"table", "template"}) (*m)[t].boundary |= kAllButTable | Bit(kTable);
    (*m)["button"].boundary |= Bit(kButton);
    for (const char* t : {"ol", "ul"}) (*m)[t].boundary |= Bit(kListItem);
    for (const char* t : {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
                          "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu",
                          "nav", "ol", "p", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
                          "pre", "listing", "form", "table", "hr", "xmp", "plaintext", "li", "dd", "dt"}) {
      (*m)[t].closes_p = true;
    }
    for (const char* t : {"h1", "h2", "h3", "h4", "h5", "h6"}) (*m)[t].heading = true;
    for (const char* t : {"caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "td", "th"}) {
      (*m)[t].table_part = true;
    }
    for (const char* t : {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
                          "tt", "u"}) {
      (*m)[t].formatting = true;
    }
    for (const char* t : {"applet", "object", "marquee", "template", "td", "th", "caption"}) (*m)[t].marker = true;
    (*m)["li"].group = kLi;
    for (const char* t : {"dd", "dt"}) (*m)[t].group = kDdDt;
    (*m)["option"].group = kOption;
    (*m)["optgroup"].group = kOptgroup;
    for (const char* t : {"rb", "rt", "rtc", "rp"}) (*m)[t].group = kRuby;
    (*m)["tr"].group = kRow;
    for (const char* t : {"td", "th"}) (*m)[t].group = kCell;
    for (const char* t : {"thead", "tbody", "tfoot"}) (*m)[t].group = kSection;
    return m;
  }();
  return *known;
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The stack of open elements and the list of active formatting elements,
// with indexes that make every step O(1) or O(log n) amortised.
class TreeModel final {
 public:
  explicit TreeModel(uint64_t max_elements)
      : max_elements_(max_elements),
        p_(Intern("p")),
        a_(Intern("a")),
        table_(Intern("table")),
        tbody_(Intern("tbody")),
        thead_(Intern("thead")),
        tfoot_(Intern("tfoot")),
        tr_(Intern("tr")),
        select_(Intern("select")) {
    levels_.emplace_back();
  }

  bool Over() const { return elements_ > max_elements_; }
  HtmlShape Shape() const { return {elements_, depth_, Over()}; }

  uint32_t Intern(const std::string& name) {
    auto [it, added] = ids_.try_emplace(name, static_cast<uint32_t>(info_.size()));
    if (added) {
      const auto known = Known().find(name);
      info_.push_back(known == Known().end() ? TagInfo{} : known->second);
      positions_.emplace_back();
      foreign_tag_.push_back(name == "svg" || name == "math");
      if (info_.back().group != kNoGroup) grouped_.push_back(it->second);
    }
    return it->second;
  }
  const TagInfo& Info(uint32_t id) const { return info_[id]; }

  // Text reconstructs the formatting elements closed around it.
  void Text() { Reconstruct(); }

  // A start tag; `attributes` tells identical formatting elements apart.
  // Returns false when the tag makes no element (a table part outside a
  // table).
  bool Start(uint32_t id, uint64_t attributes, bool self_closing) {
    const TagInfo& info = info_[id];
    if (InSelect()) {
      // Inside <select> only options (and what ends the select) count.
      const TagInfo& top = info_[stack_.back()];
      if (info.group == kOption || info.group == kOptgroup) {
        if (top.group == kOption) PopToSize(stack_.size() - 1);
        if (info.group == kOptgroup && info_[stack_.back()].group == kOptgroup) PopToSize(stack_.size() - 1);
        Insert(id);
        return true;
      }
      if (id == select_) {
        PopTo(select_);
        return false;
      }
      if (info.kind != Kind::kRawText || id == select_) return false;
    }
    if (info.table_part && !InScope(table_, kTable)) return false;
    if (id == a_ && Latest(a_) != nullptr) End(a_);  // an <a> closes the open one
    if (info.closes_p && InScope(p_, kButton)) PopTo(p_);
    if (info.heading && !stack_.empty() && info_[stack_.back()].heading) PopTo(stack_.back());
    if (id == select_) Reconstruct();
    if (info.group != kNoGroup) CloseGroup(info.group, info.table_part ? kTable : info.group == kLi ? kListItem : kDefault);
    if (id == tr_ && !InScope(tbody_, kTable) && !InScope(thead_, kTable) && !InScope(tfoot_, kTable)) {
      Insert(tbody_);
    }
    if (info.group == kCell && !InScope(tr_, kTable)) {
      if (!InScope(tbody_, kTable) && !InScope(thead_, kTable) && !InScope(tfoot_, kTable)) Insert(tbody_);
      Insert(tr_);
    }
    if (!info.closes_p && !info.table_part) Reconstruct();
    if (info.kind != Kind::kNormal || (self_closing && foreign_ > 0)) {
      ++elements_;
      depth_ = std::max<uint64_t>(depth_, stack_.size() + 1);
      return true;
    }
    Insert(id);
    if (info.formatting) Remember(id, attributes);
    return true;
  }

  void End(uint32_t id) {
    const TagInfo& info = info_[id];
    if (InSelect() && id != select_ && info.group != kOption && info.group != kOptgroup) return;
    if (info.formatting) {
      if (Entry* entry = Latest(id)) {
        // The adoption agency, roughly: the element closes if it is open,
        // and leaves the list either way.
        if (entry->open >= 0) PopToSize(static_cast<size_t>(entry->open));
        Forget(entry);
        return;
      }
    }
    if (InScope(id, info.table_part || id == table_ ? kTable : kDefault)) PopTo(id);
  }

 private:
  struct Entry {
    uint32_t id;
    uint64_t key;
    uint64_t serial;
    int64_t open;  // its position on the stack, or -1 once closed
    std::list<Entry>::iterator self;
  };
  // The list of active formatting elements after one marker.
  struct Level {
    std::list<Entry> entries;
    std::unordered_map<uint64_t, std::deque<Entry*>> identical;  // by name and attributes, oldest first
    std::unordered_map<uint32_t, std::map<uint64_t, Entry*>> by_name;  // by serial
  };

  bool InSelect() const { return InScope(select_, kDefault); }

  bool InScope(uint32_t id, Scope scope) const {
    const auto& at = positions_[id];
    if (at.empty()) return false;
    return boundaries_[scope].empty() || at.back() >= boundaries_[scope].back();
  }

  void Insert(uint32_t id) {
    ++elements_;
    const uint32_t position = static_cast<uint32_t>(stack_.size());
    stack_.push_back(id);
    entry_at_.push_back(nullptr);
    positions_[id].push_back(position);
    for (int s = 0; s < kScopes; ++s) {
      if (info_[id].boundary & (1u << s)) boundaries_[s].push_back(position);
    }
    foreign_ += foreign_tag_[id];
    if (info_[id].marker) levels_.emplace_back();
    depth_ = std::max<uint64_t>(depth_, stack_.size());
  }

  void PopToSize(size_t size) {
    while (stack_.size() > size) {
      const uint32_t top = stack_.back();
      const uint32_t position = static_cast<uint32_t>(stack_.size() - 1);
      if (Entry* entry = entry_at_.back()) entry->open = -1;
      stack_.pop_back();
      entry_at_.pop_back();
      positions_[top].pop_back();
      for (auto& b : boundaries_) {
        if (!b.empty() && b.back() == position) b.pop_back();
      }
      foreign_ -= foreign_tag_[top];
      if (info_[top].marker && levels_.size() > 1) levels_.pop_back();
    }
  }

  void PopTo(uint32_t id) {
    if (!positions_[id].empty()) PopToSize(positions_[id].back());
  }

  void CloseGroup(Group group, Scope scope) {
    for (uint32_t id : grouped_) {
      if (info_[id].group == group && InScope(id, scope)) PopTo(id);
    }
  }

  Entry* Latest(uint32_t id) {
    auto& by_name = levels_.back().by_name;
    const auto it = by_name.find(id);
    return it == by_name.end() || it->second.empty() ? nullptr : it->second.rbegin()->second;
  }

  void Remember(uint32_t id, uint64_t attributes) {
    Level& level = levels_.back();
    const uint64_t key = std::hash<uint64_t>{}(attributes ^ (uint64_t{id} * 0x9E3779B97F4A7C15ull));
    level.entries.push_back({id, key, serial_++, static_cast<int64_t>(stack_.size() - 1), {}});
    Entry* entry = &level.entries.back();
    entry->self = std::prev(level.entries.end());
    entry_at_.back() = entry;
    level.by_name[id][entry->serial] = entry;
    auto& same = level.identical[key];
    same.push_back(entry);
    // Noah's Ark: at most three identical entries; the oldest goes.
    if (same.size() > 3) Forget(same.front());
  }

  void Forget(Entry* entry) {
    Level& level = levels_.back();
    auto& same = level.identical[entry->key];
    if (!same.empty() && same.front() == entry) {
      same.pop_front();
    } else if (!same.empty() && same.back() == entry) {
      same.pop_back();
    }
    level.by_name[entry->id].erase(entry->serial);
    if (entry->open >= 0) entry_at_[static_cast<size_t>(entry->open)] = nullptr;
    level.entries.erase(entry->self);
  }

  // Reopens the closed entries after the last open one, in order: each is
  // a new element of the tree.
  void Reconstruct() {
    auto& entries = levels_.back().entries;
    auto first = entries.end();
    while (first != entries.begin() && std::prev(first)->open < 0) --first;
    for (auto it = first; it != entries.end() && !Over(); ++it) {
      Insert(it->id);
      it->open = static_cast<int64_t>(stack_.size() - 1);
      entry_at_.back() = &*it;
    }
  }

  uint64_t max_elements_;
  uint64_t elements_ = 0;
  uint64_t depth_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<TagInfo> info_;
  std::vector<std::vector<uint32_t>> positions_;
  std::vector<bool> foreign_tag_;
  std::vector<uint32_t> grouped_;  // the ids of elements with a group: a few known tags
  std::vector<uint32_t> stack_;
  std::vector<Entry*> entry_at_;  // per stack position: its active formatting entry, if any
  std::vector<uint32_t> boundaries_[kScopes];
  std::vector<Level> levels_;  // one per marker open, and the document's
  uint64_t serial_ = 0;
  int foreign_ = 0;
  uint32_t p_, a_, table_, tbody_, thead_, tfoot_, tr_, select_;
};

// Past the end of a comment, doctype or processing instruction at `at`.
size_t SkipMarkup(std::string_view html, size_t at) {
  if (html.substr(at, 4) == "<!--") {
    const size_t end = html.find("-->", at + 4);
    return end == std::string_view::npos ? html.size() : end + 3;
  }
  const size_t end = html.find('>', at + 1);
  return end == std::string_view::npos ? html.size() : end + 1;
}

// Where the end tag of raw text element `name` starts, from `from`.
size_t RawTextEnd(std::string_view html, size_t from, const std::string& name) {
  for (size_t at = html.find("</", from); at != std::string_view::npos; at = html.find("</", at + 2)) {
    size_t i = 0;
    while (i < name.size() && at + 2 + i < html.size() && Lower(html[at + 2 + i]) == name[i]) ++i;
    const size_t after = at + 2 + i;
    if (i == name.size() && (after >= html.size() || IsHtmlSpace(html[after]) || html[after] == '/' || html[after] == '>')) {
      return at;
    }
  }
  return html.size();
}

}  // namespace

HtmlShape ScanHtml(std::string_view html, uint64_t max_elements) {
  constexpr size_t kMaxName = 32;  // longer names are told apart by their start only
  TreeModel tree(max_elements);
  std::string name;
  size_t text_from = 0;
  for (size_t i = html.find('<'); i != std::string_view::npos && !tree.Over(); i = html.find('<', i)) {
    if (i > text_from) tree.Text();
    const bool end_tag = i + 1 < html.size() && html[i + 1] == '/';
    size_t j = i + 1 + (end_tag ? 1 : 0);
    if (j >= html.size() || !IsAlpha(html[j])) {
      const bool markup = j < html.size() && (html[j] == '!' || html[j] == '?' || end_tag);
      text_from = i = markup ? SkipMarkup(html, i) : i + 1;
      if (!markup) text_from = i - 1;  // a lone '<' is text
      continue;
    }
    name.clear();
    for (; j < html.size() && !IsHtmlSpace(html[j]) && html[j] != '/' && html[j] != '>'; ++j) {
      if (name.size() < kMaxName) name += Lower(html[j]);
    }
    // The attributes, to the tag's end: a quoted value may hold a '>'.
    size_t k = j;
    while (k < html.size() && html[k] != '>') {
      if (html[k++] != '=') continue;
      while (k < html.size() && IsHtmlSpace(html[k])) ++k;
      if (k < html.size() && (html[k] == '"' || html[k] == '\'')) {
        const size_t close = html.find(html[k], k + 1);
        k = close == std::string_view::npos ? html.size() : close + 1;
      }
    }
    const bool self_closing = k > j && html[k - 1] == '/';
    const uint64_t attributes = std::hash<std::string_view>{}(html.substr(j, k - j));
    text_from = i = k < html.size() ? k + 1 : html.size();
    const uint32_t id = tree.Intern(name);
    const Kind kind = tree.Info(id).kind;
    if (kind == Kind::kIgnored) continue;
    if (end_tag) {
      tree.End(id);
      continue;
    }
    if (!tree.Start(id, attributes, self_closing)) continue;
    if (kind == Kind::kPlaintext) break;
    if (kind == Kind::kRawText) text_from = i = RawTextEnd(html, i, name);
  }
  return tree.Shape();
}

}  // namespace fila::document
