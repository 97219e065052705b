// The one list of fila's own job kinds: a kind is a folder under
// extensions/ (docs/extensions.md) and one line here.
#include "fila/extensions/extensions.h"

#include "fila/diario/extension.h"
#include "fila/document/extension.h"
#include "fila/nfe/extension.h"

namespace fila {

std::vector<Extension> BuiltinExtensions() {
  return {
      document::Extension(),
      nfe::Extension(),
      diario::Extension(),
  };
}

}  // namespace fila
