#pragma once

// Readiness of a daemon: named checks, each saying what is wrong or nothing.
// Served on /readyz (see metrics/). Thread-safe: checks are added before
// serving starts and must themselves be safe to call from any thread.

#include <chrono>
#include <functional>
#include <mutex>
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

// How one part of a daemon (a loop, or one step of a loop) came out of its
// last attempt: fine, or failing since when and why. The part's thread
// writes it; readiness checks read it from any thread.
class PartHealth final {
 public:
  using Clock = std::chrono::steady_clock;

  // The attempt worked. True when it ended a failing streak (worth a log
  // line saying so).
  bool Succeeded() {
    std::lock_guard lock(mutex_);
    const bool was_failing = since_.has_value();
    since_.reset();
    return was_failing;
  }
  // The attempt failed because of `why` (short, no secrets: an error's
  // message). True when the failure should be logged: the first of a
  // streak, then one per `log_every`, so that a part retrying every second
  // does not flood the log.
  bool Failed(std::string why, std::chrono::seconds log_every = std::chrono::seconds(30)) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    why_ = std::move(why);
    if (!since_) {
      since_ = now;
      last_logged_ = now;
      return true;
    }
    if (now - last_logged_ < log_every) return false;
    last_logged_ = now;
    return true;
  }
  // Nullopt when fine, else "failing for N s: why".
  std::optional<std::string> Problem() const {
    std::lock_guard lock(mutex_);
    if (!since_) return std::nullopt;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *since_);
    return "failing for " + std::to_string(seconds.count()) + " s: " + why_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<Clock::time_point> since_;
  Clock::time_point last_logged_{};
  std::string why_;
};

}  // namespace fila
