#pragma once

#include <memory>
#include <string>

#include "fila/core/key_limiter.h"

namespace fila {

// KeyLimiter shared by every worker through PostgreSQL: a key's rate is a
// schedule of starts (GCRA) in limit_keys, its concurrency a set of permit
// rows in key_permits, both changed under the key row's lock. A permit of a
// process that died is freed when its lease (`permit_lease`) runs out.
// Waiting polls at most every 50 ms (less when the next rate slot is
// nearer). Thread-safe; holds up to `max_connections` connections.
std::unique_ptr<KeyLimiter> MakePostgresKeyLimiter(
    const std::string& database_url, size_t max_connections = 4,
    std::chrono::milliseconds permit_lease = std::chrono::minutes(5));

}  // namespace fila
