#include "fila/document/chunker.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>
#include <string_view>

#include "fila/core/errors.h"
#include "fila/document/utf8.h"

namespace fila::document {
namespace {

struct Span {
  size_t begin = 0;  // bytes
  size_t end = 0;
  size_t length = 0;  // in the options' unit
};

// Separator levels, coarsest first. Each yields the byte positions where a
// new piece starts; the separator stays at the start of the following piece
// (LangChain's keep_separator), so pieces are contiguous slices.
enum class Level { kHeading1, kHeading2, kHeading3, kHeading4, kHeading5, kHeading6, kParagraph,
                   kLine, kSentence, kWord, kCodePoint };

constexpr Level kPlainLevels[] = {Level::kParagraph, Level::kLine, Level::kSentence, Level::kWord,
                                  Level::kCodePoint};
constexpr Level kMarkdownLevels[] = {Level::kHeading1, Level::kHeading2, Level::kHeading3,
                                     Level::kHeading4, Level::kHeading5, Level::kHeading6,
                                     Level::kParagraph, Level::kLine, Level::kSentence,
                                     Level::kWord, Level::kCodePoint};

bool IsBreak(char c) { return c == '\n' || c == '\r'; }
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }
bool IsSpace(char c) { return IsBlank(c) || IsBreak(c); }

// Bytes of the line break at `i` ("\r\n" is one), 0 when there is none.
size_t BreakLength(std::string_view t, size_t i, size_t end) {
  if (i >= end || !IsBreak(t[i])) return 0;
  return (t[i] == '\r' && i + 1 < end && t[i + 1] == '\n') ? 2 : 1;
}

class Splitter final {
 public:
  Splitter(std::string_view text, const ChunkOptions& options) : text_(text), options_(options) {}

  void Split(size_t begin, size_t end, const Level* levels, size_t count) {
    // The first level that cuts this text somewhere inside; a separator only
    // at the very start would leave it whole and recurse for nothing.
    std::vector<size_t> points;
    size_t chosen = 0;
    for (; chosen < count; ++chosen) {
      points = Points(begin, end, levels[chosen]);
      if (!points.empty()) break;
    }
    if (chosen == count) {  // cannot cut any finer: one over-long piece
      if (carry_) Emit(std::exchange(carry_, std::nullopt)->begin, begin);
      Emit(begin, end);
      return;
    }
    std::vector<Span> queue;
    size_t start = begin;
    points.push_back(end);
    for (size_t p : points) {
      if (p <= start) continue;
      Span piece{start, p, Length(start, p)};
      start = p;
      if (queue.empty() && carry_) queue.push_back(*std::exchange(carry_, std::nullopt));
      if (piece.length < options_.size) {
        queue.push_back(piece);
        continue;
      }
      // A piece of exactly `size` is split too (as LangChain does); the
      // queue is merged first, so no overlap crosses the big piece. Unlike
      // LangChain, a short queue (a heading, an intro line) is carried into
      // the big piece's first chunk instead of standing alone.
      const size_t queued = Total(queue);
      if (!queue.empty() && Blank(queue.front().begin, queue.back().end)) {
        // Only separators: nothing to keep (a chunk would trim them anyway).
      } else if (!queue.empty() && queued <= options_.size / 4 && levels[chosen] > Level::kHeading6) {
        // (Never across a Markdown heading: the carry would open another section's chunk.)
        carry_ = Span{queue.front().begin, queue.back().end, queued};
      } else {
        Merge(queue);
      }
      queue.clear();
      Split(piece.begin, piece.end, levels + chosen + 1, count - chosen - 1);
    }
    Merge(queue);
  }

  std::vector<std::pair<size_t, size_t>> Take() {
    if (carry_) Emit(carry_->begin, carry_->end);
    carry_.reset();
    return std::move(chunks_);
  }

 private:
  bool Blank(size_t begin, size_t end) const {
    for (size_t i = begin; i < end; ++i) {
      if (!IsSpace(text_[i])) return false;
    }
    return true;
  }

  static size_t Total(const std::vector<Span>& pieces) {
    size_t total = 0;
    for (const Span& p : pieces) total += p.length;
    return total;
  }

