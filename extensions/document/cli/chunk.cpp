// fila document chunk: what document.ingest would store, without storing it.
#include "chunk.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/document/chunker.h"
#include "fila/document/extract.h"
#include "fila/document/ingest_handler.h"
#include "fila/document/utf8.h"
#include "fila/extract/sandbox.h"

namespace fila::document {
namespace {

using Json = nlohmann::json;

// The file's bytes, refused before reading when it is not a regular file or
// larger than what a worker would accept (FILA_DOCUMENT_MAX_BYTES).
std::string ReadFile(const std::string& path, size_t limit) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw PermanentError("no such file: " + path, "FILE");
  if (!std::filesystem::is_regular_file(status)) throw PermanentError("not a regular file: " + path, "FILE");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw PermanentError("cannot read " + path + ": " + ec.message(), "FILE");
  if (size > limit) {
    throw PermanentError("document too large: " + std::to_string(size) + " bytes, the limit is " +
                             std::to_string(limit) + " (FILA_DOCUMENT_MAX_BYTES)",
                         "FILE");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw PermanentError("cannot read " + path, "FILE");
  return bytes;
}

LengthUnit UnitNamed(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.empty() || name == "codepoints") return LengthUnit::kCodePoints;
  if (name == "bytes") return LengthUnit::kBytes;
  throw PermanentError("--unit is codepoints or bytes", "--unit");
}

ChunkOptions OptionsOf(const CliInvocation& args) {
  const auto size = args.Number("--size");
  if (size && (*size < 1 || *size > static_cast<int64_t>(kMaxChunkSize))) {
    throw PermanentError("--size is 1 to " + std::to_string(kMaxChunkSize), "--size");
  }
  const auto overlap = args.Number("--overlap");
  if (overlap && *overlap < 0) throw PermanentError("--overlap is 0 or more", "--overlap");
  return ChunkingFor(size ? static_cast<size_t>(*size) : 0,
                     overlap ? std::optional<size_t>(static_cast<size_t>(*overlap)) : std::nullopt,
                     UnitNamed(args.Text("--unit")), {.size = "--size", .overlap = "--overlap", .field_prefix = ""});
}

const char* UnitName(LengthUnit unit) { return unit == LengthUnit::kBytes ? "bytes" : "code points"; }

size_t Length(const TextChunk& c, LengthUnit unit) {
  return unit == LengthUnit::kBytes ? c.byte_end - c.byte_start : c.end - c.start;
}

void PrintJson(const std::string& path, size_t bytes, const ExtractedText& doc, const ChunkOptions& o,
               const std::vector<TextChunk>& chunks) {
  Json out{{"file", path},
           {"media_type", MediaTypeName(doc.type)},
           {"bytes", bytes},
           {"characters", CodePoints(doc.text)},
           {"pages", doc.page_starts.size()},
           {"size", o.size},
           {"overlap", o.overlap},
           {"unit", o.unit == LengthUnit::kBytes ? "bytes" : "codepoints"},
           {"chunks", Json::array()}};
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    out["chunks"].push_back({{"index", i}, {"start", c.start}, {"end", c.end}, {"byte_start", c.byte_start},
                             {"byte_end", c.byte_end}, {"length", Length(c, o.unit)}, {"page", c.page},
                             {"heading_path", c.heading_path}, {"text", c.text}});
  }
  std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

void PrintText(const std::string& path, size_t bytes, const ExtractedText& doc, const ChunkOptions& o,
               const std::vector<TextChunk>& chunks) {
  std::cout << path << ": " << MediaTypeName(doc.type) << ", " << bytes << " bytes, " << CodePoints(doc.text)
            << " characters";
  if (!doc.page_starts.empty()) std::cout << ", " << doc.page_starts.size() << " pages";
  std::cout << "; " << chunks.size() << " chunks of at most " << o.size << " " << UnitName(o.unit)
            << ", overlap at most " << o.overlap << "\n";
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    std::cout << "\n--- chunk " << i << "  [" << c.start << ", " << c.end << ")  " << Length(c, o.unit) << " "
              << UnitName(o.unit);
    if (i > 0 && chunks[i - 1].end > c.start) {
      std::cout << ", " << chunks[i - 1].end - c.start << " shared with chunk " << i - 1;
    }
    if (c.page > 0) std::cout << "  page " << c.page;
    if (!c.heading_path.empty()) std::cout << "  § " << c.heading_path;
    std::cout << "\n" << c.text << "\n";
  }
}

void Chunk(const CliInvocation& args) {
  const std::string path = args.Text("file");
  if (path.empty()) throw PermanentError("chunk needs a FILE", "FILE");
  const ChunkOptions options = OptionsOf(args);
  const IngestOptions ingest = IngestOptionsFromEnv();
  const std::string bytes = ReadFile(path, ingest.max_bytes);
  const ExtractOptions extract_options{.budget = extract::BudgetFromEnv()};
  // HTML and PDF are parsed in fila-extract, as in the worker: a document
  // that crashes a parser costs that process, not this one.
  const ExtractedText doc = DetectAndExtract(bytes, "", path, extract_options, extract::ExtractorPath(),
                                             DeadlineIn(std::chrono::minutes(5)), [] { return false; });
  const std::vector<TextChunk> chunks = ChunkText(doc, options);
  if (args.Flag("--json")) {
    PrintJson(path, bytes.size(), doc, options, chunks);
  } else {
    PrintText(path, bytes.size(), doc, options, chunks);
  }
}

}  // namespace

CliCommand ChunkCommand() {
  using Kind = CliOption::Kind;
  return {.path = {"document", "chunk"},
          .help = "Print the chunks document.ingest would store for a file, storing nothing",
          .options = {{"file", "The document (text, Markdown, HTML, PDF)", Kind::kText, true},
                      {"--size", "Maximum chunk length (default 1000)", Kind::kNumber},
                      {"--overlap", "Most text neighbours share (default 200, or size/5 if smaller)", Kind::kNumber},
                      {"--unit", "codepoints (default) or bytes"},
                      {"--json", "Print JSON", Kind::kFlag}},
          .local_only = true,
          .run = Chunk};
}

}  // namespace fila::document
