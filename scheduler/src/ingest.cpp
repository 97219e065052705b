#include "fila/scheduler/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <utility>

#include "fila/codec/enqueue.h"
#include "fila/codec/tasks.h"
#include "fila/codec/wire.h"
#include "fila/core/errors.h"
#include "fila/v1/task.pb.h"

namespace fila {

using codec::Format;

struct IngestConsumer::Item {
  Delivery delivery;
  Format format = Format::kProtobuf;  // of the request, and so of the reply
  std::optional<NewTask> task;        // valid and not committed yet
  bool answerable = false;            // `response` is final
  bool answered = false;
  v1::EnqueueResponse response;

  void Fail(std::string code, const std::string& message, const std::string& field) {
    task.reset();
    response.Clear();
    response.set_error_code(std::move(code));
    response.set_error_message(message);
    response.set_error_field(field);
    answerable = true;
  }

  // The answer to a request the gate or the store refused, by the error's type.
  void FailWith(const std::exception& e) {
    if (const auto* denied = dynamic_cast<const PermissionDenied*>(&e)) {
      Fail("permission_denied", denied->what(), denied->field());
    } else if (const auto* permanent = dynamic_cast<const PermanentError*>(&e)) {
      Fail("invalid_argument", permanent->what(), permanent->field());
    } else {
      spdlog::error("ingest: enqueue failed: {}", e.what());
      Fail("internal", "internal error", "");
    }
  }
};

IngestConsumer::IngestConsumer(IngestOptions options, Consumer& consumer, TaskAdminStore& store,
                               const TaskTypes& types, TenantGate& gate, SchedulerMetrics& metrics)
    : options_(std::move(options)), consumer_(consumer), store_(store), types_(types), gate_(gate),
      metrics_(metrics) {}

void IngestConsumer::Run(const std::atomic<bool>& stop) {
  try {
    consumer_.Start({kIngestQueue}, options_.prefetch);
  } catch (const TransientError& e) {
    // Next() keeps reconnecting with backoff from here on.
    spdlog::warn("ingest: cannot subscribe yet ({}); retrying", e.what());
  }
  spdlog::info("ingest: consuming queue '{}' (prefetch {})", kIngestQueue, options_.prefetch);
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  while (!stop.load()) {
    std::vector<Delivery> batch;
    while (!held_.empty() && batch.size() < max_batch) {
      batch.push_back(std::move(held_.front()));
      held_.pop_front();
    }
    if (batch.empty()) {
      auto first = consumer_.Next(SteadyClock::now() + options_.poll);
      if (!first) continue;
      latest_epoch_ = std::max(latest_epoch_, first->epoch);
      batch.push_back(std::move(*first));
    }
    // Whatever else already arrived joins this batch, without waiting:
    // one transaction for all of them under load, no added latency idle.
    while (batch.size() < max_batch) {
      auto more = consumer_.Next(SteadyClock::now());
      if (!more) break;
      latest_epoch_ = std::max(latest_epoch_, more->epoch);
      batch.push_back(std::move(*more));
    }
    Process(std::move(batch), stop);
  }
  consumer_.Stop();
  if (!held_.empty()) {
    spdlog::info("ingest: {} deliveries left unacked for the broker to redeliver", held_.size());
  }
}

void IngestConsumer::Process(std::vector<Delivery> batch, const std::atomic<bool>& stop) {
  std::vector<Item> items(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Item& item = items[i];
    item.delivery = std::move(batch[i]);
    // No content type means protobuf: the native format of AMQP producers.
    auto format = codec::FormatOf(item.delivery.content_type, Format::kProtobuf);
    if (!format) {
      item.Fail("unsupported_media_type",
                "content type must be application/x-protobuf (or empty) or application/json, got '" +
                    item.delivery.content_type + "'",
                "content_type");
      continue;
    }
    item.format = *format;
    v1::EnqueueRequest request;
    try {
      codec::Decode(item.format, item.delivery.body, request);
    } catch (const PermanentError& e) {
      item.Fail("invalid_argument", e.what(), e.field());
      continue;
    } catch (const std::exception& e) {
      spdlog::error("ingest: decoding a request failed: {}", e.what());
      item.Fail("internal", "internal error", "");
      continue;
    }
    try {
      // AMQP producers are trusted by their broker credentials to name a
      // tenant, among IngestOptions::tenants when the operator listed some.
      const auto& allowed = options_.tenants;
      std::string tenant = !request.tenant().empty() ? request.tenant()
                           : allowed.empty()          ? "default"
                                                      : allowed.front();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), tenant) == allowed.end()) {
        throw PermissionDenied("tenant '" + tenant.substr(0, 64) + "' may not be named on the ingest queue",
                               "tenant");
      }
      item.task = PrepareTask(codec::ToTaskRequest(request, std::move(tenant)), types_, options_.limits);
    } catch (const PermissionDenied& e) {
      item.Fail("permission_denied", e.what(), e.field());
    } catch (const PayloadTooLarge& e) {
      item.Fail("payload_too_large", e.what(), e.field());
    } catch (const PermanentError& e) {
      item.Fail("invalid_argument", e.what(), e.field());
    } catch (const std::exception& e) {
      spdlog::error("ingest: preparing a request failed: {}", e.what());
      item.Fail("internal", "internal error", "");
    }
  }

  // Bad requests are answered at once: their answer needs no database.
  for (Item& item : items) {
    if (item.answerable) Answer(item);
  }
  try {
    Commit(items, stop);
  } catch (const std::exception& e) {
    // Commit handles the database's errors; whatever else escapes it must
    // not leave this batch unacked (holding prefetch) or end the consumer:
    // the requests not committed are answered with an error.
    spdlog::error("ingest: committing a batch failed: {}", e.what());
    for (Item& item : items) {
      if (item.task && !item.answerable) item.Fail("internal", "internal error", "");
    }
  }
  for (Item& item : items) {
    if (item.answerable && !item.answered) Answer(item);
  }
}

