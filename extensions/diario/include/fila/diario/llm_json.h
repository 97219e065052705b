#pragma once

// Reading what a chat model answers when asked for JSON: the answer may be
// fenced (```json ... ```), preceded by prose, or cut off at the token
// limit. Pure; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/diario/extractor.h"

namespace fila::diario {

// The JSON text inside `reply`, repaired when truncated: open strings,
// arrays and objects are closed and a dangling key or comma dropped, and an
// element that cannot be completed is cut off. nullopt when no JSON can be
// recovered.
std::optional<std::string> RecoverJson(std::string_view reply);

struct LlmDecision {
  std::string process_number;
  std::string process_class;
  std::string rapporteur;
  std::string outcome;  // the model's wording, normalised by NormaliseOutcome
  std::vector<Party> parties;
  std::vector<Lawyer> lawyers;
};

// Decisions in the model's reply: {"decisions":[...]}, a bare array, or one
// object. Fields that are missing or of the wrong type are left empty.
std::vector<LlmDecision> ParseLlmDecisions(std::string_view reply);

}  // namespace fila::diario
