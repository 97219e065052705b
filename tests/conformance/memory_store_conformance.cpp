// The store contract on the in-memory store, with a fake clock: no servers.
#include <atomic>

#include "fila/core/clock.h"
#include "fila/store_memory/memory_store.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

class MemoryHarness final : public StoreHarness {
 public:
  MemoryHarness() : now_(NowUnixMs()), store_([this] { return now_.load(); }) {}
  StateStore& Store() override { return store_; }
  void Advance(std::chrono::milliseconds d) override { now_ += d.count(); }
  bool ControlsTime() const override { return true; }
  void SetTenantWeight(const std::string& tenant, int64_t weight) override {
    store_.SetTenantWeight(tenant, weight);
  }

 private:
  std::atomic<int64_t> now_;
  MemoryStore store_;
};

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
                         ::testing::Values(StoreKind{"memory", [] {
                           return std::unique_ptr<StoreHarness>(new MemoryHarness);
                         }}),
                         StoreKindName);

}  // namespace
}  // namespace fila::test
