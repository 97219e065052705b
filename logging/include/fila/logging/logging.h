#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace fila::logging {

// Sets up the default logger of a process: one line per message on stderr
// (stdout carries results), at `level` (trace|debug|info|warn|error|off).
// format "json": {"ts","level","proc","msg", then the process's and the
// thread's fields}; format "text": a human-readable line with the fields.
// Secrets (passwords in URLs, bearer tokens, fila_ API tokens, key=value
// secrets) are masked in every message, and every message and field value
// is then cut to fila::kMaxStoredText bytes (TruncateText). Throws PermanentError for an
// unknown level or format. Call once, before other threads log.
void Setup(const std::string& program, const std::string& level, const std::string& format);

// A field added to every line of this process from now on (e.g. worker id).
// Call before other threads start logging.
void SetProcessField(std::string key, std::string value);

// Fields added to every line this thread logs while the scope lives, e.g.
// {{"task_id", id}, {"type", type}, {"attempt", "3"}}. Scopes nest.
class Scope final {
 public:
  Scope(std::initializer_list<std::pair<std::string_view, std::string>> fields);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  size_t pushed_ = 0;
};

}  // namespace fila::logging
