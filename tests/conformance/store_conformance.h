#pragma once

// The store contract, written once and run against every store
// (store_conformance_test.cpp): each store's binary instantiates
// StoreConformance with a factory of its harness.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "fila/core/state_store.h"

namespace fila::test {

// One empty store under test.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual StateStore& Store() = 0;
  // Lets `duration` pass for the store: a fake clock moves, or the test
  // sleeps (a real database's clock). Keep durations short.
  virtual void Advance(std::chrono::milliseconds duration) = 0;
  // Whether Advance is free (a fake clock): the tests that need minutes
  // to pass run only then.
  virtual bool ControlsTime() const = 0;
  // Sets a tenant's weight as operators do (fila tenants set --weight).
  virtual void SetTenantWeight(const std::string& tenant, int64_t weight) = 0;
};

struct StoreKind {
  std::string name;  // the parameter's name in test names: memory, postgres
  std::function<std::unique_ptr<StoreHarness>()> make;
};

// gtest prints the parameter by this (not as raw bytes).
inline void PrintTo(const StoreKind& kind, std::ostream* os) { *os << kind.name; }

class StoreConformance : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { harness_ = GetParam().make(); }
  StateStore& store() { return harness_->Store(); }
  void Advance(std::chrono::milliseconds d) { harness_->Advance(d); }
  bool ControlsTime() const { return harness_->ControlsTime(); }
  void SetTenantWeight(const std::string& tenant, int64_t weight) {
    harness_->SetTenantWeight(tenant, weight);
  }

 private:
  std::unique_ptr<StoreHarness> harness_;
};

inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param.name;
}

}  // namespace fila::test
