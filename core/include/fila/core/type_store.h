#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fila/core/task_types.h"

namespace fila {

// Where registered task types live (definitions: type_definition.h), every
// version of each. Thread-safe.
class TypeStore {
 public:
  virtual ~TypeStore() = default;
  // Registers a checked definition (SpecFromDefinition): a new version when
  // it differs from the latest (or the type was deleted), else nothing.
  // Returns the stored definition (with its version and time) and whether
  // it is new.
  virtual std::pair<std::string, bool> Apply(const std::string& definition) = 0;
  // Every version of every type, deleted ones too.
  virtual std::vector<std::string> All() = 0;
  // The versions of one type, oldest first; empty when there is none.
  virtual std::vector<std::string> Versions(const std::string& name) = 0;
  // Marks the type deleted: no new task, queued ones still run. False when
  // there is no such type (or it is deleted already).
  virtual bool Delete(const std::string& name) = 0;
};

// The specs of every stored version. A definition that no longer checks
// (it was stored by a newer fila, say) is left out and reported through
// `skipped` (its name, version and why).
std::vector<TaskTypeSpec> LoadRegisteredTypes(TypeStore& store, std::vector<std::string>* skipped = nullptr);

// Which definitions a listing shows.
struct TypeQuery {
  std::string name;       // empty: every type
  uint32_t version = 0;   // one version of `name`; 0: the latest
  bool all_versions = false;
};

// The definitions `query` selects, serialized: the compiled-in types of
// `builtin` first (version 0, read only), then the registered ones of
// `store`, by name and version.
std::vector<std::string> ListDefinitions(const TaskTypes& builtin, TypeStore& store, const TypeQuery& query);

// Checks a definition an operator registers: SpecFromDefinition, and its
// name is not compiled in. Throws PermanentError naming the field.
TaskTypeSpec CheckRegistration(std::string_view definition, const TaskTypes& builtin);

}  // namespace fila