void IngestConsumer::Commit(std::vector<Item>& items, const std::atomic<bool>& stop) {
  auto backoff = options_.retry_initial;
  int failures = 0;
  for (;;) {
    std::vector<Item*> pending;
    for (Item& item : items) {
      if (!item.task) continue;
      // Its connection died while the batch waited: the broker requeued it
      // and redelivers it; committing it now would enqueue it twice.
      if (item.delivery.epoch < latest_epoch_) {
        item.task.reset();
        continue;
      }
      pending.push_back(&item);
    }
    if (pending.empty()) return;
    try {
      // The tenant's bindings and quota, request by request, so a refused
      // one is answered alone; the database is needed here too, so a
      // TransientError retries the batch like a commit.
      const QueueRule rule = options_.tenants.empty() ? QueueRule::kAnyQueue : QueueRule::kProducer;
      std::vector<Item*> admitted;
      std::vector<NewTask> tasks;
      for (Item* item : pending) {
        try {
          gate_.CheckEnqueue(std::span<const NewTask>(&*item->task, 1), types_, rule);
          admitted.push_back(item);
          tasks.push_back(*item->task);
        } catch (const QuotaExceeded& e) {
          item->Fail("resource_exhausted", e.what(), "");
        } catch (const TransientError&) {
          throw;
        } catch (const std::exception& e) {
          item->FailWith(e);
        }
      }
      // One transaction; a request the database refuses fails alone.
      std::vector<EnqueueOutcome> outcomes;
      if (!tasks.empty()) outcomes = store_.EnqueueEach(tasks);
      if (outcomes.size() != tasks.size()) {
        throw std::logic_error("the store answered " + std::to_string(outcomes.size()) +
                               " outcomes for " + std::to_string(tasks.size()) + " tasks");
      }
      for (size_t i = 0; i < admitted.size(); ++i) {
        Item& item = *admitted[i];
        if (outcomes[i].error) {
          try {
            std::rethrow_exception(outcomes[i].error);
          } catch (const std::exception& e) {
            item.FailWith(e);
          }
          continue;
        }
        item.task.reset();
        item.response = codec::ToProto(outcomes[i].result);
        if (outcomes[i].result.created) metrics_.Enqueued(tasks[i].queue, tasks[i].type, 1);
        item.answerable = true;
      }
      if (failures > 0) spdlog::info("ingest: database back after {} failed attempts", failures);
      return;
    } catch (const TransientError& e) {
      if (failures++ == 0) {
        spdlog::warn("ingest: cannot enqueue {} requests ({}); retrying with backoff, unacked",
                     pending.size(), e.what());
      }
      if (stop.load()) {
        spdlog::warn("ingest: stopping with {} requests uncommitted; the broker redelivers them",
                     pending.size());
        for (Item* item : pending) {
          if (!item->answerable) item->task.reset();
        }
        return;
      }
      HoldWhileWaiting(backoff, stop);
      backoff = std::min(backoff * 2, options_.retry_max);
    }
  }
}

void IngestConsumer::HoldWhileWaiting(std::chrono::milliseconds wait,
                                      const std::atomic<bool>& stop) {
  const Deadline until = SteadyClock::now() + wait;
  while (!stop.load() && SteadyClock::now() < until) {
    // Calling Next() keeps the connection's heartbeats going while the
    // database is away; what it delivers waits for the next batch.
    if (auto delivery = consumer_.Next(until)) {
      latest_epoch_ = std::max(latest_epoch_, delivery->epoch);
      held_.push_back(std::move(*delivery));
    }
  }
}

void IngestConsumer::Answer(Item& item) {
  item.answered = true;
  const std::string body = codec::Encode(item.format, item.response, /*all_fields=*/true);
  metrics_.Ingested(item.response.error_code().empty());
  if (item.response.error_code().empty()) {
    enqueued_.fetch_add(1);
  } else {
    errors_.fetch_add(1);
    // The code and field only: messages may quote the request's content.
    spdlog::debug("ingest: answered correlation id '{}' with {} (field '{}')",
                  item.delivery.correlation_id, item.response.error_code(),
                  item.response.error_field());
  }
  // Before the ack: a crash in between answers twice, never zero times.
  consumer_.Reply(item.delivery, body, std::string(codec::ContentType(item.format)));
  consumer_.Ack(item.delivery.epoch, item.delivery.tag);
}

}  // namespace fila
