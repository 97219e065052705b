#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fila/core/broker.h"
#include "fila/core/clock.h"
#include "fila/core/leader_store.h"
#include "fila/core/metrics.h"

namespace fila {

// fila-scheduler's --dispatch-window and --priority-aging when none is
// given (docs/fairness.md).
inline constexpr uint32_t kDefaultDispatchWindow = 256;
inline constexpr const char* kDefaultPriorityAging = "30s";

struct DispatchOptions {
  // Ready messages a work queue may hold in the broker; the rest waits in
  // the outbox, where the order is fair (docs/fairness.md). 0 (unless set;
  // fila-scheduler sets kDefaultDispatchWindow): no window, the outbox in
  // id order, no fairness and no aging.
  uint32_t window = 0;
  // Priority aging: per queue, how long a task waits to gain one priority
  // level; queues absent take default_aging. Zero: no aging.
  std::map<std::string, std::chrono::milliseconds> aging;
  std::chrono::milliseconds default_aging{30000};
  std::chrono::milliseconds broker_timeout{10000};
};

// A task the relay sent to the broker: where (the broker queue: its queue,
// or the queue's express lane), and which.
struct SentTask {
  std::string queue;
  std::string id;
  bool ahead = false;  // OutboxItem::ahead
};

// Parses --priority-aging: "30s" (every queue), or
// "default=30s,reports=5s,bulk=0" (per queue; "default" the others).
// Durations: a number with ms, s, m or h (a bare number is seconds).
// Throws PermanentError (field "priority-aging") for anything else.
void ParsePriorityAging(const std::string& text, DispatchOptions& options);

// Chooses what the relay publishes next (docs/fairness.md). With a window,
// it reads the ready count of each queue with outbox rows (one broker round
// trip each) and asks the store for at most window - ready rows of it, in
// the fair order; it remembers what it published until claimed, as that
// tenant's usage. Rows that go ahead go to their queue's express lane
// (OutboxItem::express) while one of its consumers, the workers' express
// slots, is free: the lane's consumers less the tasks sent to it that are
// still queued or running; and only rows of a priority nothing waiting in
// the queue or its outbox exceeds. Not thread-safe: the relay's
// thread owns it, with the store and the publisher.
class Dispatcher final {
 public:
  Dispatcher(DispatchOptions options, LeaderStore& store, Publisher& publisher,
             SchedulerMetrics& metrics = NoSchedulerMetrics());

  // The rows to publish now, at most `limit`, none of `skip`; each with
  // the priority to publish it with. Throws what the store or the
  // publisher throws.
  std::vector<OutboxItem> Next(uint32_t limit, std::span<const int64_t> skip = {});
  // The caller published these (confirmed): they count in their tenant's
  // usage until a worker claims them.
  void Published(std::span<const OutboxItem> items);
  // The caller sent these and awaits the broker's confirms: they take room
  // in their queue's window already. Settled() tells how the batch ended;
  // confirmed ones then count as Published().
  void Sent(std::span<const SentTask> tasks);
  void Settled(std::span<const SentTask> tasks, bool confirmed);
  // Whether the last pass left rows behind for want of room: nothing will
  // notify when workers drain the broker, so look again after RetryIn().
  // Held back for a message aging in the broker (DispatchPlan::held_queues)
  // counts too: the broker must drain first.
  bool Held() const { return !full_.empty() || !held_.empty(); }
  // Whether an outbox notification (its payload: "queue<TAB>tenant<TAB>
  // priority", migration 0021) calls for a pass now. Not when the last
  // pass left that tenant's rows of that priority or higher in that queue
  // for want of room: the new rows would wait behind them, and under one
  // tenant's flood every enqueue's commit would start a pass that finds
  // the window full. Any other payload (none, or a tenant below its share)
  // does: such rows may go now, past a full window too.
  bool Wanted(std::string_view payload) const;
  std::chrono::milliseconds RetryIn() const { return poll_; }
  const DispatchOptions& Options() const { return options_; }

