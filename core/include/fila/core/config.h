#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fila {

// The value of environment variable `name`, or `fallback` when unset/empty.
std::string EnvOr(const char* name, std::string fallback);

// Whether environment variable `name` is set to a true value (1, true,
// yes, on); false when unset or empty.
bool EnvFlag(const char* name);

// "amqp://user:secret@host/" -> "amqp://user:***@host/": secrets never reach logs.
// Every URL of a list ("amqp://a:x@h1/,amqp://b:y@h2/") has its password masked.
std::string RedactUrl(std::string_view url);

// `text` with every secret it contains masked as "***": passwords in URLs
// (scheme://user:pw@), bearer tokens and Authorization values, fila API
// tokens (fila_...), and the values of password=, secret=, token=, key=
// style pairs (libpq conninfo, query strings, JSON). For log lines: time
// linear in the text's length, no recursion, whatever the text (a log line
// may quote input of any size).
std::string RedactSecrets(std::string_view text);

// Splits "a,b,,c" into {"a","b","c"}.
std::vector<std::string> SplitList(std::string_view text, char separator = ',');

}  // namespace fila
