#pragma once

// The whole durable task state: every store role in one interface, for the
// callers that serve several roles (the API's connection pool, the CLI).
// A component that needs one role takes that role's interface instead.

#include "fila/core/console_store.h"
#include "fila/core/leader_store.h"
#include "fila/core/monitor_store.h"
#include "fila/core/store_types.h"
#include "fila/core/task_admin_store.h"
#include "fila/core/token_store.h"
#include "fila/core/worker_store.h"

namespace fila {

// Every state change is one guarded UPDATE (or its in-memory equivalent).
// Thread safety is the implementation's: PostgresStore is one instance (one
// database connection) per owning thread; MemoryStore is thread-safe.
// Connection and serialization failures throw TransientError; the next call
// reconnects. Bad input throws PermanentError.
class StateStore : public WorkerStore,
                   public LeaderStore,
                   public TaskAdminStore,
                   public TokenStore,
                   public MonitorStore,
                   public ConsoleStore {
 public:
  ~StateStore() override = default;
};

}  // namespace fila
