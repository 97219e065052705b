#pragma once

// Readiness of a daemon: named checks, each saying what is wrong or nothing.
// Served on /readyz (see metrics/). Thread-safe: checks are added before
// serving starts and must themselves be safe to call from any thread.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fila {

class Readiness final {
 public:
  // Returns nullopt when fine, else a short description of the problem.
  using Check = std::function<std::optional<std::string>()>;

  void Add(std::string name, Check check) { checks_.emplace_back(std::move(name), std::move(check)); }

  struct Result {
    std::string name;
    std::optional<std::string> problem;
  };
  std::vector<Result> Evaluate() const {
    std::vector<Result> out;
    for (const auto& [name, check] : checks_) out.push_back({name, check()});
    return out;
  }

 private:
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace fila
