#include "fila/core/time_text.h"

#include <cctz/time_zone.h>

#include <cctype>
#include <chrono>
#include <limits>

#include "fila/core/errors.h"

namespace fila {

int64_t ParseDuration(const std::string& text, const std::string& field) {
  auto bad = [&] {
    return PermanentError("'" + text.substr(0, 64) +
                              "' is not a duration (examples: 250ms, 30s, 5m, 2h, 1d, 1h30m)",
                          field);
  };
  if (text.empty()) throw bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) throw bad();
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (n > std::numeric_limits<int64_t>::max() / 10 / 86400000) throw bad();
      n = n * 10 + (text[i++] - '0');
    }
    size_t end = i;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
    const std::string unit = text.substr(i, end - i);
    i = end;
    int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60000;
    else if (unit == "h") scale = 3600000;
    else if (unit == "d") scale = 86400000;
    else throw bad();
    total += n * scale;
  }
  return total;
}

int64_t ParseTimestamp(const std::string& text, const std::string& field) {
  // %Ez accepts "+hh:mm", "-hh:mm" and "Z"; %E*S takes fractional seconds.
  const cctz::time_zone utc = cctz::utc_time_zone();
  std::chrono::system_clock::time_point parsed;
  const bool has_offset = text.size() > 10 &&
                          (text.back() == 'Z' || text.back() == 'z' ||
                           text.find_first_of("+-", 19) != std::string::npos);
  if (!has_offset || !cctz::parse("%Y-%m-%dT%H:%M:%E*S%Ez", text, utc, &parsed)) {
    throw PermanentError("'" + text.substr(0, 64) +
                             "' is not an RFC 3339 time with an offset "
                             "(example: 2026-12-01T06:00:00-03:00)",
                         field);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(parsed.time_since_epoch()).count();
}

std::string FormatTimestamp(int64_t unix_ms) {
  const std::chrono::system_clock::time_point tp{std::chrono::milliseconds(unix_ms)};
  return cctz::format("%Y-%m-%dT%H:%M:%E3SZ", tp, cctz::utc_time_zone());
}

}  // namespace fila
