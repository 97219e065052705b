#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/state_store.h"

namespace fila::api {

// A fixed set of StateStores (one connection each) shared by the API's
// request threads. Thread-safe.
class StorePool final {
 public:
  using Factory = std::function<std::unique_ptr<StateStore>()>;
  StorePool(Factory factory, size_t size);

  class Lease final {
   public:
    Lease(StorePool& pool, std::unique_ptr<StateStore> store)
        : pool_(&pool), store_(std::move(store)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (store_) pool_->Return(std::move(store_));
    }
    StateStore* operator->() { return store_.get(); }
    StateStore& operator*() { return *store_; }

   private:
    StorePool* pool_;
    std::unique_ptr<StateStore> store_;
  };

  // Throws TransientError when no store frees up before `deadline`.
  Lease Acquire(Deadline deadline);

 private:
  void Return(std::unique_ptr<StateStore> store);

  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<StateStore>> idle_;
};

}  // namespace fila::api
