#pragma once

#include <memory>
#include <string>

#include "fila/nfe/document_store.h"

namespace fila {

// nfe.download's DocumentStore on PostgreSQL (table nfe_documents,
// migration 0007). Keeps up to `max_connections` connections, opened on
// first use and shared by every thread (thread-safe). Upsert takes the
// tenant of the row from the task that stored it.
std::unique_ptr<nfe::DocumentStore> MakePostgresNfeDocumentStore(std::string url, size_t max_connections = 4);

}  // namespace fila
