#pragma once

#include <string>
#include <vector>

namespace fila::cli {

// The task types of a YAML file (`fila types apply -f FILE`): a list under
// `types:`, a bare list, or one type. Paths in it (schema.proto,
// schema.descriptor_set) are relative to the file's folder; a .proto file
// is compiled here. Returns each type as a serialized
// fila.v1.TaskTypeDefinition (checked later by SpecFromDefinition). Unknown
// keys are refused. Throws PermanentError naming the entry and the key,
// e.g. "types[1].handler.http.url".
std::vector<std::string> ReadTypeFile(const std::string& path);

}  // namespace fila::cli
