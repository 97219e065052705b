#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fila::document {

struct Utf8Repair {
  std::string text;
  size_t invalid_sequences = 0;  // each run of bad bytes replaced by one U+FFFD
  size_t invalid_bytes = 0;
  size_t nul_bytes = 0;          // dropped: PostgreSQL text cannot hold them
  size_t first_invalid = 0;      // byte offset of the first invalid sequence
};

// `bytes` as valid UTF-8: every maximal invalid subsequence (overlong forms,
// surrogates, truncated or stray bytes) becomes U+FFFD and NUL bytes are
// dropped. A leading byte-order mark is removed. Never throws.
Utf8Repair RepairUtf8(std::string_view bytes);

// Number of code points in valid UTF-8 `text`.
size_t CodePoints(std::string_view text);

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for a
// continuation byte, so that a walk always advances).
inline size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point at `pos` of valid UTF-8 `text` and advances `pos`.
char32_t NextCodePoint(std::string_view text, size_t& pos);

// Appends `cp` encoded as UTF-8.
void AppendUtf8(std::string& out, char32_t cp);

}  // namespace fila::document
