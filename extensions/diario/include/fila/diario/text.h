#pragma once

// Small text helpers shared by the parsers. Pure; thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace fila::diario {

// Upper-case ASCII with Portuguese diacritics removed ("não" -> "NAO"),
// typographic quotes turned into '"'; other non-ASCII bytes are kept.
// Byte offsets are not preserved.
std::string Fold(std::string_view text);

std::string_view Trim(std::string_view text);

// '0'..'9' only (std::isdigit depends on the locale and needs an unsigned
// char).
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits on '\n' (a trailing '\r' is dropped from each line).
std::vector<std::string_view> Lines(std::string_view text);

// Collapses runs of whitespace (including newlines) into one space.
std::string Squash(std::string_view text);

}  // namespace fila::diario
