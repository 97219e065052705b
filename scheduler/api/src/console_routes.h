#pragma once

// What the console's routes share with the other routes: query
// parameters, the task filter of a query string, scoped to the caller, and
// audit entries.

#include <string>

#include "fila/core/console_store.h"
#include "fila/v1/console.pb.h"
#include "router.h"

namespace fila::api {

// Query parameter `name`, "" when absent.
std::string Param(const Request& r, const char* name);
// The `limit` parameter, 1..max (`fallback` when absent); 400 otherwise.
uint32_t LimitParam(const Request& r, uint32_t fallback, uint32_t max);
// The filter fields of GET /v1/tasks (state, type, queue, tenant,
// priority, created_after, created_before, where) from the query string.
v1::TaskFilter FilterFromQuery(const Request& r);
// The domain filter of `m`, a producer's forced to its own tenant (`m` is
// changed likewise, so that what is stored says what ran). PermanentError
// (400) naming the bad field.
ListFilter ScopedFilter(v1::TaskFilter& m, const Caller& caller);
// An audit entry of `caller`'s action.
AuditEntry AuditOf(const Caller& caller, std::string action, std::string target, int64_t count,
                   std::string filter);

}  // namespace fila::api
