#pragma once

// What a fila-extract command returns on stdout: a document's text, where
// its pages start and its headings. Both sides of the pipe use these two
// functions (protobuf inside, never in a header).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fila::extract {

struct Extracted {
  struct Heading {
    uint64_t offset = 0;  // byte offset into text
    int level = 1;
    std::string title;
  };
  std::string text;
  std::vector<uint64_t> page_starts;  // byte offsets into text; empty when the format has no pages
  std::vector<Heading> headings;
};

std::string Encode(const Extracted& extracted);

// Throws PermanentError when `bytes` do not decode, or an offset lies
// outside the text.
Extracted Decode(std::string_view bytes);

}  // namespace fila::extract