  size_t Length(size_t begin, size_t end) const {
    if (options_.unit == LengthUnit::kBytes) return end - begin;
    return CodePoints(text_.substr(begin, end - begin));
  }

  std::vector<size_t> Points(size_t begin, size_t end, Level level) const {
    std::vector<size_t> out;
    const std::string_view t = text_;
    if (begin >= end) return out;
    switch (level) {
      case Level::kParagraph:
        for (size_t i = begin; i < end;) {
          size_t n = BreakLength(t, i, end);
          if (n == 0) {
            ++i;
            continue;
          }
          size_t j = i + n;
          if (BreakLength(t, j, end) > 0 && i > begin) out.push_back(i);
          while (size_t m = BreakLength(t, j, end)) j += m;  // a run of blank lines is one separator
          i = j;
        }
        break;
      case Level::kLine:
        for (size_t i = begin; i < end;) {
          size_t n = BreakLength(t, i, end);
          if (n == 0) {
            ++i;
            continue;
          }
          if (i > begin) out.push_back(i);
          i += n;
        }
        break;
      case Level::kSentence:
        for (size_t i = begin + 1; i < end; ++i) {
          if (!IsBlank(t[i])) continue;
          char prev = t[i - 1];
          // Closing quotes and brackets may follow the full stop.
          size_t k = i - 1;
          while (k > begin && (prev == '"' || prev == '\'' || prev == ')' || prev == ']')) prev = t[--k];
          if (prev == '.' || prev == '!' || prev == '?') out.push_back(i);
          while (i + 1 < end && IsBlank(t[i + 1])) ++i;
        }
        break;
      case Level::kWord:
        for (size_t i = begin + 1; i < end; ++i) {
          if (IsSpace(t[i]) && !IsSpace(t[i - 1])) out.push_back(i);
        }
        break;
      case Level::kCodePoint:
        for (size_t i = begin + SequenceLength(static_cast<unsigned char>(t[begin])); i < end;
             i += SequenceLength(static_cast<unsigned char>(t[i]))) {
          out.push_back(i);
        }
        break;
      default: {  // Markdown ATX heading of exactly this level, at a line start
        const size_t hashes = static_cast<size_t>(level) - static_cast<size_t>(Level::kHeading1) + 1;
        for (size_t i = begin; i < end; ++i) {
          size_t n = BreakLength(t, i, end);
          if (n == 0) continue;
          size_t j = i + n;
          size_t h = 0;
          while (j + h < end && t[j + h] == '#') ++h;
          if (h == hashes && j + h < end && t[j + h] == ' ' && i > begin) out.push_back(i);
          i += n - 1;
        }
      }
    }
    return out;
  }

  // LangChain's greedy merge: fill a window up to `size`, emit it, then drop
  // pieces from its front until what is left (the overlap) is at most
  // `overlap` and the next piece fits.
  void Merge(const std::vector<Span>& pieces) {
    std::deque<Span> window;
    size_t total = 0;
    for (const Span& piece : pieces) {
      if (!window.empty() && total + piece.length > options_.size) {
        Emit(window.front().begin, window.back().end);
        while (!window.empty() &&
               (total > options_.overlap || total + piece.length > options_.size)) {
          total -= window.front().length;
          window.pop_front();
        }
      }
      window.push_back(piece);
      total += piece.length;
    }
    if (!window.empty()) Emit(window.front().begin, window.back().end);
  }

  void Emit(size_t begin, size_t end) {
    while (begin < end && IsSpace(text_[begin])) ++begin;
    while (end > begin && IsSpace(text_[end - 1])) --end;
    if (begin == end) return;
    // A window that repeats the previous chunk's tail exactly adds nothing.
    if (!chunks_.empty() && chunks_.back().first <= begin && chunks_.back().second >= end) return;
    // Whitespace trimmed off the front can leave a window starting where the
    // previous chunk did: that chunk is then a prefix of this one.
    if (!chunks_.empty() && chunks_.back().first == begin) {
      chunks_.back().second = end;
      return;
    }
    chunks_.emplace_back(begin, end);
  }

