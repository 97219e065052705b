#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fila/core/type_store.h"

namespace fila {

// TypeStore on PostgreSQL (table task_types). Thread-safe; holds up to
// `max_connections` connections.
std::unique_ptr<TypeStore> MakePostgresTypeStore(const std::string& database_url, size_t max_connections = 1);

}  // namespace fila
