#include "fila/scheduler/dispatcher.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "fila/core/errors.h"

namespace fila {
namespace {

// What the dispatcher remembers of its publishes at most: a ledger for
// usage, bounded whatever the broker does (a purged queue's tasks stay
// queued until the reconciler republishes them).
constexpr size_t kMaxInBroker = 100000;
// How soon a pass that left rows behind looks again: between these, halved
// when the broker had drained below half the window, doubled otherwise.
constexpr std::chrono::milliseconds kMinPoll{2};
constexpr std::chrono::milliseconds kMaxPoll{100};
// How long a queue's count may stand in for counting it again (counted_),
// and a lane's count of express slots.
constexpr std::chrono::milliseconds kRecount{1000};
// Tasks remembered per express lane at most (Lane::tasks): more than any
// fleet's express slots.
constexpr size_t kMaxInLane = 10000;

std::chrono::milliseconds ParseDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  if (digits == 0 || digits > 9) {
    throw PermanentError("priority aging: '" + text + "' is not a duration (e.g. 30s, 500ms, 2m)",
                         "priority-aging");
  }
  const int64_t n = std::stoll(text.substr(0, digits));
  if (unit.empty() || unit == "s") return std::chrono::seconds(n);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "m") return std::chrono::minutes(n);
  if (unit == "h") return std::chrono::hours(n);
  throw PermanentError("priority aging: unknown unit in '" + text + "' (ms, s, m or h)",
                       "priority-aging");
}

}  // namespace

void ParsePriorityAging(const std::string& text, DispatchOptions& options) {
  if (text.find('=') == std::string::npos) {
    options.default_aging = ParseDuration(text);
    return;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw PermanentError("priority aging: '" + part + "' is not queue=duration", "priority-aging");
    }
    const std::string queue = part.substr(0, eq);
    const auto aging = ParseDuration(part.substr(eq + 1));
    if (queue == "default") {
      options.default_aging = aging;
    } else {
      options.aging[queue] = aging;
    }
    start = comma + 1;
  }
}

Dispatcher::Dispatcher(DispatchOptions options, LeaderStore& store, Publisher& publisher,
                       SchedulerMetrics& metrics)
    : options_(std::move(options)), store_(store), publisher_(publisher), metrics_(metrics) {}

void Dispatcher::CountRoom(const std::string& queue, DispatchRequest& request) {
  const QueueCounts counts = publisher_.CountQueue(queue, DeadlineIn(options_.broker_timeout));
  if (full_.contains(queue) && counts.ready * 2 < options_.window) drained_ = true;
  // Sent and not confirmed yet: maybe not counted as ready by the broker.
  const auto sending = sending_.find(queue);
  // Nothing ready and nothing on its way: every marked message was
  // delivered, and nothing there has a higher priority than a new one.
  if (counts.ready == 0 && sending == sending_.end()) {
    marks_.erase(queue);
    sent_top_.erase(queue);
  }
  const int64_t held =
      static_cast<int64_t>(counts.ready) + (sending == sending_.end() ? 0 : sending->second);
  request.room[queue] = std::max<int64_t>(0, int64_t{options_.window} - held);
  counted_[queue] = Counted{SteadyClock::now(), held, 0};
}

bool Dispatcher::EstimateRoom(const std::string& queue, DispatchRequest& request) const {
  const auto it = counted_.find(queue);
  if (it == counted_.end() || full_.contains(queue) || held_.contains(queue)) return false;
  if (SteadyClock::now() - it->second.at > kRecount) return false;
  // Only a count that sees the queue empty clears its marks: one that may
  // hold rows back within kRecount (rule 6: its wait raises it above the
  // priority it was published with) needs that count now.
  if (const auto m = marks_.find(queue); m != marks_.end()) {
    const int64_t aging = request.AgingOf(queue);
    const int64_t soon = NowUnixMs() + kRecount.count();
    for (const auto& [published, mark] : m->second) {
      const auto levels = static_cast<int64_t>(published) - static_cast<int64_t>(mark.priority) + 1;
      if (aging <= 0 || mark.queued_ms + levels * aging <= soon) return false;
    }
  }
  const int64_t bound = it->second.held + it->second.sent_since;
  if (bound * 2 > int64_t{options_.window}) return false;
  request.room[queue] = int64_t{options_.window} - bound;
  return true;
}

