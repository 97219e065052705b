#pragma once

// A ListFilter as a SQL condition on `tasks t` with numbered parameters
// (never text of the input in the SQL): the task list, the counts, the
// error groups and the bulk jobs share it. Built per query, not prepared,
// so that each query gets a plan for its own filter (and its index).

#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila::pg {

struct FilterSql {
  std::string where = "true";       // a condition on tasks t
  std::vector<std::string> params;  // $1.. in order
  // Adds a parameter; returns its placeholder.
  std::string Add(std::string value);
};

// `default_states`: used when the filter names no state.
FilterSql BuildFilter(const ListFilter& filter, const std::vector<TaskState>& default_states = {});

}  // namespace fila::pg
