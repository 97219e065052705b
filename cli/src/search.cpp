#include "search.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <thread>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "fila/document/embedder.h"
#include "fila/document_store_pg.h"
#include "fila/errors.h"
#include "fila/http_client.h"
#include "fila/key_limiter.h"

namespace fila::cli {
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

}  // namespace

int Search(const std::string& database_url, const SearchArgs& args) {
  if (args.query.empty()) {
    spdlog::error("error: search needs a non-empty query");
    return kUsage;
  }
  try {
    auto store = MakePostgresDocumentStore(database_url, 1);
    auto http = MakeHttpClient();
    auto limiter = MakeLocalKeyLimiter();
    const document::OpenAiOptions openai = document::OpenAiOptionsFromEnv();
    const document::SearchFilter filter{args.tenant, args.owner, args.document_id};
    std::vector<document::SearchHit> hits;
    for (const std::string& descriptor : store->Embedders(filter)) {
      auto embedder = document::EmbedderFromDescriptor(descriptor, openai, *http, *limiter);
      document::EmbedContext context;
      context.deadline = DeadlineIn(std::chrono::seconds(60));
      context.sleep = [](std::chrono::milliseconds d) {
        std::this_thread::sleep_for(d);
        return true;
      };
      const auto vectors = embedder->Embed({args.query}, context);
      for (auto& h : store->Search(filter, descriptor, vectors.at(0), args.top)) hits.push_back(std::move(h));
    }
    // Scores of different embedders are each a cosine: comparable enough to merge.
    std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
    if (hits.size() > args.top) hits.resize(args.top);
    if (args.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& h : hits) {
        out.push_back({{"score", h.score}, {"tenant", h.tenant}, {"owner", h.owner},
                       {"document_id", h.document_id}, {"title", h.title}, {"source", h.source},
                       {"chunk", h.ordinal}, {"start", h.start}, {"end", h.end}, {"page", h.page},
                       {"heading_path", h.heading_path}, {"text", h.text}});
      }
      std::cout << out.dump(2) << "\n";
      return kOk;
    }
    if (hits.empty()) {
      std::cout << "no matching chunks\n";
      return kOk;
    }
    for (size_t i = 0; i < hits.size(); ++i) {
      const auto& h = hits[i];
      char score[16];
      std::snprintf(score, sizeof score, "%.3f", h.score);
      std::cout << i + 1 << ". " << score << "  " << h.owner << "/" << h.document_id << "  chunk " << h.ordinal
                << " [" << h.start << "," << h.end << ")";
      if (h.page > 0) std::cout << "  page " << h.page;
      if (!h.heading_path.empty()) std::cout << "  § " << h.heading_path;
      std::cout << "\n   " << OneLine(h.text, 300) << "\n";
    }
    return kOk;
  } catch (const PermanentError& e) {
    spdlog::error("error: {}", e.what());
    return kUsage;
  } catch (const std::exception& e) {
    spdlog::error("error: {}", e.what());
    return kFailure;
  }
}

}  // namespace fila::cli
