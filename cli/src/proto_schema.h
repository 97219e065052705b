#pragma once

#include <string>

namespace fila::cli {

// Compiles `proto_file` (a .proto path relative to `base_dir`) with
// libprotoc's importer, imports resolved from `base_dir` and from the
// system's protobuf include folder (well-known types), into a serialized
// google.protobuf.FileDescriptorSet holding the file and every file it
// imports, dependencies first. Throws PermanentError (field "schema.proto")
// with the compiler's first error, file and line.
std::string CompileProtoSchema(const std::string& base_dir, const std::string& proto_file);

}  // namespace fila::cli
