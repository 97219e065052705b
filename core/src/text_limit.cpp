#include "fila/core/text_limit.h"

#include <algorithm>

namespace fila {

std::string TruncateText(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  // The marker names the bytes cut; its length depends on that count, so
  // size it for the largest count first (the cut only shrinks it).
  const std::string probe = "\xE2\x80\xA6[cut " + std::to_string(text.size()) + " bytes]";
  size_t keep = max_bytes > probe.size() ? max_bytes - probe.size() : 0;
  // Back off to a character boundary: never leave half a UTF-8 sequence.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  return std::string(text.substr(0, keep)) + "\xE2\x80\xA6[cut " +
         std::to_string(text.size() - keep) + " bytes]";
}

}  // namespace fila