std::vector<OutboxItem> Dispatcher::Next(uint32_t limit, std::span<const int64_t> skip) {
  if (options_.window == 0) {
    // No window: every row goes to the broker at once, so there is nothing
    // to order; the plain oldest-first read costs least. Its queues still
    // report a window that is never full, for panels and alert rules.
    auto items = store_.FetchOutbox(limit, skip);
    for (const auto& item : items) {
      if (!item.envelope.queue.empty() && queues_.insert(item.envelope.queue).second)
        metrics_.DispatchWindowFull(item.envelope.queue, false);
    }
    return items;
  }
  HandBackIdleLanes();
  DispatchRequest request;
  request.limit = limit;
  request.bounded = options_.window > 0;
  request.default_aging_ms = options_.default_aging.count();
  for (const auto& [queue, aging] : options_.aging) request.aging_ms[queue] = aging.count();
  request.skip.assign(skip.begin(), skip.end());
  request.in_broker = in_broker_;
  request.in_broker_ahead.assign(ahead_.begin(), ahead_.end());
  drained_ = false;
  if (request.bounded) {
    std::erase_if(counted_, [](const auto& c) { return SteadyClock::now() - c.second.at > kRecount; });
    for (const auto& queue : queues_) {
      if (!EstimateRoom(queue, request)) CountRoom(queue, request);
    }
    // A queue whose rows the last pass took all of has a room too, so
    // that its new rows need no second fetch.
    for (const auto& [queue, counted] : counted_) {
      if (!request.room.contains(queue)) EstimateRoom(queue, request);
    }
  }
  // The marks as the counts left them (a queue seen empty has none).
  auto fetch = [&] {
    request.marks.clear();
    for (const auto& [queue, marks] : marks_) {
      for (const auto& [published, mark] : marks) request.marks[queue].push_back(mark);
    }
    return store_.FetchDispatch(request);
  };
  DispatchResult result = fetch();
  if (!result.unknown_queues.empty()) {
    // New queues in the outbox: count them too, and ask again.
    for (const auto& queue : result.unknown_queues) CountRoom(queue, request);
    result = fetch();
  }
  in_broker_ = std::move(result.in_broker);
  ForgetAheadNotInBroker();
  Mark(request, result.items);
  RouteExpress(result.items, result.top_priority);
  held_.clear();
  held_.insert(result.held_queues.begin(), result.held_queues.end());
  backlog_ = std::move(result.backlog);
  // The queues worth counting next time: those with rows now.
  std::set<std::string> queues(result.full_queues.begin(), result.full_queues.end());
  queues.insert(result.held_queues.begin(), result.held_queues.end());
  std::map<std::string, uint64_t> aged;
  for (const auto& item : result.items) {
    if (!item.envelope.queue.empty()) queues.insert(item.envelope.queue);
    if (item.publish_priority > item.envelope.priority) ++aged[item.envelope.queue];
  }
  for (const auto& [queue, n] : aged) metrics_.DispatchAged(queue, n);
  if (request.bounded) {
    std::set<std::string> full(result.full_queues.begin(), result.full_queues.end());
    // Every queue that had rows reports, full or not: a series that only
    // appears once a window fills leaves panels and alert rules blind.
    for (const auto& queue : full_) {
      if (!full.contains(queue)) metrics_.DispatchWindowFull(queue, false);
    }
    for (const auto& queue : queues) {
      if (!full.contains(queue) && !full_.contains(queue)) metrics_.DispatchWindowFull(queue, false);
    }
    for (const auto& queue : full) metrics_.DispatchWindowFull(queue, true);
    // Held at the last pass too: was the broker drained before we looked?
    if (!full.empty() && !full_.empty()) {
      poll_ = drained_ ? std::max(kMinPoll, poll_ / 2) : std::min(kMaxPoll, poll_ * 2);
    }
    full_ = std::move(full);
  }
  queues_ = std::move(queues);
  return std::move(result.items);
}

bool Dispatcher::Wanted(std::string_view payload) const {
  if (backlog_.empty()) return true;
  const size_t tab1 = payload.find('\t');
  const size_t tab2 = tab1 == std::string_view::npos ? tab1 : payload.find('\t', tab1 + 1);
  if (tab2 == std::string_view::npos) return true;
  const std::string_view digits = payload.substr(tab2 + 1);
  uint32_t priority = 0;
  const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), priority);
  if (parsed.ec != std::errc{} || parsed.ptr != digits.data() + digits.size()) return true;
  const auto it = backlog_.find({std::string(payload.substr(0, tab1)),
                                 std::string(payload.substr(tab1 + 1, tab2 - tab1 - 1))});
  return it == backlog_.end() || priority > it->second;
}

void Dispatcher::Mark(const DispatchRequest& request, std::span<const OutboxItem> items) {
  for (const auto& item : items) {
    const std::string& queue = item.envelope.queue;
    if (queue.empty() || item.publish_priority >= kMaxPriority || request.AgingOf(queue) <= 0) continue;
    // The oldest at its priority: it ages first.
    const BrokerMark mark{item.publish_priority, item.envelope.priority, item.queued_ms};
    auto [it, fresh] = marks_[queue].try_emplace(item.publish_priority, mark);
    if (!fresh && mark.queued_ms < it->second.queued_ms) it->second = mark;
  }
}