 private:
  void CountRoom(const std::string& queue, DispatchRequest& request);
  // Sets the queue's room from its last count without asking the broker,
  // when that is safe: see counted_. False: count it.
  bool EstimateRoom(const std::string& queue, DispatchRequest& request) const;
  // One more message sent to `queue` since its last count.
  void CountSent(const std::string& queue);
  // Remembers the oldest message published at each priority below the top
  // (marks_), where the queue ages.
  void Mark(const DispatchRequest& request, std::span<const OutboxItem> items);
  // Sets OutboxItem::express on the ahead rows its queue's lane has room
  // for (LaneRoom), of a priority no message waiting in the outbox
  // (`top_priority`) or sent to the queue (sent_top_) exceeds: a lane's
  // message overtakes everything in its queue.
  void RouteExpress(std::vector<OutboxItem>& items,
                    const std::map<std::string, uint32_t>& top_priority);
  // The free express slots of the queue's lane: its consumers (counted
  // once a second, declaring the lane) less the tasks sent to it that are
  // still queued or running (asking the store).
  int64_t LaneRoom(const std::string& queue);
  struct Lane;
  // Counts the lane's consumers when its count is older than kRecount;
  // whether it did.
  bool CountLane(const std::string& name, Lane& lane);
  // A lane that no worker consumes any more (a rollout to --express-slots
  // 0, the last worker gone) keeps its messages until one subscribes
  // again: the tasks sent to it that are still queued go back to the
  // outbox (LeaderStore::Republish), to be published again where there is
  // room. Counted in fila_tasks_republished_total of their queue. Only
  // lanes with tasks that may still be pending are counted here.
  void HandBackIdleLanes();
  void TrimInBroker();
  void ForgetAheadNotInBroker();  // keeps ahead_ a subset of in_broker_

  DispatchOptions options_;
  LeaderStore& store_;
  Publisher& publisher_;
  SchedulerMetrics& metrics_;
  std::set<std::string> queues_;       // queues that had outbox rows at the last pass
  std::set<std::string> full_;         // queues whose window was full at the last pass
  std::set<std::string> held_;         // queues with rows held back at the last pass
  std::map<std::pair<std::string, std::string>, uint32_t> backlog_;  // DispatchResult::backlog
  // Per queue and published priority below the top, the oldest message
  // published since the queue was last seen with no ready message (it may
  // still be there, overtaken by later higher priorities).
  std::map<std::string, std::map<uint32_t, BrokerMark>> marks_;
  std::vector<std::string> in_broker_;  // published by this relay, maybe unclaimed
  std::set<std::string> ahead_;         // of in_broker_, those published ahead
  std::map<std::string, int64_t> sending_;  // per queue: sent, not confirmed yet
  // Per queue, its last count: when, what it held (ready + sending then)
  // and what was sent since. Their sum bounds what it holds now but for
  // messages the relay does not send (a worker's hand-back, a
  // reconciliation), so a queue that held less than half its window by
  // that bound, counted within the last second, with no rows held back and
  // no mark that could hold rows within that second, is not counted again:
  // one broker round trip fewer on most passes of a queue that keeps up.
  struct Counted {
    SteadyClock::time_point at;
    int64_t held = 0;
    int64_t sent_since = 0;
  };
  std::map<std::string, Counted> counted_;
  // Per express lane (its broker queue's name): its consumers when last
  // counted (a worker subscribes once per express slot), and the tasks sent
  // to it that may still hold one of those slots (queued or running when
  // last asked).
  struct Lane {
    SteadyClock::time_point counted{};
    int64_t slots = 0;
    std::vector<std::string> tasks;
  };
  std::map<std::string, Lane> lanes_;
  // Per queue, the highest priority sent to it since it was last counted
  // with nothing ready or on its way.
  std::map<std::string, uint32_t> sent_top_;
  std::chrono::milliseconds poll_{5};
  bool drained_ = false;  // a held queue's ready count fell below half the window
};

}  // namespace fila
