#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "fila/core/state_store.h"

namespace fila::test {

// A well-formed task id that no test enqueues.
inline const std::string kMissing = "00000000-0000-4000-8000-000000000000";

inline NewTask Noop(std::string key = {}, std::string tenant = "default") {
  NewTask t;
  t.type = "noop";
  t.queue = "default";
  t.max_attempts = 3;
  t.timeout_ms = 1000;
  t.idempotency_key = std::move(key);
  t.tenant = std::move(tenant);
  return t;
}

inline std::vector<EnqueueResult> EnqueueAll(StateStore& store, std::vector<NewTask> tasks) {
  return store.Enqueue(tasks);
}

inline std::string EnqueueOne(StateStore& store, NewTask task = Noop()) {
  return EnqueueAll(store, {std::move(task)}).at(0).id;
}

inline ClaimResult ClaimIds(StateStore& store, std::vector<std::string> ids,
                            const std::string& worker = "w1", uint32_t lease_ms = 30000) {
  return store.Claim(ids, worker, lease_ms);
}

inline bool FinishOne(StateStore& store, FinishRecord r) {
  std::vector<FinishRecord> one{std::move(r)};
  return store.Finish(one).at(0);
}

// Deletes every outbox row; returns how many there were.
inline size_t DrainOutbox(StateStore& store) {
  size_t n = 0;
  for (;;) {
    auto items = store.FetchOutbox(1000);
    if (items.empty()) return n;
    std::vector<int64_t> ids;
    for (const auto& i : items) ids.push_back(i.outbox_id);
    store.DeleteOutbox(ids);
    n += ids.size();
  }
}

inline bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace fila::test
