#include "pg_pool.h"

namespace fila::pg {

std::unique_ptr<pqxx::connection> ConnectionPool::Take() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  ++open_;
  lock.unlock();
  try {
    auto conn = Open(url_);
    if (prepare_) prepare_(*conn);
    return conn;
  } catch (...) {
    {
      std::lock_guard guard(mutex_);
      --open_;
    }
    available_.notify_one();
    bool broken = false;
    Translate(broken);
  }
}

void ConnectionPool::Give(std::unique_ptr<pqxx::connection> conn, bool broken) {
  {
    std::lock_guard lock(mutex_);
    if (broken || !conn || !conn->is_open()) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  available_.notify_one();
}

}  // namespace fila::pg
