#pragma once

#include <cstdint>
#include <string>

namespace fila {

// "250ms", "30s", "5m", "2h", "1d", "1h30m": milliseconds. Throws
// PermanentError (field `field`) on anything else or a negative value.
int64_t ParseDuration(const std::string& text, const std::string& field = "delay");

// RFC 3339 / ISO 8601 with an offset or Z ("2026-12-01T06:00:00-03:00",
// "2026-12-01T09:00:00.250Z"): Unix milliseconds. A time without an offset
// is rejected: its zone would be a guess. Throws PermanentError.
int64_t ParseTimestamp(const std::string& text, const std::string& field = "at");

// Unix milliseconds as RFC 3339 UTC with milliseconds.
std::string FormatTimestamp(int64_t unix_ms);

}  // namespace fila
