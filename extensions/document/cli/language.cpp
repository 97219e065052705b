// fila document language: the text search language of an owner's documents.
#include "language.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/document/document_store_pg.h"

namespace fila::document {
namespace {

using Json = nlohmann::json;

void List(TextIndex& index, const std::string& tenant, bool json) {
  const auto settings = index.Languages(tenant);
  const auto available = index.AvailableLanguages();
  const bool folds = index.FoldsAccents();
  if (json) {
    Json rows = Json::array();
    for (const auto& s : settings) rows.push_back({{"tenant", s.tenant}, {"owner", s.owner}, {"language", s.language}});
    std::cout << Json{{"settings", rows}, {"default", "simple"}, {"available", available}, {"folds_accents", folds}}
                     .dump(2, ' ', false, Json::error_handler_t::replace)
              << "\n";
    return;
  }
  if (settings.empty()) std::cout << "no settings: every owner's documents are indexed as 'simple'\n";
  for (const auto& s : settings) {
    std::cout << s.tenant << "  " << (s.owner.empty() ? "(tenant default)" : s.owner) << "  " << s.language << "\n";
  }
  std::cout << "accents " << (folds ? "folded (unaccent)" : "NOT folded: the unaccent extension is missing") << "\n";
  std::cout << "languages:";
  for (const auto& l : available) std::cout << " " << l;
  std::cout << "\n";
}

void Language(const CliInvocation& args) {
  auto index = MakePostgresTextIndex(args.database_url, 1);
  const std::string language = args.Text("language");
  if (language.empty()) {
    List(*index, args.Text("--tenant"), args.Flag("--json"));
    return;
  }
  const std::string tenant = args.Text("--tenant", "default");
  if (tenant.empty()) throw PermanentError("--tenant may not be empty", "--tenant");
  const std::string owner = args.Text("--owner");
  const size_t changed = index->SetLanguage(tenant, owner, language);
  if (args.Flag("--json")) {
    std::cout << Json{{"tenant", tenant}, {"owner", owner}, {"language", language}, {"reindexed_chunks", changed}}
                     .dump(2, ' ', false, Json::error_handler_t::replace)
              << "\n";
    return;
  }
  std::cout << "tenant " << tenant << ", " << (owner.empty() ? "default for its owners" : "owner " + owner) << ": "
            << language << " (" << changed << " chunks re-indexed)\n";
}

}  // namespace

CliCommand LanguageCommand() {
  using Kind = CliOption::Kind;
  return {.path = {"document", "language"},
          .help = "Set or list the text search language of owners' documents (stemming, stop words)",
          .options = {{"language", "portuguese, english, simple, ... (none: list the settings)"},
                      {"--tenant", "The tenant (setting: default 'default'; listing: every tenant)"},
                      {"--owner", "The owner (none: the tenant's default)"},
                      {"--json", "Print JSON", Kind::kFlag}},
          .database_only = true,
          .run = Language};
}

}  // namespace fila::document
