#include "fila/core/extension.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "fila/core/errors.h"

namespace fila {
namespace {

// Names core's own types hold whether or not the test types are enabled.
const std::set<std::string, std::less<>> kCoreTypes{"noop", "sleep", "flaky", "fanout"};

BindingKind QueueKind() {
  return {"queue", "a queue the tenant's producers may enqueue to besides each type's default", false,
          [](std::string_view v) {
            try {
              ValidateQueueName(v);
            } catch (const PermanentError& e) {
              throw PermanentError(e.what(), "value");
            }
          }};
}

// Written only by InstallExtensions, before other threads run.
struct Installed {
  std::vector<Extension> extensions;
  std::vector<BindingKind> binding_kinds{QueueKind()};
};

Installed& State() {
  static Installed state;
  return state;
}

void CheckExtensionName(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!ok) throw PermanentError("an extension's name is 1 to 64 of [a-z0-9_-]", "extension");
}

}  // namespace

void InstallExtensions(std::vector<Extension> extensions) {
  Installed next;
  std::set<std::string, std::less<>> names;
  std::set<std::string, std::less<>> types(kCoreTypes.begin(), kCoreTypes.end());
  std::set<std::string, std::less<>> kinds{"queue"};
  for (const auto& e : extensions) {
    CheckExtensionName(e.name);
    if (!names.insert(e.name).second) throw PermanentError("extension '" + e.name + "' is listed twice", "extension");
    for (const auto& t : e.types) {
      if (!types.insert(t.name).second) {
        throw PermanentError("extension '" + e.name + "': task type '" + t.name + "' is defined twice", "type");
      }
    }
    for (const auto& k : e.binding_kinds) {
      if (!kinds.insert(k.name).second || !k.validate) {
        throw PermanentError("extension '" + e.name + "': binding kind '" + k.name +
                                 "' is defined twice or has no check",
                             "kind");
      }
      next.binding_kinds.push_back(k);
    }
    // A route lives under its extension's name, so two extensions (and
    // core's /v1/tasks, /v1/queues, ...) can never answer the same path.
    for (const auto& r : e.routes) {
      if (r.path.rfind("/v1/" + e.name + "/", 0) != 0 || !r.get) {
        throw PermanentError("extension '" + e.name + "': a route must be under /v1/" + e.name + "/ and answer",
                             "route");
      }
    }
  }
  next.extensions = std::move(extensions);
  State() = std::move(next);
}

const std::vector<Extension>& InstalledExtensions() { return State().extensions; }

const ApiRoute* FindExtensionRoute(const std::string& path) {
  for (const auto& e : State().extensions) {
    for (const auto& r : e.routes) {
      if (r.path == path) return &r;
    }
  }
  return nullptr;
}

const std::vector<BindingKind>& BindingKinds() { return State().binding_kinds; }

std::string CliInvocation::Text(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

std::optional<int64_t> CliInvocation::Number(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  const std::string& text = it->second;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw PermanentError(name + " must be a whole number", name);
  }
  return value;
}

bool CliInvocation::Flag(const std::string& name) const { return Text(name) == "true"; }

std::vector<std::string> CliInvocation::List(const std::string& name) const {
  auto it = lists.find(name);
  return it == lists.end() ? std::vector<std::string>() : it->second;
}

}  // namespace fila
