#pragma once

// A worker runtime on the in-memory broker and store, for tests of the
// claim -> run -> finish -> ack cycle without servers.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fila/broker_memory/memory_broker.h"
#include "fila/core/envelope.h"
#include "fila/core/errors.h"
#include "fila/core/worker_store.h"
#include "fila/store_memory/memory_store.h"
#include "fila/worker/worker_runtime.h"

namespace fila::testing {

// One connection of the worker to the shared MemoryStore, which can fail
// the way a database does. Thread-safe like the store.
class FaultyStore final : public WorkerStore {
 public:
  struct Faults {
    std::atomic<int> failing_finishes{0};  // that many Finish calls throw TransientError
    std::atomic<int> finish_calls{0};
    // Called inside Claim, before the claim commits.
    std::function<void()> on_claim;
    // Called inside Finish, before anything is recorded (may block: a
    // database that takes its time).
    std::function<void()> on_finish;
    std::atomic<int> heartbeats{0};  // Heartbeat calls that reached the store
    // Claims and heartbeats throw TransientError while set: the database
    // out of this worker's reach.
    std::atomic<bool> unreachable{false};
  };
  FaultyStore(MemoryStore& store, Faults& faults) : store_(store), faults_(faults) {}

  ClaimResult Claim(std::span<const std::string> ids, const std::string& worker,
                    uint32_t lease_ms) override {
    if (faults_.on_claim) faults_.on_claim();
    if (faults_.unreachable) throw TransientError("database out of reach (test)");
    return store_.Claim(ids, worker, lease_ms);
  }
  std::vector<bool> Finish(std::span<const FinishRecord> records) override {
    ++faults_.finish_calls;
    if (faults_.on_finish) faults_.on_finish();
    if (faults_.failing_finishes.fetch_sub(1) > 0) throw TransientError("database away (test)");
    return store_.Finish(records);
  }
  void RecordProgress(std::span<const ProgressUpdate> updates) override {
    store_.RecordProgress(updates);
  }
  bool Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) override {
    if (faults_.unreachable) throw TransientError("database out of reach (test)");
    const bool draining = store_.Heartbeat(worker, lease_ms);
    ++faults_.heartbeats;
    return draining;
  }
  void Deregister(const std::string& worker_id) override { store_.Deregister(worker_id); }
  std::vector<AttemptRef> CancelRequested(const std::string& worker_id) override {
    return store_.CancelRequested(worker_id);
  }

 private:
  MemoryStore& store_;
  Faults& faults_;
};

// A worker with `concurrency` slots consuming queue "default", the handler
// of type "noop" being the test's `handler`.
class WorkerHarness {
 public:
  explicit WorkerHarness(uint32_t concurrency = 2)
      : store_([this] { return NowUnixMs() + clock_offset_ms.load(); }),
        types_(TaskTypes::Builtin()) {
    options.worker_id = "test-worker";
    options.hostname = "test";
    options.concurrency = concurrency;
    options.finish_flush = std::chrono::milliseconds(1);
    options.heartbeat_interval = std::chrono::milliseconds(50);
    options.cancel_poll = std::chrono::milliseconds(20);
    options.abandon_grace = std::chrono::milliseconds(200);
    options.drain_timeout = std::chrono::seconds(5);
    handlers_.Register("noop", [this](TaskContext& ctx) { return handler(ctx); });
  }
  ~WorkerHarness() { Stop(); }

  WorkerOptions options;
  std::function<std::string(TaskContext&)> handler = [](TaskContext&) { return std::string("ok"); };
  FaultyStore::Faults faults;
  std::atomic<int64_t> clock_offset_ms{0};  // moves the store's clock

  MemoryBroker& broker() { return broker_; }
  MemoryStore& store() { return store_; }
  const WorkerRuntime& runtime() const { return *runtime_; }

  // Enqueues a noop task and publishes it as the relay would; its id.
  std::string Enqueue(uint32_t max_attempts = 1, uint32_t timeout_ms = 0) {
    NewTask t;
    t.type = "noop";
    t.max_attempts = max_attempts;
    t.timeout_ms = timeout_ms;
    t.retry_base_ms = 60000;  // a retry stays scheduled during the test
    const std::string id = store_.Enqueue({&t, 1}).at(0).id;
    PublishOutbox();
    return id;
  }
  // Publishes the outbox `copies` times (more than once: duplicates).
  void PublishOutbox(int copies = 1) {
    std::vector<OutgoingMessage> messages;
    std::vector<int64_t> ids;
    for (const auto& item : store_.FetchOutbox(100)) {
      messages.push_back({item.envelope.queue, EncodeEnvelope(item.envelope),
                          static_cast<uint8_t>(item.envelope.priority), item.envelope.id});
      ids.push_back(item.outbox_id);
    }
    for (int i = 0; i < copies; ++i) {
      publisher_->PublishConfirmed(messages, DeadlineIn(std::chrono::seconds(1)));
    }
    store_.DeleteOutbox(ids);
  }
  void PublishRaw(const std::string& body) {
    const OutgoingMessage m{"default", body, 0, ""};
    publisher_->PublishConfirmed({&m, 1}, DeadlineIn(std::chrono::seconds(1)));
  }

  void Start() {
    runtime_ = std::make_unique<WorkerRuntime>(
        options, [this] { return std::make_unique<FaultyStore>(store_, faults); }, handlers_,
        types_);
    auto consumer = broker_.NewConsumer();
    consumer->Start(options.queues, static_cast<uint16_t>(options.concurrency));
    thread_ = std::thread([this, c = std::move(consumer)]() mutable {
      exit_code_ = runtime_->Run(std::move(c), stop_);
      returned_ = true;
    });
  }
  // Sets the stop flag and waits for Run to return; its exit code.
  int Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return exit_code_;
  }
  bool Returned() const { return returned_; }

  TaskState StateOf(const std::string& id) { return store_.GetTask(id).value().state; }
  // Waits up to `timeout` for `done`; whether it came true.
  static bool WaitFor(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto until = SteadyClock::now() + timeout;
    while (!done()) {
      if (SteadyClock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

 private:
  MemoryBroker broker_;
  std::unique_ptr<Publisher> publisher_ = broker_.NewPublisher();
  MemoryStore store_;
  TaskTypes types_;
  HandlerRegistry handlers_;
  std::unique_ptr<WorkerRuntime> runtime_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> returned_{false};
  int exit_code_ = -1;
  std::thread thread_;
};

}  // namespace fila::testing
