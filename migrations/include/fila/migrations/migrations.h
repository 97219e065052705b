#pragma once

#include <string_view>
#include <vector>

namespace fila {

// One schema change, applied in one transaction.
struct Migration {
  int version;
  std::string_view name;
  std::string_view up_sql;
  std::string_view down_sql;
};

// Every migration under migrations/ and extensions/*/migrations/, in
// version order, compiled in.
const std::vector<Migration>& Migrations();

}  // namespace fila
