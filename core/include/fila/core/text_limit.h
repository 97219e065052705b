#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fila {

// The size every text that comes from input (a payload, an upstream's
// answer, a handler's error) is cut to before it is logged or stored.
inline constexpr size_t kMaxStoredText = 4096;

// `text` when it fits in `max_bytes`; otherwise its first bytes (never
// half a UTF-8 character) followed by the marker "…[cut N bytes]", the
// whole no longer than `max_bytes` (at least the marker's length).
std::string TruncateText(std::string_view text, size_t max_bytes = kMaxStoredText);

}  // namespace fila
