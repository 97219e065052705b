#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fila/core/handler.h"

namespace fila::callbacks {

// The attempts whose callbacks are open, by token. Thread-safe.
class AttemptTable final {
 public:
  // A new unguessable token (128 random bits, hex) for `context`.
  std::string Open(TaskContext& context);
  // No call gets the context from now on; returns once the calls that
  // have it are done.
  void Close(const std::string& token);
  // Runs `call` with the context of `token` while it is open; false, and
  // `call` not run, when the token is unknown or closed. Exceptions of
  // `call` propagate.
  bool With(std::string_view token, const std::function<void(TaskContext&)>& call);
  size_t Size() const;

 private:
  struct Entry {
    TaskContext* context = nullptr;
    int calls = 0;
  };
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> open_;
};

// A token's shape (32 lower-case hex digits): anything else is not looked up.
bool WellFormedToken(std::string_view token);

}  // namespace fila::callbacks
