#include "fila/codec/monitor.h"

#include <algorithm>

#include "time_support.h"

namespace fila::codec {

v1::QueueStatus ToProto(const QueueStatusView& q) {
  v1::QueueStatus p;
  p.set_queue(q.queue);
  for (const auto& [state, count] : q.counts) (*p.mutable_counts())[std::string(ToString(state))] = count;
  p.set_oldest_queued_age_seconds(q.oldest_queued_age_seconds);
  p.set_mean_run_seconds(q.mean_run_seconds);
  p.set_paused(q.paused);
  p.set_paused_by(q.paused_by);
  SetTime(q.paused_at_ms, [&] { return p.mutable_paused_at(); });
  return p;
}

QueueStatusView FromProto(const v1::QueueStatus& q) {
  QueueStatusView v;
  v.queue = q.queue();
  for (const auto& [state, count] : q.counts()) {
    if (auto s = ParseTaskState(state)) v.counts.emplace_back(*s, count);
  }
  std::sort(v.counts.begin(), v.counts.end());
  v.oldest_queued_age_seconds = q.oldest_queued_age_seconds();
  v.mean_run_seconds = q.mean_run_seconds();
  v.paused = q.paused();
  v.paused_by = q.paused_by();
  v.paused_at_ms = Ms(q.paused_at());
  return v;
}

std::vector<QueueStateCount> CountsOf(const v1::ListQueuesResponse& queues) {
  std::vector<QueueStateCount> out;
  for (const auto& q : queues.queues()) {
    for (const auto& [state, count] : FromProto(q).counts) out.push_back({q.queue(), state, count});
  }
  return out;
}

v1::ListWorkersResponse ToProto(const MonitorSnapshot& s) {
  v1::ListWorkersResponse out;
  SetTime(s.taken_at_ms, [&] { return out.mutable_taken_at(); });
  out.set_stale_after_seconds(s.stale_after_seconds);
  out.set_workers_hidden(s.workers_hidden);
  out.set_outbox_rows(s.outbox_rows);
  out.set_outbox_lag_seconds(s.outbox_lag_seconds);
  for (const auto& w : s.workers) {
    auto* p = out.add_workers();
    p->set_id(w.id);
    p->set_hostname(w.hostname);
    p->set_pid(w.pid);
    for (const auto& q : w.queues) p->add_queues(q);
    p->set_concurrency(w.concurrency);
    p->set_slots(w.concurrency);
    p->set_version(w.version);
    p->set_draining(w.draining);
    if (!w.deregistered) {
      SetTime(s.taken_at_ms - static_cast<int64_t>(w.heartbeat_age_seconds * 1000),
              [&] { return p->mutable_last_heartbeat(); });
    }
    SetTime(w.started_at_ms, [&] { return p->mutable_started_at(); });
    p->set_heartbeat_age_seconds(w.heartbeat_age_seconds);
    p->set_stale(w.stale);
    p->set_deregistered(w.deregistered);
    p->set_succeeded(w.succeeded);
    p->set_failed(w.failed);
    for (const auto& [queue, n] : w.finished_by_queue) (*p->mutable_finished_by_queue())[queue] = n;
    for (const auto& t : w.running) {
      auto* r = p->add_running();
      r->set_id(t.id);
      r->set_type(t.type);
      r->set_queue(t.queue);
      r->set_attempt(t.attempt);
      r->set_elapsed_seconds(t.elapsed_seconds);
      r->mutable_progress()->set_percent(t.progress);
      r->mutable_progress()->set_message(t.progress_message);
    }
  }
  for (const auto& q : s.queues) {
    auto* p = out.add_queues();
    p->set_queue(q.queue);
    auto& counts = *p->mutable_counts();
    counts["blocked"] = q.blocked;
    counts["queued"] = q.queued;
    counts["scheduled"] = q.scheduled;
    counts["running"] = q.running;
    p->set_oldest_queued_age_seconds(q.oldest_queued_age_seconds);
  }
  return out;
}

MonitorSnapshot FromProto(const v1::ListWorkersResponse& m) {
  MonitorSnapshot s;
  s.taken_at_ms = Ms(m.taken_at());
  s.stale_after_seconds = m.stale_after_seconds();
  s.workers_hidden = m.workers_hidden();
  s.outbox_rows = m.outbox_rows();
  s.outbox_lag_seconds = m.outbox_lag_seconds();
  for (const auto& p : m.workers()) {
    WorkerView w;
    w.id = p.id();
    w.hostname = p.hostname();
    w.pid = p.pid();
    w.queues.assign(p.queues().begin(), p.queues().end());
    w.concurrency = p.concurrency();
    w.version = p.version();
    w.draining = p.draining();
    w.started_at_ms = Ms(p.started_at());
    w.heartbeat_age_seconds = p.heartbeat_age_seconds();
    w.stale = p.stale();
    w.deregistered = p.deregistered();
    w.succeeded = p.succeeded();
    w.failed = p.failed();
    w.finished_by_queue.insert(p.finished_by_queue().begin(), p.finished_by_queue().end());
    for (const auto& t : p.running()) {
      w.running.push_back({t.id(), t.type(), t.queue(), t.attempt(), t.elapsed_seconds(), t.progress().percent(),
                           t.progress().message()});
    }
    s.workers.push_back(std::move(w));
  }
  for (const auto& q : m.queues()) {
    QueueSample sample;
    sample.queue = q.queue();
    auto count = [&](const char* state) {
      auto it = q.counts().find(state);
      return it == q.counts().end() ? int64_t{0} : it->second;
    };
    sample.blocked = count("blocked");
    sample.queued = count("queued");
    sample.scheduled = count("scheduled");
    sample.running = count("running");
    sample.oldest_queued_age_seconds = q.oldest_queued_age_seconds();
    s.queues.push_back(std::move(sample));
  }
  return s;
}

}  // namespace fila::codec
