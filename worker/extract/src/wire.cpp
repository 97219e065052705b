#include "fila/extract/wire.h"

#include "fila/core/errors.h"
#include "src/extracted.pb.h"

namespace fila::extract {

std::string Encode(const Extracted& extracted) {
  wire::Extracted message;
  message.set_text(extracted.text);
  for (uint64_t start : extracted.page_starts) message.add_page_starts(start);
  for (const auto& h : extracted.headings) {
    wire::Heading* heading = message.add_headings();
    heading->set_offset(h.offset);
    heading->set_level(h.level);
    heading->set_title(h.title);
  }
  return message.SerializeAsString();
}

Extracted Decode(std::string_view bytes) {
  wire::Extracted message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw PermanentError("the extractor's result does not decode");
  }
  Extracted out;
  out.text = std::move(*message.mutable_text());
  for (uint64_t start : message.page_starts()) {
    if (start > out.text.size()) throw PermanentError("the extractor's result has a page outside its text");
    out.page_starts.push_back(start);
  }
  for (auto& h : *message.mutable_headings()) {
    if (h.offset() > out.text.size()) throw PermanentError("the extractor's result has a heading outside its text");
    out.headings.push_back({h.offset(), h.level(), std::move(*h.mutable_title())});
  }
  return out;
}

}  // namespace fila::extract
