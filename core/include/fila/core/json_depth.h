#pragma once

#include <string>
#include <string_view>

namespace fila {

// How deep payloads (and API bodies, which hold one) may nest.
inline constexpr int kMaxPayloadDepth = 100;
inline constexpr int kMaxBodyDepth = kMaxPayloadDepth + 28;

// Throws PermanentError("<what>: nested deeper than N levels", field) when
// `json` opens more than `max_depth` objects or arrays at once. One pass,
// no recursion, no parse: it runs before protobuf's JSON parser, whose
// time is quadratic in the nesting of arrays in a Struct (10,000 levels:
// 3 s). Says nothing about whether `json` is well formed.
void CheckJsonDepth(std::string_view json, int max_depth, const std::string& what, const std::string& field);

}  // namespace fila
