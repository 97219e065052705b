#include "extension_commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <memory>

#include "backend.h"
#include "commands.h"
#include "guard.h"

namespace fila::cli {

ExtensionCommands::ExtensionCommands(CLI::App& app) {
  std::map<std::string, CLI::App*> groups;
  auto group = [&](const std::string& name, const std::string& help) {
    auto it = groups.find(name);
    if (it == groups.end()) {
      it = groups.emplace(name, app.add_subcommand(name, help)).first;
      it->second->require_subcommand(1);
    } else if (!help.empty()) {
      it->second->description(help);
    }
    return it->second;
  };
  for (const auto& extension : InstalledExtensions()) {
    for (const auto& command : extension.commands) {
      if (command.path.empty() || command.path.size() > 2) continue;
      if (command.path.size() == 1 && !command.run) {
        group(command.path[0], command.help);
        continue;
      }
      Parsed& p = parsed_.emplace_back();
      p.command = &command;
      p.app = command.path.size() == 1 ? app.add_subcommand(command.path[0], command.help)
                                        : group(command.path[0], "")->add_subcommand(command.path[1], command.help);
      for (const auto& o : command.options) {
        CLI::Option* option = nullptr;
        if (o.kind == CliOption::Kind::kFlag) {
          option = p.app->add_flag(o.name, p.flags[o.name], o.help);
        } else if (o.kind == CliOption::Kind::kTextList) {
          option = p.app->add_option(o.name, p.lists[o.name], o.help);
        } else {
          option = p.app->add_option(o.name, p.text[o.name], o.help);
          if (o.kind == CliOption::Kind::kNumber) option->check(CLI::TypeValidator<int64_t>("INTEGER"));
        }
        if (o.required) option->required();
      }
    }
  }
}

std::vector<std::string> ExtensionCommands::StatsTypes() const {
  std::vector<std::string> types;
  for (const auto& p : parsed_) {
    if (!p.command->stats_of_type.empty()) types.push_back(p.command->stats_of_type);
  }
  return types;
}

std::optional<int> ExtensionCommands::Run(const std::string& database_url, const std::string& api_url,
                                          const std::string& api_token) const {
  for (const auto& p : parsed_) {
    if (!*p.app) continue;
    CliInvocation invocation;
    invocation.database_url = database_url;
    for (const auto& [name, value] : p.text) {
      if (p.app->count(name) > 0) invocation.values[name] = value;
    }
    for (const auto& [name, value] : p.flags) {
      if (value) invocation.values[name] = "true";
    }
    for (const auto& [name, value] : p.lists) {
      if (p.app->count(name) > 0) invocation.lists[name] = value;
    }
    return Execute(*p.command, std::move(invocation), api_url, api_token);
  }
  return std::nullopt;
}

int ExtensionCommands::RunStats(const std::string& type, const std::string& database_url, bool json) const {
  for (const auto& p : parsed_) {
    if (p.command->stats_of_type != type) continue;
    CliInvocation invocation;
    invocation.database_url = database_url;
    if (json) invocation.values["--json"] = "true";
    return Execute(*p.command, std::move(invocation), "", "");
  }
  spdlog::error("error: no figures for type '{}'", type);
  return kUsage;
}

int ExtensionCommands::Execute(const CliCommand& command, CliInvocation invocation, const std::string& api_url,
                               const std::string& api_token) const {
  if (command.local_only) {
    invocation.target = "local";
    try {
      return Guard(invocation.target, [&] {
        command.run(invocation);
        return kOk;
      });
    } catch (const std::exception& e) {
      spdlog::error("error: {}", e.what());
      return kFailure;
    }
  }
  const bool database = command.database_only || api_url.empty();
  if (database && invocation.database_url.empty()) {
    spdlog::error("error: no database: set --database-url or FILA_DATABASE_URL{}",
                  command.database_only ? "" : " (or --api and --token)");
    return kUsage;
  }
  if (!database && api_token.empty()) {
    spdlog::error("error: --api needs --token (or FILA_API_TOKEN)");
    return kUsage;
  }
  std::unique_ptr<Backend> backend;
  invocation.target = "database";
  try {
    return Guard(invocation.target, [&] {
      if (!command.database_only) {
        backend = database ? DatabaseBackend(invocation.database_url) : ApiBackend(api_url, api_token);
        invocation.target = backend->Describe();
        invocation.enqueue = [&backend](const std::vector<TaskRequest>& requests) {
          return backend->SubmitAll(requests);
        };
      }
      command.run(invocation);
      return kOk;
    });
  } catch (const std::exception& e) {
    // Not a fila error (a library's): a failure, not bad input.
    spdlog::error("error: {}", e.what());
    return kFailure;
  }
}

}  // namespace fila::cli
