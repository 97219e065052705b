#pragma once

// What the worker keeps of a command's stderr and makes of its progress
// lines. Pure: no I/O but the debug log. Not thread-safe.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace fila::exec {

// The last `max_bytes` of a stream, however much went through.
class Tail final {
 public:
  explicit Tail(size_t max_bytes) : max_(max_bytes) {}
  void Append(std::string_view bytes);
  // What is kept, from a whole UTF-8 character on, trailing blank space
  // removed, "…" in front when earlier bytes were dropped.
  std::string Text() const;

 private:
  size_t max_;
  std::string kept_;
  bool cut_ = false;
};

// Splits a stream into lines of at most `max_line` bytes, never keeping
// more: a longer line is dropped whole (kDrop, counted in dropped()) or
// passed on cut to its first `max_line` bytes (kCut).
class Lines final {
 public:
  enum class Overlong { kDrop, kCut };
  Lines(size_t max_line, Overlong overlong, std::function<void(std::string_view line)> on_line)
      : max_(max_line), overlong_(overlong), on_line_(std::move(on_line)) {}
  void Feed(std::string_view bytes);
  // The last line, when the stream ended without a newline.
  void Finish();
  size_t dropped() const { return dropped_; }

 private:
  size_t max_;
  Overlong overlong_;
  std::function<void(std::string_view)> on_line_;
  std::string partial_;
  bool skipping_ = false;
  size_t dropped_ = 0;
};

struct ProgressLine {
  int percent = 0;  // 0..100
  std::string message;
};

// A progress line: {"percent": 40, "message": "..."} (percent a number,
// clamped to 0..100; message optional). False for anything else.
bool ParseProgress(std::string_view line, ProgressLine& out);

}  // namespace fila::exec