  std::string_view text_;
  const ChunkOptions& options_;
  std::vector<std::pair<size_t, size_t>> chunks_;
  std::optional<Span> carry_;  // short pieces waiting to open the next chunk
};

// Code-point offset of any byte offset in O(4096) with a checkpoint every 4 KiB.
class CodePointIndex final {
 public:
  explicit CodePointIndex(std::string_view text) : text_(text) {
    size_t count = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (i % kStep == 0) checkpoints_.push_back(count);
      count += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    }
  }
  size_t At(size_t byte) const {
    if (byte == 0) return 0;
    const size_t block = std::min(byte / kStep, checkpoints_.size() - 1);
    return checkpoints_[block] + CodePoints(text_.substr(block * kStep, byte - block * kStep));
  }

 private:
  static constexpr size_t kStep = 4096;
  std::string_view text_;
  std::vector<size_t> checkpoints_;
};

// The heading path in force at each heading (headings sorted by offset).
std::vector<std::string> HeadingPaths(const std::vector<Heading>& headings) {
  std::vector<std::string> paths;
  std::vector<const Heading*> stack;
  for (const Heading& h : headings) {
    while (!stack.empty() && stack.back()->level >= h.level) stack.pop_back();
    stack.push_back(&h);
    std::string path;
    for (const Heading* s : stack) {
      if (!path.empty()) path += " > ";
      path += s->title;
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

}  // namespace

void ValidateChunkOptions(const ChunkOptions& options) {
  if (options.size == 0) throw PermanentError("chunking.size must be at least 1", "payload.chunking.size");
  if (options.overlap >= options.size) {
    throw PermanentError("chunking.overlap (" + std::to_string(options.overlap) +
                             ") must be smaller than chunking.size (" +
                             std::to_string(options.size) + ")",
                         "payload.chunking.overlap");
  }
}

ChunkOptions ChunkingFor(size_t size, std::optional<size_t> overlap, LengthUnit unit, const ChunkingNames& names) {
  ChunkOptions o;
  o.unit = unit;
  o.size = size == 0 ? kDefaultChunkSize : size;
  if (o.size > kMaxChunkSize) {
    throw PermanentError(std::string(names.size) + " may be at most " + std::to_string(kMaxChunkSize),
                         std::string(names.field_prefix) + names.size);
  }
  o.overlap = overlap ? *overlap : std::min(kDefaultChunkOverlap, o.size / 5);
  if (o.overlap >= o.size) {
    throw PermanentError(std::string(names.overlap) + " (" + std::to_string(o.overlap) +
                             ") must be smaller than " + names.size + " (" + std::to_string(o.size) + ")",
                         std::string(names.field_prefix) + names.overlap);
  }
  return o;
}

std::vector<TextChunk> ChunkText(const ExtractedText& doc, const ChunkOptions& options) {
  ValidateChunkOptions(options);
  Splitter splitter(doc.text, options);
  if (doc.type == MediaType::kMarkdown) {
    splitter.Split(0, doc.text.size(), kMarkdownLevels, std::size(kMarkdownLevels));
  } else {
    splitter.Split(0, doc.text.size(), kPlainLevels, std::size(kPlainLevels));
  }
  const CodePointIndex index(doc.text);
  const std::vector<std::string> paths = HeadingPaths(doc.headings);
  std::vector<TextChunk> out;
  for (const auto& [begin, end] : splitter.Take()) {
    TextChunk c;
    c.text = doc.text.substr(begin, end - begin);
    c.byte_start = begin;
    c.byte_end = end;
    c.start = index.At(begin);
    c.end = c.start + CodePoints(c.text);
    if (!doc.page_starts.empty()) {
      auto it = std::upper_bound(doc.page_starts.begin(), doc.page_starts.end(), begin);
      c.page = static_cast<int>(std::max<ptrdiff_t>(1, it - doc.page_starts.begin()));
    }
    auto h = std::upper_bound(doc.headings.begin(), doc.headings.end(), begin,
                              [](size_t offset, const Heading& x) { return offset < x.offset; });
    if (h != doc.headings.begin()) c.heading_path = paths[static_cast<size_t>(h - doc.headings.begin()) - 1];
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace fila::document
