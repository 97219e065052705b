#include "store_pool.h"

#include "fila/core/errors.h"

namespace fila::api {

StorePool::StorePool(Factory factory, size_t size) {
  for (size_t i = 0; i < size; ++i) idle_.push_back(factory());
}

StorePool::Lease StorePool::Acquire(Deadline deadline) {
  std::unique_lock lock(mutex_);
  if (!available_.wait_until(lock, deadline, [&] { return !idle_.empty(); })) {
    throw TransientError("all database connections are busy");
  }
  auto store = std::move(idle_.back());
  idle_.pop_back();
  return Lease(*this, std::move(store));
}

void StorePool::Return(std::unique_ptr<StateStore> store) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(store));
  }
  available_.notify_one();
}

}  // namespace fila::api
