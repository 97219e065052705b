#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fila/core/tenant.h"

namespace fila {

// TenantStore on PostgreSQL (tables tenants and tenant_bindings).
// Thread-safe; holds up to `max_connections` connections.
std::unique_ptr<TenantStore> MakePostgresTenantStore(const std::string& database_url,
                                                     size_t max_connections = 2);

}  // namespace fila
