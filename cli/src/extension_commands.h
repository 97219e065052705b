#pragma once

// The CLI commands of the installed extensions (fila/extension.h): added to
// the command line before it is parsed, run after. The CLI names no kind.

#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/extension.h"

namespace CLI {
class App;
}

namespace fila::cli {

class ExtensionCommands final {
 public:
  // Adds every command of InstalledExtensions() to `app`, which must
  // outlive this object.
  explicit ExtensionCommands(CLI::App& app);

  // The types whose figures `fila stats --type T` shows.
  std::vector<std::string> StatsTypes() const;

  // After parsing: the exit code of the extension command that was given,
  // or nullopt when none was. Commands that enqueue go through the API
  // when `api_url` is set, else the database.
  std::optional<int> Run(const std::string& database_url, const std::string& api_url,
                         const std::string& api_token) const;
  // `fila stats --type T [--json]`.
  int RunStats(const std::string& type, const std::string& database_url, bool json) const;

 private:
  struct Parsed {
    const CliCommand* command = nullptr;
    CLI::App* app = nullptr;
    std::map<std::string, std::string> text;  // bound by CLI11: stable addresses
    std::map<std::string, bool> flags;
    std::map<std::string, std::vector<std::string>> lists;
  };
  int Execute(const CliCommand& command, CliInvocation invocation, const std::string& api_url,
              const std::string& api_token) const;
  std::list<Parsed> parsed_;
};

}  // namespace fila::cli
