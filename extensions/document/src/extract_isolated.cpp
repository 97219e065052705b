// Extraction in the fila-extract helper: both sides of the "document"
// command (the worker's call and the helper's work).
#include <string>

#include "extract_formats.h"
#include "fila/core/errors.h"
#include "fila/document/extract.h"
#include "fila/extract/sandbox.h"
#include "fila/extract/wire.h"

namespace fila::document {
namespace {

constexpr std::string_view kTypeArg = "--type=";
constexpr std::string_view kRejectArg = "--reject-invalid-utf8";

MediaType TypeNamed(std::string_view name) {
  for (MediaType type : {MediaType::kText, MediaType::kMarkdown, MediaType::kHtml, MediaType::kPdf}) {
    if (name == MediaTypeName(type)) return type;
  }
  throw PermanentError("fila-extract document: unknown --type=" + std::string(name));
}

extract::Extracted ToWire(ExtractedText doc) {
  extract::Extracted out;
  out.text = std::move(doc.text);
  out.page_starts.assign(doc.page_starts.begin(), doc.page_starts.end());
  for (Heading& h : doc.headings) out.headings.push_back({h.offset, h.level, std::move(h.title)});
  return out;
}

ExtractedText FromWire(extract::Extracted in, MediaType type) {
  ExtractedText doc;
  doc.type = type;
  doc.text = std::move(in.text);
  doc.page_starts.assign(in.page_starts.begin(), in.page_starts.end());
  for (auto& h : in.headings) doc.headings.push_back({h.offset, h.level, std::move(h.title)});
  return doc;
}

}  // namespace

ExtractedText ExtractIsolated(const std::string& program, std::string_view bytes, MediaType type,
                              const ExtractOptions& options, Deadline deadline,
                              const std::function<bool()>& cancelled) {
  if (type == MediaType::kText || type == MediaType::kMarkdown) return Extract(bytes, type, options);
  // A document over its size never gets a process.
  CheckBytes(type, bytes.size(), options.budget);
  extract::Run run{.args = {"document", std::string(kTypeArg) + MediaTypeName(type)},
                   .input = bytes,
                   .deadline = deadline,
                   .cancelled = cancelled,
                   // The text, and headings that are pieces of it.
                   .max_output_bytes = 2 * options.budget.max_text_bytes + (size_t{1} << 20)};
  if (options.reject_invalid_utf8) run.args.emplace_back(kRejectArg);
  for (std::string& arg : extract::BudgetArgs(options.budget)) run.args.push_back(std::move(arg));
  return FromWire(extract::Decode(extract::RunExtractor(program, run, options.budget)), type);
}

std::string ExtractCommand(const std::vector<std::string>& args, std::string input) {
  ExtractOptions options{.budget = extract::BudgetFromArgs(args)};
  std::string_view type;
  for (const std::string& arg : args) {
    if (arg.starts_with(kTypeArg)) type = std::string_view(arg).substr(kTypeArg.size());
    if (arg == kRejectArg) options.reject_invalid_utf8 = true;
  }
  if (type.empty()) throw PermanentError("fila-extract document: --type=<media type> is required");
  return extract::Encode(ToWire(Extract(input, TypeNamed(type), options)));
}

ExtractedText DetectAndExtract(std::string_view bytes, std::string_view declared, std::string_view name,
                               const ExtractOptions& options, const std::string& extractor, Deadline deadline,
                               const std::function<bool()>& cancelled) {
  const MediaType type = DetectType(bytes, declared, name);
  return extractor.empty() ? Extract(bytes, type, options)
                           : ExtractIsolated(extractor, bytes, type, options, deadline, cancelled);
}

}  // namespace fila::document
