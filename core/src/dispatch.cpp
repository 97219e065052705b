#include "fila/core/dispatch.h"

#include <algorithm>
#include <limits>
#include <set>

namespace fila {

uint32_t EffectivePriority(uint32_t priority, int64_t wait_ms, int64_t aging_ms) {
  if (priority >= kMaxPriority) return kMaxPriority;
  if (aging_ms <= 0 || wait_ms <= 0) return priority;
  const int64_t raised = wait_ms / aging_ms;
  return static_cast<uint32_t>(std::min<int64_t>(kMaxPriority, priority + raised));
}

int64_t DispatchRequest::AgingOf(const std::string& queue) const {
  auto it = aging_ms.find(queue);
  return it == aging_ms.end() ? default_aging_ms : it->second;
}

DispatchPlan PlanDispatch(
    const DispatchRequest& request, const std::vector<DispatchGroup>& groups,
    const std::map<std::pair<std::string, std::string>, TenantShare>& shares, int64_t now_ms) {
  struct Candidate {
    uint32_t eff = 0;
    int64_t reached_ms = 0;  // when the next row reached eff
    size_t next = 0;         // the next row's index in the group
    int64_t left = 0;
    int64_t* usage = nullptr;
    int64_t weight = 1;
    int64_t* room = nullptr;
  };
  std::map<std::pair<std::string, std::string>, int64_t> usage;
  std::map<std::string, int64_t> room;
  std::vector<Candidate> c(groups.size());
  // Aging lets a task catch up with higher priorities waiting in its
  // queue, never pass them: capped at the highest base priority waiting,
  // so one tenant's old backlog does not overtake another tenant's tasks
  // of the same priority (there, usage / weight decides).
  DispatchPlan plan;
  std::map<std::string, uint32_t>& top = plan.top_priority;
  for (const DispatchGroup& g : groups) top[g.queue] = std::max(top[g.queue], g.priority);
  for (size_t i = 0; i < groups.size(); ++i) {
    const DispatchGroup& g = groups[i];
    const auto key = std::pair{g.queue, g.tenant};
    auto share = shares.find(key);
    auto [u, fresh] = usage.try_emplace(key, share == shares.end() ? 0 : share->second.usage);
    c[i].usage = &u->second;
    c[i].weight = share == shares.end() ? 1 : std::max<int64_t>(1, share->second.weight);
    c[i].left = g.rows;
    int64_t r = std::numeric_limits<int64_t>::max();
    if (request.bounded) {
      auto it = request.room.find(g.queue);
      r = it == request.room.end() ? 0 : std::max<int64_t>(0, it->second);
    }
    c[i].room = &room.try_emplace(g.queue, r).first->second;
  }
  // The next row's effective priority, and when it reached it.
  auto rank = [&](size_t i) {
    const DispatchGroup& g = groups[i];
    const int64_t created = g.created_ms.empty()
                                ? g.head_created_ms
                                : g.created_ms[std::min(c[i].next, g.created_ms.size() - 1)];
    const int64_t aging = request.AgingOf(g.queue);
    c[i].eff = std::min(top[g.queue], EffectivePriority(g.priority, now_ms - created, aging));
    c[i].reached_ms = created + static_cast<int64_t>(c[i].eff - g.priority) * std::max<int64_t>(aging, 0);
  };
  for (size_t i = 0; i < groups.size(); ++i) rank(i);
  // Per queue, the effective priorities held back for marked messages
  // (bit e: priority e).
  std::map<std::string, uint32_t> held;
  for (const auto& [queue, marks] : request.marks) {
    const auto t = top.find(queue);
    if (t == top.end()) continue;  // no rows: nothing to hold
    for (const BrokerMark& m : marks) {
      const uint32_t eff =
          std::min(t->second, EffectivePriority(m.priority, now_ms - m.queued_ms, request.AgingOf(queue)));
      for (uint32_t e = m.published + 1; e <= eff; ++e) held[queue] |= 1u << e;
    }
  }
  auto held_back = [&](size_t i) {
    const auto it = held.find(groups[i].queue);
    return it != held.end() && (it->second >> c[i].eff & 1u) != 0;
  };
  std::set<std::string> holding;
  // Is a served before b?
  auto before = [&](size_t a, size_t b) {
    if (c[a].eff != c[b].eff) return c[a].eff > c[b].eff;
    // usage_a / weight_a < usage_b / weight_b, without division
    const int64_t lhs = *c[a].usage * c[b].weight, rhs = *c[b].usage * c[a].weight;
    if (lhs != rhs) return lhs < rhs;
    const bool aged_a = c[a].eff > groups[a].priority, aged_b = c[b].eff > groups[b].priority;
    if (aged_a != aged_b) return aged_a;
    if (c[a].reached_ms != c[b].reached_ms) return c[a].reached_ms < c[b].reached_ms;
    return groups[a].head_id < groups[b].head_id;
  };
  // The queues' totals for `ahead`, over the tenants with rows or usage
  // there; only where two tenants or more have rows, or one has rows and
  // another is served there (its tasks run, or its ahead messages wait):
  // the rows of a tenant alone in the outbox would otherwise wait behind
  // the other's ready messages, which a window not full yet never holds
  // back.
  struct Total {
    int64_t serving = 0;
    int64_t weight = 0;
    std::set<std::string> tenants;
  };
  std::map<std::pair<std::string, std::string>, int64_t> serving;
  std::map<std::string, Total> totals;
  for (const DispatchGroup& g : groups) totals[g.queue].tenants.insert(g.tenant);
  for (const auto& [key, share] : shares) {
    if (share.serving <= 0) continue;
    if (auto it = totals.find(key.first); it != totals.end()) it->second.tenants.insert(key.second);
  }
  std::erase_if(totals, [](const auto& entry) { return entry.second.tenants.size() < 2; });
  for (const auto& [key, share] : shares) {
    if (auto it = totals.find(key.first); it != totals.end()) it->second.tenants.insert(key.second);
  }
  for (auto& [queue, total] : totals) {
    for (const auto& tenant : total.tenants) {
      const auto key = std::pair{queue, tenant};
      const auto share = shares.find(key);
      const int64_t s = share == shares.end() ? 0 : share->second.serving;
      serving[key] = s;
      total.serving += s;
      total.weight += share == shares.end() ? 1 : std::max<int64_t>(1, share->second.weight);
    }
  }
  // serving / weight < total serving / total weight, without division:
  // where tenants compete, is the tenant of group i below its share?
  auto below_share = [&](size_t i) {
    const auto it = totals.find(groups[i].queue);
    if (it == totals.end()) return false;
    const int64_t mine = serving[{groups[i].queue, groups[i].tenant}];
    return mine * it->second.weight < it->second.serving * c[i].weight;
  };
  std::vector<DispatchPick>& picks = plan.picks;
  // Groups are few (queues x priorities x tenants with waiting rows) and a
  // pass takes a few hundred rows: a scan per row is cheap enough.
  while (picks.size() < request.limit) {
    size_t best = groups.size();
    for (size_t i = 0; i < groups.size(); ++i) {
      if (c[i].left <= 0) continue;
      // Past a full window only a tenant below its share: its row goes
      // ahead, before the ready messages that fill the window, and
      // waiting for room would put it behind them after all.
      if (*c[i].room <= 0 && !below_share(i)) continue;
      if (held_back(i)) {
        holding.insert(groups[i].queue);
        continue;
      }
      if (best == groups.size() || before(i, best)) best = i;
    }
    if (best == groups.size()) break;
    // Ahead: its tenant is below its share, or aging raised it (it goes
    // before the messages born at its priority in the broker too).
    bool ahead = c[best].eff > groups[best].priority || below_share(best);
    if (auto it = totals.find(groups[best].queue); ahead && it != totals.end()) {
      ++serving[{groups[best].queue, groups[best].tenant}];
      ++it->second.serving;
    }
    picks.push_back({best, c[best].eff, ahead});
    --c[best].left;
    --*c[best].room;
    ++*c[best].usage;
    ++c[best].next;
    rank(best);
  }
  if (request.bounded) {
    std::set<std::string> full;
    for (size_t i = 0; i < groups.size(); ++i) {
      if (c[i].left <= 0) continue;
      uint32_t& backlog = plan.backlog[{groups[i].queue, groups[i].tenant}];
      backlog = std::max(backlog, groups[i].priority);
      // A queue without a room entry is unknown (its ready count was not
      // read), not full.
      if (*c[i].room <= 0 && request.room.contains(groups[i].queue)) full.insert(groups[i].queue);
    }
    plan.full_queues.assign(full.begin(), full.end());
  }
  plan.held_queues.assign(holding.begin(), holding.end());
  return plan;
}

uint32_t DispatchPlan::PublishPriority(const std::string& queue, uint32_t priority,
                                       int64_t wait_ms, int64_t aging_ms) const {
  const auto it = top_priority.find(queue);
  const uint32_t raised = EffectivePriority(priority, wait_ms, aging_ms);
  return it == top_priority.end() ? raised : std::max(priority, std::min(it->second, raised));
}

}  // namespace fila
