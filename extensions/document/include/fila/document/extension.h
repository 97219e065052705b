#pragma once

#include "fila/core/extension.h"

namespace fila::document {

// document.ingest (docs/document-ingest.md): its type (queue "document"),
// the binding kind document_root, the handler and `fila search`.
fila::Extension Extension();

}  // namespace fila::document
