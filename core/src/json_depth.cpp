#include "fila/core/json_depth.h"

#include "fila/core/errors.h"

namespace fila {

void CheckJsonDepth(std::string_view json, int max_depth, const std::string& what, const std::string& field) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        throw PermanentError(what + ": nested deeper than " + std::to_string(max_depth) + " levels", field);
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

}  // namespace fila
