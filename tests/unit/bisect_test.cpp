// ApplyBisecting (worker/src/bisect.h): a batch the database refuses for
// one item's sake is split until that item is alone; the rest is applied.
#include "bisect.h"

#include <gtest/gtest.h>

#include <set>
#include <span>
#include <string>
#include <vector>

namespace fila {
namespace {

// A fake store: applies a batch atomically unless it holds a refused item
// (PermanentError) or the database is "down" (TransientError).
struct FakeStore {
  std::set<int> refused;
  int down_after_calls = -1;  // -1: never
  int calls = 0;
  std::vector<int> applied;

  void Apply(std::span<int> batch) {
    if (down_after_calls >= 0 && calls >= down_after_calls) throw TransientError("down");
    ++calls;
    for (int item : batch) {
      if (refused.count(item)) throw PermanentError("refused " + std::to_string(item));
    }
    applied.insert(applied.end(), batch.begin(), batch.end());
  }
};

std::vector<int> Items(int n) {
  std::vector<int> items;
  for (int i = 0; i < n; ++i) items.push_back(i);
  return items;
}

TEST(ApplyBisecting, AHealthyBatchIsOneCall) {
  FakeStore store;
  auto items = Items(100);
  size_t settled = 0;
  ApplyBisecting(
      std::span<int>(items), settled, [&](std::span<int> b) { store.Apply(b); },
      [](int&, const PermanentError&) { FAIL(); });
  EXPECT_EQ(settled, 100u);
  EXPECT_EQ(store.calls, 1);
  EXPECT_EQ(store.applied, Items(100));
}

TEST(ApplyBisecting, RefusedItemsAloneAreSetAsideAndTheRestApplied) {
  FakeStore store;
  store.refused = {17, 63};
  auto items = Items(100);
  size_t settled = 0;
  std::vector<std::string> refusals;
  ApplyBisecting(
      std::span<int>(items), settled, [&](std::span<int> b) { store.Apply(b); },
      [&](int& item, const PermanentError& e) {
        refusals.push_back(std::to_string(item) + ": " + e.what());
      });
  EXPECT_EQ(settled, 100u);
  EXPECT_EQ(refusals, (std::vector<std::string>{"17: refused 17", "63: refused 63"}));
  std::vector<int> expected;
  for (int i : Items(100)) {
    if (i != 17 && i != 63) expected.push_back(i);
  }
  EXPECT_EQ(store.applied, expected) << "in order, each once";
  EXPECT_LE(store.calls, 1 + 2 * 2 * 7) << "about 2 log2(n) calls per refused item";
}

TEST(ApplyBisecting, ATransientErrorStopsWithTheSettledPrefixCounted) {
  FakeStore store;
  store.refused = {10};
  store.down_after_calls = 4;  // the first calls split down to item 10, then the database goes
  auto items = Items(64);
  size_t settled = 0;
  EXPECT_THROW(ApplyBisecting(
                   std::span<int>(items), settled, [&](std::span<int> b) { store.Apply(b); },
                   [](int&, const PermanentError&) {}),
               TransientError);
  ASSERT_LT(settled, items.size());
  // Everything before `settled` was applied or refused; nothing after it.
  for (int i : store.applied) EXPECT_LT(static_cast<size_t>(i), settled);
  EXPECT_EQ(store.applied.size() + (settled > 10 ? 1 : 0), settled);
}

TEST(ApplyBisecting, AnErrorOfTheRefusalHandlerPropagates) {
  FakeStore store;
  store.refused = {3};
  auto items = Items(8);
  size_t settled = 0;
  EXPECT_THROW(
      ApplyBisecting(
          std::span<int>(items), settled, [&](std::span<int> b) { store.Apply(b); },
          [](int&, const PermanentError&) { throw TransientError("quarantine write failed"); }),
      TransientError);
  EXPECT_EQ(settled, 3u) << "items 0-2 applied; 3 and after to be retried";
}

}  // namespace
}  // namespace fila
