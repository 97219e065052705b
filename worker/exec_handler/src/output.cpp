#include "output.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace fila::exec {
namespace {

bool Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

void Tail::Append(std::string_view bytes) {
  if (bytes.size() >= max_) {
    cut_ = cut_ || bytes.size() > max_ || !kept_.empty();
    kept_.assign(bytes.substr(bytes.size() - max_));
    return;
  }
  kept_.append(bytes);
  // Trimmed in halves, so that appending stays linear overall.
  if (kept_.size() > 2 * max_) {
    kept_.erase(0, kept_.size() - max_);
    cut_ = true;
  }
}

std::string Tail::Text() const {
  std::string_view text = kept_;
  if (text.size() > max_) text.remove_prefix(text.size() - max_);
  const bool cut = cut_ || kept_.size() > max_;
  while (cut && !text.empty() && Continuation(text.front())) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return (cut ? "…" : "") + std::string(text);
}

void Lines::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (!skipping_) {
      if (partial_.size() + piece.size() > max_) {
        skipping_ = true;
        ++dropped_;
        if (overlong_ == Overlong::kCut) {
          partial_.append(piece.substr(0, max_ - partial_.size()));
          on_line_(partial_);
        }
        partial_.clear();
      } else {
        partial_.append(piece);
      }
    }
    if (newline == std::string_view::npos) return;
    if (!skipping_) on_line_(partial_);
    partial_.clear();
    skipping_ = false;
    bytes.remove_prefix(newline + 1);
  }
}

void Lines::Finish() {
  if (!skipping_ && !partial_.empty()) on_line_(partial_);
  partial_.clear();
  skipping_ = false;
}

bool ParseProgress(std::string_view line, ProgressLine& out) {
  // nlohmann's parser keeps its own stack (no recursion on depth), and the
  // line is bounded before it gets here.
  const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return false;
  const auto percent = json.find("percent");
  if (percent == json.end() || !percent->is_number()) return false;
  const double value = percent->get<double>();
  if (!std::isfinite(value)) return false;
  out.percent = static_cast<int>(std::clamp(value, 0.0, 100.0));
  out.message.clear();
  if (const auto message = json.find("message"); message != json.end()) {
    if (!message->is_string()) return false;
    out.message = message->get<std::string>();
  }
  return true;
}

}  // namespace fila::exec
