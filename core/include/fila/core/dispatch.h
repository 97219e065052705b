#pragma once

// Fair dispatch (docs/fairness.md): which outbox rows the relay publishes
// next, and with which priority. The rule lives here; the stores find the
// candidates (the head of each (queue, priority, tenant) group of outbox
// rows, the tenants' usage and weights) and apply PlanDispatch's choice.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

inline constexpr uint32_t kMaxPriority = 9;

// min(9, priority + floor(wait_ms / aging_ms)); aging_ms <= 0: no aging.
uint32_t EffectivePriority(uint32_t priority, int64_t wait_ms, int64_t aging_ms);

// A message published with `published` as its priority, of a task of base
// priority `priority` queued since `queued_ms`: in the broker it ages no
// more, so rows published later at a higher priority would overtake it for
// as long as they keep coming.
struct BrokerMark {
  uint32_t published = 0;
  uint32_t priority = 0;
  int64_t queued_ms = 0;
};

struct DispatchRequest {
  uint32_t limit = 0;  // rows at most, over every queue
  // With a window, queue -> how many more messages it may be given (the
  // window less what its broker queue holds ready). A queue with outbox
  // rows but no entry gets none and is named in unknown_queues. Without a
  // window (bounded == false) every queue takes what the limit allows.
  bool bounded = false;
  std::map<std::string, int64_t> room;
  // Queue -> aging interval (ms per priority level); absent: default_aging_ms.
  std::map<std::string, int64_t> aging_ms;
  int64_t default_aging_ms = 0;
  // Outbox rows not to return (published and not confirmed yet).
  std::vector<int64_t> skip;
  // Tasks the caller published that may still sit unclaimed in the broker:
  // they count in their tenant's usage while still queued.
  std::vector<std::string> in_broker;
  // Of in_broker, those published ahead: they count in TenantShare::serving
  // too.
  std::vector<std::string> in_broker_ahead;
  // Per queue, messages the caller published below the top priority that
  // may still be ready in the broker (see DispatchPlan::held): the oldest
  // one published at each priority.
  std::map<std::string, std::vector<BrokerMark>> marks;

  int64_t AgingOf(const std::string& queue) const;
};

struct DispatchResult {
  // In publish order. A row whose task is no longer queued has an empty
  // envelope queue (delete it unpublished), as FetchOutbox's.
  std::vector<OutboxItem> items;
  // Queues with outbox rows but no room entry (bounded requests only).
  std::vector<std::string> unknown_queues;
  // Of request.in_broker: the tasks still queued. A store may leave it
  // empty when no queue's outbox rows belong to two tenants (usage orders
  // nothing then); the caller's ledger then starts again from its next
  // publishes.
  std::vector<std::string> in_broker;
  // Queues whose room ran out with rows left (bounded requests only).
  std::vector<std::string> full_queues;
  // Queues with rows held back for a marked message (DispatchPlan::held).
  std::vector<std::string> held_queues;
  // DispatchPlan::backlog (bounded requests only).
  std::map<std::pair<std::string, std::string>, uint32_t> backlog;
  // DispatchPlan::top_priority: per queue, the highest base priority of
  // its outbox rows.
  std::map<std::string, uint32_t> top_priority;
};

// One (queue, priority, tenant) group of outbox rows, as the store sees it:
// its oldest row (the head: lowest id) and how many rows it holds (a store
// may cap the count, but above its queue's room plus kPastWindowRows:
// PlanDispatch can then tell a queue whose window is full, and a tenant
// below its share takes its rows past a full window in one pass).
inline constexpr int64_t kPastWindowRows = 32;
struct DispatchGroup {
  std::string queue;
  uint32_t priority = 0;
  std::string tenant;
  int64_t head_id = 0;
  int64_t head_created_ms = 0;
  int64_t rows = 0;
  // When each of the first rows became queued, in id order (the head's
  // first): each row ranks by its own wait. Rows past the list (or all of
  // them, when a store leaves it empty) rank as the last one listed.
  std::vector<int64_t> created_ms;
};

struct TenantShare {
  int64_t usage = 0;    // running + published and unclaimed, of one queue
  int64_t serving = 0;  // running + published ahead and unclaimed: what workers take first
  int64_t weight = 1;   // the tenant's weight (1..1000)
};

// The choice, one entry per row to publish, in publish order: the index of
// the group in `groups` it comes from (rows of a group are taken in id
// order) and its effective priority. The next row of each group competes:
// rows go by their effective priority (highest first), then by the
// tenant's usage/weight in the queue (lowest first; every row taken adds
// one to its tenant's usage), then a row that aging raised to that
// priority before one born there, then by the time the row reached it
// (an aged row: when it became queued plus the intervals it aged; the
// others: when they became queued), oldest first. Aged rows first: under
// a load of higher priorities above capacity the rows born at the top
// wait ever longer, and an aged row queued behind them would wait as long
// (no bound from the aging setting). Respects request.limit and, when
// bounded, request.room, but for a tenant below its share (as `ahead`
// below): its row goes past a full window, ahead of the ready messages that
// fill it, or it would wait behind them anyway. The broker then holds more
// than the window by at most those tenants' share of the queue's serving.
// `shares` is keyed (queue, tenant); absent: usage 0, weight 1.
// A pick is `ahead` when its queue's outbox holds rows of two tenants or
// more, or of one while another tenant has serving there (`shares`), and
// its tenant's serving / weight, before the pick, is below the
// queue's: the sum of serving over the sum of weight of the tenants with
// rows or usage there; an ahead pick adds one to its tenant's serving. The
// broker then delivers it before the messages of its priority that are not
// ahead (OutgoingMessage::ahead): a quiet tenant does not wait behind the
// window another tenant filled. Serving, not usage: messages that are not
// ahead wait behind the ahead ones, so counting them would keep their
// tenant from ever being ahead while the other's ahead ones run. An aged
// pick (its effective priority above its own) is ahead too, as rule 4
// puts it before the rows born at its priority: in the broker it does not
// wait behind a window of them.
struct DispatchPick {
  size_t group = 0;
  uint32_t priority = 0;
  bool ahead = false;
};
struct DispatchPlan {
  std::vector<DispatchPick> picks;
  std::vector<std::string> full_queues;  // as DispatchResult's
  // Queues where a marked message (request.marks) has aged, by its wait,
  // above the priority it was published with: rows whose effective priority
  // lies above that and no higher than the mark's own are not picked, so
  // the broker delivers what it holds above the mark and then the mark,
  // instead of rows published after it. Rows above the mark's effective
  // priority go as usual; so do rows at or below its published one.
  std::vector<std::string> held_queues;
  // (queue, tenant) -> the highest base priority of its rows this plan left
  // in the outbox (bounded requests only): new rows of that tenant at that
  // priority or below would wait behind them, so the relay need not pass
  // for them (Dispatcher::Wanted).
  std::map<std::pair<std::string, std::string>, uint32_t> backlog;
  // Per queue, the highest base priority waiting: aging raises a row at
  // most to it (a row's publish priority is
  // min(top, EffectivePriority(...)), as its group's).
  std::map<std::string, uint32_t> top_priority;
  uint32_t PublishPriority(const std::string& queue, uint32_t priority, int64_t wait_ms,
                           int64_t aging_ms) const;
};
DispatchPlan PlanDispatch(
    const DispatchRequest& request, const std::vector<DispatchGroup>& groups,
    const std::map<std::pair<std::string, std::string>, TenantShare>& shares, int64_t now_ms);

}  // namespace fila
