#include "task_context.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <thread>
#include <utility>

#include "fila/core/config.h"
#include "fila/core/uuid.h"

namespace fila {
namespace {

// The threads that run the pieces of every task's ForEach in this worker:
// parallelism inside tasks stays bounded whatever the number of slots and
// tasks. Started on first use; lives as long as the process.
class PiecePool final {
 public:
  static PiecePool& Instance() {
    static PiecePool* pool = new PiecePool(Size());  // never destroyed: threads outlive static teardown
    return *pool;
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }
  // True on one of the pool's threads (a piece that calls ForEach).
  static bool OnPoolThread() { return on_pool_thread_; }

 private:
  // FILA_WORKER_PARALLELISM, default 16: the pieces are mostly waiting on
  // I/O (HTTP downloads), so more than the cores.
  static size_t Size() {
    try {
      const long n = std::stol(EnvOr("FILA_WORKER_PARALLELISM", "16"));
      return static_cast<size_t>(std::clamp(n, 1L, 1024L));
    } catch (const std::exception&) {
      return 16;
    }
  }
  explicit PiecePool(size_t size) {
    for (size_t i = 0; i < size; ++i) std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    on_pool_thread_ = true;
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  static thread_local bool on_pool_thread_;
};
thread_local bool PiecePool::on_pool_thread_ = false;

// One ForEach call: the runners claim indices until none is left.
struct Batch {
  const std::function<void(size_t)>* piece;
  const SlotContext* ctx;
  size_t count = 0;
  std::mutex mutex;
  std::condition_variable changed;
  size_t next = 0;
  size_t done = 0;
  size_t runners = 0;  // still running
  std::exception_ptr error;

  void Run() {
    while (true) {
      size_t i;
      {
        std::lock_guard lock(mutex);
        if (error || next >= count || ctx->Cancelled()) break;
        i = next++;
      }
      try {
        (*piece)(i);
        std::lock_guard lock(mutex);
        ++done;
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
      changed.notify_all();
    }
    std::lock_guard lock(mutex);
    --runners;
    changed.notify_all();
  }
};

}  // namespace

size_t SlotContext::ForEach(size_t count, size_t max_parallel, const std::function<void(size_t)>& piece,
                            const std::function<void(size_t)>& done) {
  if (PiecePool::OnPoolThread() || count == 0) return TaskContext::ForEach(count, max_parallel, piece, done);
  auto batch = std::make_shared<Batch>();
  batch->piece = &piece;
  batch->ctx = this;
  batch->count = count;
  // The runners start ending as soon as they are submitted: count them
  // before, not from batch->runners.
  const size_t runners = std::clamp<size_t>(max_parallel, 1, count);
  batch->runners = runners;
  for (size_t r = 0; r < runners; ++r) PiecePool::Instance().Submit([batch] { batch->Run(); });
  std::unique_lock lock(batch->mutex);
  size_t reported = 0;
  while (batch->runners > 0) {
    // Wakes on each finished piece, and at least every 250 ms to see a cancel.
    batch->changed.wait_for(lock, std::chrono::milliseconds(250),
                            [&] { return batch->runners == 0 || batch->done != reported; });
    // `reported` moves with or without `done`: else the wait's predicate
    // stays true and this loop would spin holding the lock.
    if (batch->done != reported) {
      reported = batch->done;
      if (done) {
        lock.unlock();
        done(reported);
        lock.lock();
      }
    }
  }
  if (batch->error) std::rethrow_exception(batch->error);
  return batch->done;
}

bool SlotContext::Cancelled() const { return cancelled_.load() || DeadlinePassed(); }

bool SlotContext::SleepFor(std::chrono::milliseconds duration) {
  // Wake at least every 50 ms so cancellation is seen promptly.
  constexpr auto kStep = std::chrono::milliseconds(50);
  const auto until = SteadyClock::now() + duration;
  while (!Cancelled()) {
    auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, kStep));
  }
  return false;
}

std::string SlotContext::Enqueue(const TaskRequest& request) {
  // Children of one task are bounded: a runaway loop fails the task, it
  // does not fill the database (the store also caps the whole tree).
  const TaskLimits limits;
  TaskRequest r = request;
  r.tenant = tenant_;
  NewTask child = PrepareTask(r, types_, limits);
  child.id = NewUuid();
  child.parent_id = id_;
  std::lock_guard lock(children_mutex_);
  if (children_.size() >= limits.max_children) {
    throw PermanentError("more than " + std::to_string(limits.max_children) + " child tasks");
  }
  children_.push_back(std::move(child));
  return children_.back().id;
}

std::vector<NewTask> SlotContext::TakeChildren() {
  std::lock_guard lock(children_mutex_);
  return std::exchange(children_, {});
}

void SlotContext::Progress(int percent, std::string_view message) {
  sink_({id_, attempt_, std::clamp(percent, 0, 100), std::string(message)});
}

}  // namespace fila
