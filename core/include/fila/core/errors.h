#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace fila {

// Root of every error fila throws. Callers branch on the subclass: it says
// what to do next, not where the error came from.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Worth retrying: network, broker or database down, serialization failure,
// a timeout. The same call may succeed later.
class TransientError : public Error {
 public:
  using Error::Error;
};

// Worth retrying, but not before `after` (an upstream's Retry-After).
class RetryLater final : public TransientError {
 public:
  RetryLater(const std::string& message, std::chrono::milliseconds after)
      : TransientError(message), after_(after) {}
  std::chrono::milliseconds after() const noexcept { return after_; }

 private:
  std::chrono::milliseconds after_;
};

// Retrying cannot help: bad input, unknown task type, schema too old.
// `field` names the offending input field when there is one.
class PermanentError : public Error {
 public:
  explicit PermanentError(const std::string& message, std::string field = {})
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

}  // namespace fila
