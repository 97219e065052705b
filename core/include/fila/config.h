#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fila {

// The value of environment variable `name`, or `fallback` when unset/empty.
std::string EnvOr(const char* name, std::string fallback);

// "amqp://user:secret@host/" -> "amqp://user:***@host/": secrets never reach logs.
std::string RedactUrl(std::string_view url);

// Splits "a,b,,c" into {"a","b","c"}.
std::vector<std::string> SplitList(std::string_view text, char separator = ',');

}  // namespace fila
