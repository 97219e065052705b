#pragma once

// How the worker's database work went last, per part, for readiness. Each
// part is written by the one thread doing that work.

#include <optional>
#include <string>
#include <utility>

#include "fila/core/readiness.h"

namespace fila {

struct DatabaseHealth {
  PartHealth claims;      // the consumer thread's claims
  PartHealth finishes;    // the finisher's commits
  PartHealth heartbeats;  // the heartbeat thread's

  // Nullopt when every part's last attempt worked; else the first failing
  // one, since when and why ("finish: failing for 3 s: ...").
  std::optional<std::string> Problem() const {
    for (const auto& [part, health] :
         {std::pair{"claim", &claims}, std::pair{"finish", &finishes},
          std::pair{"heartbeat", &heartbeats}}) {
      if (auto problem = health->Problem()) return std::string(part) + ": " + *problem;
    }
    return std::nullopt;
  }
};

}  // namespace fila
