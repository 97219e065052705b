#include "bulk_runner.h"

#include <spdlog/spdlog.h>

#include "fila/codec/console.h"
#include "fila/core/errors.h"

namespace fila::api {

BulkRunner::BulkRunner(Factory factory, BulkRunnerOptions options)
    : factory_(std::move(factory)), options_(options) {}

BulkRunner::~BulkRunner() { Stop(); }

void BulkRunner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void BulkRunner::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void BulkRunner::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void BulkRunner::Loop() {
  std::unique_ptr<ConsoleStore> store;
  while (true) {
    bool ran = false;
    try {
      if (!store) store = factory_();
      ran = RunOne(*store);
    } catch (const std::exception& e) {
      // The database is away: the job keeps its lease until it expires,
      // then this runner (or another scheduler's) carries on from its cursor.
      spdlog::warn("bulk jobs: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (stop_) return;
    if (ran) continue;  // another job may be waiting
    wake_.wait_for(lock, options_.poll, [this] { return stop_ || woken_; });
    woken_ = false;
    if (stop_) return;
  }
}

bool BulkRunner::RunOne(ConsoleStore& store) {
  auto job = store.LeaseBulkJob(options_.lease_ms);
  if (!job) return false;
  ListFilter filter;
  try {
    filter = codec::ToListFilter(codec::FilterFromJson(job->filter_json));
  } catch (const PermanentError& e) {
    store.FailBulkJob(job->id, std::string("bad filter: ") + e.what());
    return true;
  }
  spdlog::info("bulk job {} ({} of {} tasks): started", job->id, ToString(job->action), job->total);
  BulkJob now = *job;
  while (now.state == "running") {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return true;  // the lease expires; a runner carries on from the cursor
    }
    try {
      now = store.BulkStep(job->id, filter, options_.batch, options_.lease_ms);
    } catch (const PermanentError& e) {
      // The batch rolled back whole; the job stops where it is.
      spdlog::error("bulk job {} failed: {}", job->id, e.what());
      store.FailBulkJob(job->id, e.what());
      return true;
    }
  }
  spdlog::info("bulk job {}: {} (done {}, skipped {})", job->id, now.state, now.done, now.skipped);
  return true;
}

}  // namespace fila::api
