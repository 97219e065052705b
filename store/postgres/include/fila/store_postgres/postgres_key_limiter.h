#pragma once

#include <memory>
#include <string>

#include "fila/core/key_limiter.h"

namespace fila {

// KeyLimiter shared by every worker through PostgreSQL: a key's rate is a
// schedule of starts (GCRA) in limit_keys, its concurrency a set of permit
// rows in key_permits, its gap a send stamp and a sender's turn (min_gap),
// all changed under the key row's lock. A permit's lease (`permit_lease`)
// is renewed every third of it while its holder lives, so a process that
// died frees its permits one lease later, and a turn to send it never used
// after KeyLimiter::kSendHold. Waiting polls at most every 50 ms (less when
// the next slot is nearer). Thread-safe; holds up to `max_connections`
// connections, and a thread that renews leases.
std::unique_ptr<KeyLimiter> MakePostgresKeyLimiter(
    const std::string& database_url, size_t max_connections = 4,
    std::chrono::milliseconds permit_lease = std::chrono::seconds(30));

}  // namespace fila
