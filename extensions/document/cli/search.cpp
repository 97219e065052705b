// fila search, document.ingest's CLI command.
#include "search.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>
#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/document/document_store_pg.h"
#include "fila/document/embedder.h"
#include "fila/document/search.h"
#include "fila/http/http_client.h"

namespace fila::document {
namespace {

std::string OneLine(const std::string& text, size_t max) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // whole characters
    out = out.substr(0, cut) + "…";
  }
  return out;
}

void Search(const CliInvocation& args) {
  const std::string query = args.Text("query");
  if (query.empty()) throw PermanentError("search needs a non-empty query", "query");
  const auto top_option = args.Number("--top");
  if (top_option && (*top_option < 1 || *top_option > 1000)) throw PermanentError("--top is 1 to 1000", "--top");
  const SearchOptions options{.mode = SearchModeNamed(args.Text("--mode", "hybrid")),
                              .top = top_option ? static_cast<size_t>(*top_option) : 5};
  auto store = MakePostgresDocumentStore(args.database_url, 1);
  auto text = MakePostgresTextIndex(args.database_url, 1);
  auto http = MakeHttpClient();
  auto limiter = MakeLocalKeyLimiter();
  const OpenAiOptions openai = OpenAiOptionsFromEnv();
  const SearchFilter filter{args.Text("--tenant"), args.Text("--owner"), args.Text("--document")};
  EmbedContext context;
  context.deadline = DeadlineIn(std::chrono::seconds(60));
  context.sleep = [](std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    return true;
  };
  const auto hits = SearchChunks(
      *store, *text, filter, query, options,
      [&](const std::string& descriptor) { return EmbedderFromDescriptor(descriptor, openai, *http, *limiter); },
      context);
  auto rank = [](size_t r) { return r == 0 ? nlohmann::json(nullptr) : nlohmann::json(r); };
  if (args.Flag("--json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : hits) {
      const SearchHit& h = r.hit;
      out.push_back({{"score", r.score}, {"mode", SearchModeName(options.mode)},
                     {"vector_rank", rank(r.vector_rank)}, {"text_rank", rank(r.text_rank)},
                     {"tenant", h.tenant}, {"owner", h.owner},
                     {"document_id", h.document_id}, {"title", h.title}, {"source", h.source},
                     {"chunk", h.ordinal}, {"start", h.start}, {"end", h.end}, {"page", h.page},
                     {"heading_path", h.heading_path}, {"text", h.text}});
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  if (hits.empty()) {
    std::cout << "no matching chunks\n";
    return;
  }
  for (size_t i = 0; i < hits.size(); ++i) {
    const SearchHit& h = hits[i].hit;
    char score[16];
    std::snprintf(score, sizeof score, "%.3f", hits[i].score);
    std::cout << i + 1 << ". " << score << "  " << h.owner << "/" << h.document_id << "  chunk " << h.ordinal
              << " [" << h.start << "," << h.end << ")";
    if (h.page > 0) std::cout << "  page " << h.page;
    if (!h.heading_path.empty()) std::cout << "  § " << h.heading_path;
    if (options.mode == SearchMode::kHybrid) {
      std::cout << "  (vector " << (hits[i].vector_rank ? "#" + std::to_string(hits[i].vector_rank) : "-")
                << ", text " << (hits[i].text_rank ? "#" + std::to_string(hits[i].text_rank) : "-") << ")";
    }
    std::cout << "\n   " << OneLine(h.text, 300) << "\n";
  }
}

}  // namespace

CliCommand SearchCommand() {
  using Kind = CliOption::Kind;
  return {.path = {"search"},
          .help = "Best chunks of ingested documents for a query (document.ingest)",
          .options = {{"query", "Text to look for", Kind::kText, true},
                      {"--top", "How many chunks (default 5)", Kind::kNumber},
                      {"--mode", "hybrid (default: vector and text fused), vector or text"},
                      {"--tenant", "Only documents of this tenant"},
                      {"--owner", "Only documents of this owner"},
                      {"--document", "Only this document id"},
                      {"--json", "Print JSON", Kind::kFlag}},
          .database_only = true,
          .run = Search};
}

}  // namespace fila::document
