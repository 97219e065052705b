#pragma once

#include <string>
#include <string_view>

#include "fila/core/task_types.h"

namespace fila {

// Task types as data. A definition is a serialized fila.v1.TaskTypeDefinition
// (proto/fila/v1/types.proto): what operators register (`fila types apply`,
// PUT /v1/types/{name}) and what the database stores per version.

// The type a definition describes, checked: its name, queue, schema (the
// descriptor set builds and holds the message), handler (an http(s) URL, or
// a command), limits and defaults. Throws PermanentError naming the field
// ("name", "schema.proto.message", "handler.http.url", ...).
TaskTypeSpec SpecFromDefinition(std::string_view definition);

// The definition of any type, compiled-in ones too (for listing them the
// same way), serialized.
std::string DefinitionOf(const TaskTypeSpec& spec);

// Whether two definitions describe the same type, leaving out what fila
// sets (version, creation time, deleted): applying an unchanged definition
// makes no new version.
bool SameDefinition(std::string_view a, std::string_view b);

// A definition with fila's fields set: its version and creation time.
std::string StampDefinition(std::string_view definition, uint32_t version, int64_t created_at_ms, bool deleted);

}  // namespace fila
