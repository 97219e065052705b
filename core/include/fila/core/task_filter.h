#pragma once

// The console's task filters (GET /v1/tasks, /v1/tasks:errors, POST
// /v1/bulk): the payload condition `where` and its checks. Pure: no I/O.

#include <string>
#include <string_view>

#include "fila/core/store_types.h"

namespace fila {

// Longest `where` text and deepest path accepted.
inline constexpr size_t kMaxWhereLength = 1024;
inline constexpr size_t kMaxWherePath = 16;

// Parses `args.a.b = "text"` (or != ): a dotted path of identifiers
// ([A-Za-z_][A-Za-z0-9_]*, at most kMaxWherePath below `args`), then = or
// !=, then one JSON scalar (a string, a number, true, false or null).
// One left-to-right scan, no recursion whatever the input. Throws
// PermanentError (field "where") saying what is wrong and where.
PayloadWhere ParseWhere(std::string_view text);

// The JSON object that a payload matching `where` (with =) contains:
// {"a":{"b":"text"}}. Built without recursion.
std::string ContainmentJson(const PayloadWhere& where);

// The condition written back as text, for audit entries and errors.
std::string ToString(const PayloadWhere& where);

}  // namespace fila