void Dispatcher::RouteExpress(std::vector<OutboxItem>& items,
                              const std::map<std::string, uint32_t>& top_priority) {
  std::map<std::string, int64_t> room;  // per queue, left for this pass
  for (auto& item : items) {
    const std::string& queue = item.envelope.queue;
    if (queue.empty()) continue;
    // Never before a higher priority: not one waiting in the outbox, nor
    // one this relay sent to the queue since it was last seen empty (the
    // items come highest first, so those of this pass count too).
    const auto sent = sent_top_.find(queue);
    const auto waiting = top_priority.find(queue);
    const uint32_t above = std::max(sent == sent_top_.end() ? 0 : sent->second,
                                    waiting == top_priority.end() ? 0 : waiting->second);
    if (item.ahead && item.publish_priority >= above) {
      auto [it, fresh] = room.try_emplace(queue, 0);
      if (fresh) it->second = LaneRoom(queue);
      if (it->second > 0) {
        --it->second;
        item.express = true;
        auto& tasks = lanes_[ExpressLane(queue)].tasks;
        if (tasks.size() < kMaxInLane) tasks.push_back(item.envelope.id);
        continue;
      }
    }
    uint32_t& top = sent_top_[queue];
    top = std::max(top, item.publish_priority);
  }
}

bool Dispatcher::CountLane(const std::string& name, Lane& lane) {
  const auto now = SteadyClock::now();
  // The fleet's express slots change with the workers: counted once a
  // second (declaring the lane the first time).
  if (lane.counted != SteadyClock::time_point{} && now - lane.counted <= kRecount) return false;
  lane.slots = static_cast<int64_t>(
      publisher_.CountQueue(name, DeadlineIn(options_.broker_timeout)).consumers);
  lane.counted = now;
  return true;
}

void Dispatcher::HandBackIdleLanes() {
  for (auto& [name, lane] : lanes_) {
    if (lane.tasks.empty() || !CountLane(name, lane)) continue;
    if (lane.slots > 0) {
      // Forget the tasks that ended: a lane with none pending is not
      // counted again until a row may take it.
      lane.tasks = store_.QueuedOrRunning(lane.tasks);
      continue;
    }
    const auto back = store_.Republish(lane.tasks);
    lane.tasks.clear();
    if (!back.empty()) metrics_.Republished(std::string(LaneOwner(name)), back.size());
  }
}

int64_t Dispatcher::LaneRoom(const std::string& queue) {
  const std::string name = ExpressLane(queue);
  Lane& lane = lanes_[name];
  CountLane(name, lane);
  if (lane.slots <= 0) return 0;
  if (!lane.tasks.empty()) lane.tasks = store_.QueuedOrRunning(lane.tasks);
  return lane.slots - static_cast<int64_t>(lane.tasks.size());
}

void Dispatcher::CountSent(const std::string& queue) {
  if (auto c = counted_.find(queue); c != counted_.end()) ++c->second.sent_since;
}

void Dispatcher::Sent(std::span<const SentTask> tasks) {
  for (const auto& t : tasks) {
    ++sending_[t.queue];
    CountSent(t.queue);
  }
}

void Dispatcher::Settled(std::span<const SentTask> tasks, bool confirmed) {
  for (const auto& t : tasks) {
    if (auto it = sending_.find(t.queue); it != sending_.end() && --it->second <= 0) sending_.erase(it);
  }
  if (!confirmed || options_.window == 0) return;
  for (const auto& t : tasks) {
    in_broker_.push_back(t.id);
    if (t.ahead) ahead_.insert(t.id);
  }
  TrimInBroker();
}

void Dispatcher::TrimInBroker() {
  if (in_broker_.size() > kMaxInBroker) {
    in_broker_.erase(in_broker_.begin(),
                     in_broker_.begin() + static_cast<std::ptrdiff_t>(in_broker_.size() - kMaxInBroker));
    ForgetAheadNotInBroker();
  }
}

void Dispatcher::ForgetAheadNotInBroker() {
  if (ahead_.empty()) return;
  const std::set<std::string> kept(in_broker_.begin(), in_broker_.end());
  std::erase_if(ahead_, [&](const std::string& id) { return !kept.contains(id); });
}

void Dispatcher::Published(std::span<const OutboxItem> items) {
  if (options_.window == 0) return;  // no usage to keep: the order is the id order
  for (const auto& item : items) {
    if (item.envelope.queue.empty()) continue;
    if (!item.express) CountSent(item.envelope.queue);
    in_broker_.push_back(item.envelope.id);
    if (item.ahead) ahead_.insert(item.envelope.id);
  }
  TrimInBroker();
}

}  // namespace fila
